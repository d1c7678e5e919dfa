"""In Chromium: a support agent, on the ticket page, starts a reply from a canned response, attaches
a file and sends it without a reload (the contact gets the email); then writes an internal note,
shown apart and never emailed. Playwright on Debian's Chromium (crm/tests/browser/conftest.py)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import Account
from contacts.models import Contact
from crm.celery import app
from crm.core.models import User
from support.models import CannedResponse, Comment, Ticket
from support.services.tickets import ticket_create

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


@pytest.fixture(autouse=True)
def _eager_tasks_and_media(settings, tmp_path, monkeypatch):
    """Tasks run in place (the reply's email lands in the outbox); uploads go to a temp dir."""
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def ticket(transactional_db) -> Ticket:
    agent = User.objects.create_user(
        username="lucia",
        password=PASSWORD,
        first_name="Lucía",
        last_name="Hernández",
        role="soporte",
    )
    rep = User.objects.create_user(username="laura", password=PASSWORD, role="vendedor")
    account = Account.objects.create(name="Papelería Guadalupe", owner=rep)
    contact = Contact.objects.create(
        first_name="Martín",
        last_name="Salgado",
        email="martin@papeleriaguadalupe.mx",
        account=account,
        owner=rep,
    )
    CannedResponse.objects.create(
        title="Garantía: recolección",
        body="Hola {nombre}, pasaremos a recoger el equipo de la incidencia {numero}.",
        category=Ticket.Category.WARRANTY,
    )
    return ticket_create(
        actor=agent,
        account=account,
        contact=contact,
        subject="La impresora no enciende",
        category=Ticket.Category.WARRANTY,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )


def test_agent_replies_from_a_canned_response_and_writes_a_note(page: Page, ticket, tmp_path):
    page.goto("/entrar/")
    page.fill("input[name=username]", "lucia")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page).not_to_have_url(re.compile("/entrar/"))

    page.goto(ticket.get_absolute_url())
    conversation = page.locator(f"#conversation-{ticket.pk}")
    expect(conversation.get_by_text("Todavía no hay mensajes.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    body = conversation.locator("textarea[name=body]")
    body.fill("Buenos días.")
    conversation.get_by_label("Respuesta predefinida").select_option(label="Garantía: recolección")
    expect(body).to_have_value(
        f"Buenos días.\n\nHola Martín, pasaremos a recoger el equipo de la incidencia "
        f"{ticket.number}."
    )
    receipt = tmp_path / "orden de servicio.pdf"
    receipt.write_bytes(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
    conversation.locator("input[type=file]").set_input_files(str(receipt))
    conversation.get_by_role("button", name="Enviar").click()

    expect(conversation).to_contain_text("se está enviando a martin@papeleriaguadalupe.mx")
    reply = conversation.locator("[data-kind=respuesta]")
    expect(reply).to_contain_text("pasaremos a recoger el equipo")
    expect(reply.get_by_role("link", name=re.compile("orden de servicio.pdf"))).to_be_visible()
    (message,) = mail.outbox
    assert message.subject == f"[{ticket.number}] La impresora no enciende"
    assert message.attachments[0][0] == "orden de servicio.pdf"

    conversation.get_by_text("Nota interna", exact=True).click()
    conversation.locator("textarea[name=body]").fill("Garantía vigente hasta marzo de 2027.")
    conversation.get_by_role("button", name="Enviar").click()
    note = conversation.locator("[data-kind=nota]")
    expect(note).to_contain_text("Garantía vigente hasta marzo de 2027.")
    expect(note.locator(".bg-warning-subtle")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert len(mail.outbox) == 1
    assert list(Comment.objects.values_list("kind", flat=True)) == ["respuesta", "nota"]
