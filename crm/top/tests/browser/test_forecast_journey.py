"""A sales manager's quarter in a real browser: the forecast, then its PDF with the right totals.

This quarter, in MXN: quota 3 × 100,000 = 300,000 for the rep; won 120,000 MXN + 2,000 USD at
17.50 = 155,000; commit 60,000 (Propuesta, 50 %); manager's own best case 40,000 (Negociación,
75 %). Team: won 155,000, attainment 51.7 %, gap 145,000, weighted 30,000 + 30,000 = 60,000.
"""

import importlib
import re
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import formats, timezone, translation
from playwright.sync_api import Page, expect

from crm.core.models import Role, Team, User
from crm.core.tests.pdf import pdf_text
from opportunities.models import ExchangeRate, Quota
from opportunities.selectors.forecast import current_quarter
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


def money(value: str) -> str:
    with translation.override("es"):
        text = formats.number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    return text.replace("\xa0", " ")


@pytest.fixture
def team_quarter(transactional_db) -> User:
    # A transactional test before this one may have flushed the stages the migration seeds.
    importlib.import_module("opportunities.migrations.0002_default_stages_and_cadence").seed(
        apps, None
    )
    team = Team.objects.create(name="Ventas Norte")
    manager = User.objects.create_user(
        username="ricardo", password=PASSWORD, first_name="Ricardo", role=Role.GERENTE, team=team
    )
    team.manager = manager
    team.save()
    rep = User.objects.create_user(
        username="laura", password=PASSWORD, first_name="Laura", role=Role.VENDEDOR, team=team
    )
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17.5"), valid_from=date(2020, 1, 1))
    quarter = current_quarter()
    for month in quarter.months:
        Quota.objects.create(owner=rep, month=month, amount=Decimal("100000"), set_by=manager)
    today = timezone.localdate()
    for amount, currency in (("120000", "MXN"), ("2000", "USD")):
        OpportunityFactory(
            owner=rep,
            stage=stage("Ganada"),
            amount=Decimal(amount),
            currency=currency,
            closed_at=timezone.now(),
            expected_close_date=today,
            forecast_category="closed",
        )
    OpportunityFactory(
        owner=rep,
        stage=stage("Propuesta"),
        amount=Decimal("60000"),
        forecast_category="commit",
        expected_close_date=quarter.end,
    )
    OpportunityFactory(
        owner=manager,
        stage=stage("Negociación"),
        amount=Decimal("40000"),
        forecast_category="best_case",
        expected_close_date=quarter.end,
    )
    return manager


def test_manager_opens_the_quarter_forecast_and_downloads_the_pdf(
    page: Page, team_quarter, tmp_path
):
    page.goto("/entrar/")
    page.fill("input[name=username]", "ricardo")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page.locator("#home-team-forecast")).to_be_visible()

    page.locator("#home-team-forecast").get_by_role("link", name=re.compile("previsión")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Previsión de ventas")
    expect(page.locator("#total-won")).to_have_text(re.compile(r"155\s000"))
    expect(page.locator("#forecast-table")).to_contain_text("Laura")
    expect(page.locator("canvas[data-chart=forecast]")).to_be_visible()

    with page.expect_download() as download_info:
        page.locator("#forecast-pdf").click()
    download = download_info.value
    assert download.suggested_filename == f"prevision-{current_quarter().key}.pdf"
    path = tmp_path / "prevision.pdf"
    download.save_as(path)

    text = pdf_text(path)
    assert current_quarter().label in text
    total = next(line for line in text.splitlines() if "Total del equipo" in line)
    for figure in ("300000", "155000", "145000", "60000", "40000", "215000"):
        assert money(figure) in total, (figure, total)
    assert "51,7 %" in total
