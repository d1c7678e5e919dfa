"""¿Quién llama? in Chromium: F2 from any page, a number typed in another format, the call
logged in one click, and the ticket opened prefilled (crm/tests/browser/conftest.py)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from opportunities.models import Activity

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"
MOBILE = "+525512345678"


@pytest.fixture
def caller_journey(transactional_db):
    agent = UserFactory(username="daniel", first_name="Daniel", role=Role.SOPORTE)
    agent.set_password(PASSWORD)
    agent.save()
    account = AccountFactory(name="Ferretería El Tornillo")
    contact = ContactFactory(
        owner=account.owner, account=account, first_name="Elena", phone="", mobile=MOBILE
    )
    return agent, contact


def test_f2_finds_the_caller_from_any_page_and_logs_the_call(caller_journey, page):
    """Support on the home page: F2, the number in another format, one click logs the call;
    F2 in the global search box does nothing; the page itself updates as the user types."""
    agent, contact = caller_journey
    page.goto("/entrar/")
    page.fill("input[name=username]", "daniel")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page.get_by_role("link", name="¿Quién llama?")).to_be_visible()

    page.locator("#global-search").focus()
    page.keyboard.press("F2")
    expect(page.locator("#caller-modal")).to_have_count(0)

    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("F2")
    box = page.locator("#caller-modal-q")
    expect(box).to_be_focused()
    page.keyboard.type("044 55 1234 5678")
    card = page.locator(f"#caller-contact-{contact.pk}")
    expect(card).to_contain_text("Ferretería El Tornillo")
    card.locator("input[name=outcome]").fill("Pregunta por el pedido 4471.")
    card.get_by_role("button", name="Registrar llamada").click()
    expect(page.locator(f"#caller-contact-{contact.pk}")).to_contain_text("Llamada registrada.")
    expect(page.locator(f"#caller-contact-{contact.pk}")).to_contain_text("pedido 4471")
    activity = Activity.objects.get()
    assert (activity.owner, activity.contact, activity.kind) == (agent, contact, "llamada")

    page.keyboard.press("Escape")
    expect(page.locator("#caller-modal")).to_be_hidden()
    page.keyboard.press("F2")  # again: the last number and its results are still there
    expect(box).to_have_value("044 55 1234 5678")
    card.get_by_role("link", name="Abrir incidencia").click()
    expect(page).to_have_url(
        re.compile(
            rf"/soporte/incidencias/nueva/\?contact={contact.pk}&account=\d+&channel=telefono"
        )
    )

    page.goto("/quien-llama/")
    expect(page.locator("#caller-q")).to_be_focused()
    page.keyboard.type("1234 5678")
    expect(page.locator(f"#caller-contact-{contact.pk}")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/quien-llama/\?q=1234"))
    page.keyboard.press("F2")  # on the page itself: back to its own box, no dialog
    expect(page.locator("#caller-modal")).to_have_count(0)
    expect(page.locator("#caller-q")).to_be_focused()
