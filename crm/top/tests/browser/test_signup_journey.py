"""A visitor's sign-up in Chromium at phone width (issue 9, "Sign-up forms"): the public form
with UTM parameters, the confirmation email (from the outbox: Celery runs in place), its link,
the button that confirms; the contact exists, a subscriber of the form's owner, with the consent
granted in the ledger with the click's browser and the form's text version."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from campaigns.models import FormSubmission
from campaigns.tests.factories import SignupFormFactory, TopicFactory
from contacts.models import Consent, Contact, Lifecycle
from crm.celery import app
from crm.core.models import Role
from crm.core.tests.factories import UserFactory

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _eager_tasks(monkeypatch, settings, live_server):
    """Tasks run in place, so the confirmation lands in the outbox; links point at the server."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.SITE_URL = live_server.url


@pytest.fixture
def signup_form(transactional_db):
    rep = UserFactory(username="rep", role=Role.VENDEDOR)
    return SignupFormFactory(
        owner=rep,
        slug="ofertas",
        title="Recibe nuestras ofertas",
        topic=TopicFactory(name="Ofertas"),
        consent_text="Acepto recibir correos con ofertas de Mi Empresa.",
        consent_version="ofertas-2026-01",
    )


def test_a_visitor_on_a_phone_signs_up_and_confirms_from_the_email(
    browser, live_server, signup_form
):
    context = browser.new_context(
        base_url=live_server.url,
        locale="es-MX",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile Safari",
    )
    context.set_default_timeout(10_000)
    page: Page = context.new_page()
    try:
        page.goto("/f/ofertas/?utm_source=instagram&utm_medium=social&utm_campaign=verano")
        expect(page.locator("h1")).to_have_text("Recibe nuestras ofertas")
        # Mobile friendly: the form fits the phone's width, nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_label("Tu nombre").fill("Lucía")
        page.get_by_label("Correo electrónico").fill("Lucia.Fernandez@Ejemplo.mx")
        page.fill("input[name=company]", "Papelería El Lápiz")
        # Sent without the consent: the form answers in Spanish, and nothing is written.
        page.get_by_role("button", name="Suscribirme").click()
        expect(page.locator("#signup-public")).to_contain_text("Marca la casilla para aceptar")
        assert not Contact.objects.exists()
        page.get_by_label("Acepto recibir correos con ofertas de Mi Empresa.").check()
        page.get_by_role("button", name="Suscribirme").click()
        expect(page.locator("#signup-thanks")).to_contain_text("Te enviamos un correo")

        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["lucia.fernandez@ejemplo.mx"]
        link = re.search(r"https?://\S+/f/confirmar/\S+/", message.body).group(0)
        assert not Consent.objects.exists()  # consent counts from the click only

        page.goto(link)
        page.get_by_role("button", name="Confirmar mi suscripción").click()
        expect(page.locator("#signup-confirm")).to_contain_text("¡Suscripción confirmada!")
    finally:
        context.close()

    contact = Contact.objects.get(email="lucia.fernandez@ejemplo.mx")
    assert contact.first_name == "Lucía"
    assert contact.lifecycle == Lifecycle.SUBSCRIBER
    assert contact.owner == signup_form.owner
    submission = FormSubmission.objects.get(contact=contact)
    assert submission.status == FormSubmission.Status.CONFIRMED
    assert (submission.utm_source, submission.utm_medium, submission.utm_campaign) == (
        "instagram",
        "social",
        "verano",
    )
    grants = Consent.objects.filter(contact=contact, action=Consent.Action.GRANT)
    assert {entry.topic_id for entry in grants} == {None, signup_form.topic_id}
    for entry in grants:
        assert entry.source == Consent.Source.FORM
        assert entry.text_version == "ofertas-2026-01"
        assert "iPhone" in entry.user_agent
        assert entry.ip_address == "127.0.0.1"
