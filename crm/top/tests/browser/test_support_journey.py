"""The support agent's journey of issue #4, in Chromium (crm/tests/browser/conftest.py).

A customer calls; the agent types the number in another format than the stored one, opens a
ticket from the result (prefilled with the caller), replies, resolves it with a resolution and
closes it. The customer's survey email, captured from the outbox, records a rating through its
link without anyone logging in.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.models import Comment, ContactSatisfaction, Survey, Ticket

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


@pytest.fixture(autouse=True)
def _eager_tasks(monkeypatch, settings):
    """Celery tasks run in place, so their emails land in the outbox the test reads."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.SITE_URL = "https://crm.example.mx"


@pytest.fixture
def caller(transactional_db):
    agent = UserFactory(username="daniel", first_name="Daniel", role=Role.SOPORTE)
    agent.set_password(PASSWORD)
    agent.save()
    account = AccountFactory(name="Abarrotes Don Chema")
    contact = ContactFactory(
        owner=account.owner,
        account=account,
        first_name="Rosa",
        last_name="Villanueva",
        email="rosa@donchema.mx",
        phone="",
        mobile="+525587654321",
    )
    return agent, contact


def _login(page: Page, username: str) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page).not_to_have_url(re.compile("/entrar/"))


def test_agent_finds_the_caller_opens_replies_closes_and_the_customer_rates(
    page: Page, browser, live_server, caller
):
    agent, contact = caller
    _login(page, "daniel")

    # ¿Quién llama?: the number as the customer says it, not as it is stored.
    page.goto("/quien-llama/")
    page.locator("#caller-q").type("044 55 8765 4321")
    card = page.locator(f"#caller-contact-{contact.pk}")
    expect(card).to_contain_text("Abarrotes Don Chema")
    card.get_by_role("link", name="Abrir incidencia").click()

    # The ticket form comes prefilled with the caller; the agent writes what happened.
    expect(page).to_have_url(re.compile(r"/soporte/incidencias/nueva/"))
    expect(page.locator("select[name=contact]")).to_have_value(str(contact.pk))
    page.fill("input[name=subject]", "Llegaron 3 cajas de menos en el pedido 8812")
    page.fill("textarea[name=description]", "Pidió 20 cajas de aceite; recibió 17.")
    page.get_by_role("button", name="Abrir incidencia").click()
    expect(page.locator("h1")).to_contain_text("Llegaron 3 cajas de menos")
    ticket = Ticket.objects.get()
    assert (ticket.contact, ticket.channel, ticket.status) == (contact, "telefono", "nuevo")
    assert re.fullmatch(r"INC-\d{4}-\d{6}", ticket.number)

    # A public reply: emailed to the customer with the number in the subject.
    conversation = page.locator(f"#conversation-{ticket.pk}")
    conversation.locator("textarea[name=body]").fill(
        "Hola Rosa, hoy mismo le enviamos las 3 cajas que faltaron."
    )
    conversation.get_by_role("button", name="Enviar").click()
    expect(conversation.locator("[data-kind=respuesta]")).to_contain_text("las 3 cajas")
    (reply,) = mail.outbox
    assert reply.to == ['"Rosa Villanueva" <rosa@donchema.mx>']
    assert reply.subject.startswith(f"[{ticket.number}]")

    # The first reply opened the ticket: the page's status follows without a reload.
    expect(page.locator("#ticket-badges")).to_contain_text("Abierto")
    expect(page.locator("#sla")).to_contain_text("Respondida el")

    # Resolve with the resolution, then close.
    page.locator("#ticket-moves").get_by_role("link", name="Resolver").click()
    dialog = page.locator("#move-resuelto")
    dialog.locator("textarea[name=resolution]").fill(
        "Se enviaron las 3 cajas faltantes con la guía 77120; el cliente confirmó la entrega."
    )
    dialog.get_by_role("button", name="Resolver").click()
    expect(page.locator("#ticket-moves").get_by_role("link", name="Cerrar")).to_be_visible()
    page.locator("#ticket-moves").get_by_role("link", name="Cerrar").click()
    page.locator("#move-cerrado").get_by_role("button", name="Cerrar").click()
    expect(page.locator("#ticket-moves").get_by_role("link")).to_have_count(0)
    ticket.refresh_from_db()
    assert ticket.status == "cerrado"
    assert ticket.resolution.startswith("Se enviaron las 3 cajas")
    assert (ticket.first_response_at is not None, ticket.closed_at is not None) == (True, True)
    assert Comment.objects.filter(ticket=ticket, kind="respuesta").count() == 1

    # The satisfaction survey sent on resolution: its link works without logging in.
    survey_email = next(m for m in mail.outbox if m is not reply)
    assert "rosa@donchema.mx" in survey_email.to[0]
    assert ticket.number in survey_email.subject + survey_email.body
    # One link per score, "5 — Muy satisfecho: https://…"; the customer clicks the five.
    scores = dict(
        re.findall(r"^(\d) — .*?: https://crm\.example\.mx(/\S+)$", survey_email.body, re.M)
    )
    assert sorted(scores) == ["1", "2", "3", "4", "5"]
    five = scores["5"]
    stranger = browser.new_context(base_url=live_server.url, locale="es-MX")
    try:
        customer = stranger.new_page()
        customer.goto(five)
        expect(customer).not_to_have_url(re.compile("/entrar/"))
        customer.locator("label[for=score-5]").click()
        customer.fill("textarea[name=comment]", "Muy rápidos, gracias.")
        customer.get_by_role("button", name="Enviar respuesta").click()
        expect(customer.locator("h1")).to_contain_text("¡Gracias por su respuesta!")
        survey = Survey.objects.get(ticket=ticket)
        assert (survey.score, survey.comment) == (5, "Muy rápidos, gracias.")
        assert survey.answered_at is not None
        assert ContactSatisfaction.objects.get(contact=contact).level == "muy_satisfecho"

        # The same link again changes nothing.
        customer.goto(five)
        expect(customer.locator("h1")).to_contain_text("Ya respondió esta encuesta")
        survey.refresh_from_db()
        assert survey.score == 5
    finally:
        stranger.close()

    # The agent's dashboard draws the month's CSAT (charts.js) with that 5 in it.
    page.goto("/soporte/panel/")
    expect(page.locator("#support-trend")).to_be_visible()
    # Polled inside the page (page.wait_for_function evaluates a string, which the
    # Content-Security-Policy refuses).
    assert page.evaluate(
        """async () => {
            for (let tries = 0; tries < 100; tries++) {
                if (window.Chart && Chart.getChart("support-trend")) { return true; }
                await new Promise((done) => setTimeout(done, 50));
            }
            return false;
        }"""
    )
    drawn = page.evaluate(
        "() => Chart.getChart('support-trend').data.datasets.map((set) => set.data.at(-1))"
    )
    assert drawn[0] == 5
