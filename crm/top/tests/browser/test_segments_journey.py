"""The builder in a real browser (Chromium, phone width): htmx swaps the conditions when the
field changes, the live count follows the edits, and the segment is saved."""

import time

import pytest
from django.db import transaction
from playwright.sync_api import expect

from campaigns.models import Segment
from campaigns.tests.factories import consenting_contact
from campaigns.views import segments as segment_views
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def phone_page(browser, live_server, transactional_db):
    """A tab at phone width on the shared Chromium of crm/tests/browser/conftest.py."""
    context = browser.new_context(
        base_url=live_server.url, locale="es-MX", viewport={"width": 375, "height": 800}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture(params=["fast", "slow"])
def server_speed(request, monkeypatch):
    """ "slow": each live count takes 0.6 s, as on a loaded server, so that the next edit lands
    while the count of the previous one is still in flight."""
    if request.param == "slow":
        render = segment_views.render

        def slow_render(request, template_name, *args, **kwargs):
            if template_name.endswith("#segment-preview"):
                time.sleep(0.6)
            return render(request, template_name, *args, **kwargs)

        monkeypatch.setattr(segment_views, "render", slow_render)
    return request.param


def test_marketing_builds_a_segment_on_a_phone(phone_page, server_speed):
    page = phone_page
    UserFactory(username="marketing1", role=Role.MARKETING)
    with transaction.atomic():  # the consent projection locks its row (live_server: no test tx)
        consenting_contact(lifecycle="mql", lead_score=70)
    ContactFactory(lifecycle="mql", lead_score=20)
    ContactFactory(lifecycle="lead", lead_score=90)

    page.goto("/entrar/")
    page.fill("input[name=username]", "marketing1")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    page.wait_for_selector("#global-search", state="attached")
    page.goto("/campanas/segmentos/nuevo/")
    page.fill("#id_name", "Leads buenos")
    page.select_option("#g0-c0-value", ["mql"])
    # Waits through locators (page.wait_for_function evaluates a string, which the
    # Content-Security-Policy refuses).
    expect(page.locator("#segment-count")).to_contain_text("2 contactos")
    assert "1 con consentimiento" in page.text_content("#segment-count")

    # A second condition: the field changes, its operators and value widget follow (htmx).
    page.click("button[value=add-condition-0]")
    # htmx binds the new rows' requests when the swap settles (20 ms later): a person cannot
    # change a field that fast, Playwright can, and the change would go unheard.
    page.wait_for_selector("#segment-builder:not(.htmx-added) #g0-c1-field")
    page.select_option("#g0-c1-field", "lead_score")
    page.wait_for_selector("#segment-builder:not(.htmx-added) #g0-c1-value2")
    page.select_option("#g0-c1-op", "gte")
    expect(page.locator("#g0-c1-value2")).to_have_count(0)
    # Typed at once, while the count asked by the operator's change may still be in flight: the
    # count follows this last edit (a request queued behind the one in flight was once dropped
    # when the answer swapped the preview out, and the count stayed at "Completa o corrige…").
    page.fill("#g0-c1-value", "50")
    page.press("#g0-c1-value", "Tab")
    expect(page.locator("#segment-count")).to_contain_text("1 contacto,")
    page.click("button[value=save]")
    page.wait_for_url("**/campanas/segmentos/*/")
    segment = Segment.objects.get(name="Leads buenos")
    assert segment.definition["groups"][0]["conditions"][1] == {
        "field": "lead_score",
        "op": "gte",
        "value": 50,
    }
    assert "Puntuación mayor o igual que 50" in page.text_content("#segment-definition")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
