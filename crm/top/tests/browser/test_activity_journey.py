"""A rep on a phone: log a visit from the contact's sheet in three clicks or fewer, see it in the
timeline without a reload; and "WhatsApp" logs the attempt and then opens wa.me."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Account
from contacts.models import Contact
from crm.core import panels
from crm.core.models import User
from opportunities.models import Activity

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def activities_panel():
    """The panel as the integrator registers it on the sheets (crm.core.panels)."""
    saved = {label: list(items) for label, items in panels._PANELS.items()}
    for label, url_name in (
        ("accounts.account", "opportunities:account-activities-panel"),
        ("contacts.contact", "opportunities:contact-activities-panel"),
    ):
        panels.register_panel(
            label,
            panels.Panel(key="activities", title="Actividades", url_name=url_name, order=5),
        )
    yield
    panels._PANELS.clear()
    panels._PANELS.update(saved)


@pytest.fixture
def contact(transactional_db) -> Contact:
    rep = User.objects.create_user(
        username="laura", password=PASSWORD, first_name="Laura", role="vendedor"
    )
    account = Account.objects.create(name="Distribuidora Gómez", owner=rep)
    return Contact.objects.create(
        first_name="Elena",
        last_name="Duarte",
        mobile="+525512345678",
        account=account,
        owner=rep,
    )


def log_in(page: Page, username: str) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page).not_to_have_url(re.compile("/entrar/"))


def test_rep_logs_a_visit_from_the_phone_in_three_clicks(page: Page, contact, activities_panel):
    page.set_viewport_size(PHONE)
    log_in(page, "laura")
    page.goto(contact.get_absolute_url())
    panel = page.locator("#panel-activities")
    expect(panel.get_by_text("Todavía no hay actividades.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    panel.get_by_role("link", name="Visita").click()  # 1
    form = panel.locator("form.quick-log")
    expect(form.locator("select[name=kind]")).to_have_value("visita")
    form.locator("textarea[name=outcome]").fill("Pidió muestras del catálogo 2027")
    form.get_by_role("button", name="Guardar").click()  # 2

    timeline = panel.locator(".activity-timeline")
    expect(timeline).to_contain_text("Pidió muestras del catálogo 2027")
    expect(panel.locator("form.quick-log")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    activity = Activity.objects.get()
    assert (activity.kind, activity.status, activity.contact_id) == (
        "visita",
        "hecha",
        contact.pk,
    )
    contact.refresh_from_db()
    assert contact.last_contacted_at == activity.done_at
    # Nothing on the page scrolls sideways on the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_whatsapp_logs_the_attempt_then_opens_wa_me(page: Page, contact, activities_panel):
    page.set_viewport_size(PHONE)
    page.route("https://wa.me/**", lambda route: route.fulfill(body="WhatsApp", status=200))
    log_in(page, "laura")
    page.goto(contact.get_absolute_url())
    page.locator("#panel-activities").get_by_role("button", name="WhatsApp").click()
    expect(page).to_have_url(re.compile(r"^https://wa\.me/525512345678\?text=Hola%2C%20Elena"))
    activity = Activity.objects.get()
    assert (activity.kind, activity.status) == ("whatsapp", "hecha")
