"""A rep moves a deal on the board in a real browser: drag, totals change, the move persists."""

import importlib
import re
from decimal import Decimal

import pytest
from django.apps import apps
from playwright.sync_api import Page, expect

from accounts.tests.factories import AccountFactory
from crm.core.models import User
from opportunities.models import Opportunity, StageChange
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


@pytest.fixture(autouse=True)
def default_stages(transactional_db):
    """The Spanish stages the migrations seed (a live-server test flushes them after each test)."""
    migration = importlib.import_module("opportunities.migrations.0002_default_stages_and_cadence")
    migration.seed(apps, None)


@pytest.fixture
def sales_rep(transactional_db) -> User:
    return User.objects.create_user(
        username="laura",
        password=PASSWORD,
        first_name="Laura",
        last_name="Méndez Ríos",
        role="vendedor",
    )


def log_in(page: Page, user: User) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page.locator("#global-search")).to_be_visible()


def head(page: Page, stage_name: str):
    return page.locator(f"#column-head-{stage(stage_name).pk}")


def drag(page: Page, source, target) -> None:
    """A real pointer drag (SortableJS listens to the pointer, not to a synthetic drop)."""
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + 30, steps=5)
    goal = target.bounding_box()
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 30, steps=20)
    page.mouse.up()


def test_rep_drags_a_deal_to_the_next_stage_and_the_totals_follow(page: Page, sales_rep):
    account = AccountFactory(owner=sales_rep, name="Ferretería Bustamante")
    deal = OpportunityFactory(
        owner=sales_rep, account=account, name="Renovación 2026", amount=Decimal("120000")
    )
    OpportunityFactory(owner=sales_rep, account=account, name="Piloto", amount=Decimal("30000"))
    log_in(page, sales_rep)

    page.goto("/ventas/")
    expect(head(page, "Prospección")).to_contain_text("150\xa0000 MXN")
    expect(head(page, "Prospección").locator(".column-count")).to_have_text("2")
    expect(head(page, "Calificación").locator(".column-count")).to_have_text("0")

    card = page.locator(f"#card-{deal.pk}")
    target = page.locator(f'.board-cards[data-stage-id="{stage("Calificación").pk}"]')
    drag(page, card, target)

    expect(target.locator(f"#card-{deal.pk}")).to_be_visible()
    expect(head(page, "Calificación").locator(".column-count")).to_have_text("1")
    expect(head(page, "Calificación")).to_contain_text("120\xa0000 MXN")
    expect(head(page, "Prospección")).to_contain_text("30\xa0000 MXN")
    expect(page.locator("#board-message")).to_contain_text("pasa a Calificación")
    deal.refresh_from_db()
    assert deal.stage == stage("Calificación")
    assert StageChange.objects.get(opportunity=deal).by == sales_rep

    page.reload()
    expect(target.locator(f"#card-{deal.pk}")).to_be_visible()
    expect(head(page, "Calificación").locator(".column-count")).to_have_text("1")


def test_losing_a_deal_asks_for_the_reason_and_cancelling_springs_it_back(page: Page, sales_rep):
    deal = OpportunityFactory(owner=sales_rep, name="Licitación", amount=Decimal("50000"))
    log_in(page, sales_rep)
    page.goto("/ventas/")
    lost = stage("Perdida")

    # The phone's way: the card's select. Cancelling the reason puts the card back.
    page.locator(f"#move-{deal.pk}").select_option(str(lost.pk))
    modal = page.locator("#lost-reason-modal")
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Cancelar").click()
    expect(modal).to_be_hidden()
    expect(page.locator(f"#move-{deal.pk}")).to_have_value(str(stage("Prospección").pk))
    assert Opportunity.objects.get(pk=deal.pk).stage == stage("Prospección")

    page.locator(f"#move-{deal.pk}").select_option(str(lost.pk))
    page.fill("#lost-reason-input", "Eligió a la competencia")
    modal.get_by_role("button", name="Marcar como perdida").click()
    column = page.locator(f'.board-cards[data-stage-id="{lost.pk}"]')
    expect(column.locator(f"#card-{deal.pk}")).to_be_visible()
    expect(head(page, "Perdida").locator(".column-count")).to_have_text("1")
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == (lost, "Eligió a la competencia")


def test_a_refused_move_springs_back_with_the_message(page: Page, sales_rep):
    deal = OpportunityFactory(owner=sales_rep, name="Sin motivo", amount=Decimal("1000"))
    log_in(page, sales_rep)
    page.goto("/ventas/")
    # Forged past the modal: the server refuses a loss without a reason.
    page.evaluate(
        """([id, stageId]) => {
            const form = document.querySelector(`#card-${id} form.board-move`);
            form.querySelector("select").value = stageId;
            document.querySelector(`.board-cards[data-stage-id="${stageId}"]`)
                .prepend(document.querySelector(`#card-${id}`));
            htmx.trigger(form, "board-move");
        }""",
        [deal.pk, stage("Perdida").pk],
    )
    expect(page.locator("#board-message")).to_contain_text(
        "Indica el motivo por el que se perdió la oportunidad."
    )
    home = page.locator(f'.board-cards[data-stage-id="{stage("Prospección").pk}"]')
    expect(home.locator(f"#card-{deal.pk}")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/ventas/$"))
    assert Opportunity.objects.get(pk=deal.pk).stage == stage("Prospección")
