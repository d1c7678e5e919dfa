"""The forecast against a small data set computed by hand (company currency MXN).

Period 2025-Q2 (1 Apr – 30 Jun 2025, America/Mexico_City); rates on 30 Jun 2025:
USD 17, EUR 21 (20 until 14 Jun), COP none.

rep: quotas Apr 100,000 + May 100,000 + Jun 150,000 = 350,000 (March's does not count)
  won   120,000 MXN (10 May)                           -> 120,000
  won     5,000 USD (30 Jun 23:00 local)               ->  85,000
  won    50,000 MXN (1 Jul 00:30 local: next quarter)  ->       —
  lost   70,000 MXN (in the period)                    ->       —
  open   40,000 MXN Propuesta 50 %, commit             -> commit 40,000, weighted 20,000
  open    1,000 EUR Negociación 75 %, best case        -> best case 21,000, weighted 15,750
  open   10,000 MXN Prospección 10 %, pipeline         -> pipeline 10,000, weighted 1,000
  open   30,000 MXN Calificación, commit, closes 1 Jul ->       —
  open 1,000,000 COP commit (no rate)                  -> left out, listed in the warning
  => won 205,000; commit 40,000; best case 21,000; pipeline 10,000; open 71,000;
     weighted 36,750; forecast 245,000; attainment 58.6 %; gap 145,000.
manager: won 10,000 MXN, no quota.  Team: quota 350,000, won 215,000, attainment 61.4 %.
other_rep (another team): won 999,000 MXN, never in the manager's forecast.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from opportunities.models import (
    ExchangeRate,
    ForecastAdjustment,
    ForecastCategory,
    Opportunity,
    Quota,
)
from opportunities.money import Rates
from opportunities.selectors.forecast import (
    Period,
    deals_totals,
    forecast_deals,
    forecast_for,
    period_parse,
)
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.django_db

MX = ZoneInfo("America/Mexico_City")
Q2 = Period("quarter", 2025, 2)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=MX)


def won(owner, amount, currency, closed_at, **kwargs):
    return OpportunityFactory(
        owner=owner,
        stage=stage("Ganada"),
        amount=Decimal(amount),
        currency=currency,
        closed_at=closed_at,
        expected_close_date=closed_at.date(),
        forecast_category=ForecastCategory.CLOSED,
        **kwargs,
    )


def open_deal(owner, amount, currency, stage_name, category, close, **kwargs):
    return OpportunityFactory(
        owner=owner,
        stage=stage(stage_name),
        amount=Decimal(amount),
        currency=currency,
        forecast_category=category,
        expected_close_date=close,
        **kwargs,
    )


def build_data_set(rep, manager, other_rep) -> dict:
    """The hand-computed data set of this module's docstring (shared with the view tests)."""
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=date(2020, 1, 1))
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("20"), valid_from=date(2020, 1, 1))
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("21"), valid_from=date(2025, 6, 15))
    for month, amount in ((3, "999999"), (4, "100000"), (5, "100000"), (6, "150000")):
        Quota.objects.create(owner=rep, month=date(2025, month, 1), amount=Decimal(amount))
    deals = {
        "won_mxn": won(rep, "120000", "MXN", at(2025, 5, 10, 12)),
        "won_usd": won(rep, "5000", "USD", at(2025, 6, 30, 23)),
        "won_next": won(rep, "50000", "MXN", at(2025, 7, 1, 0, 30)),
        "commit": open_deal(rep, "40000", "MXN", "Propuesta", "commit", date(2025, 6, 15)),
        "best": open_deal(rep, "1000", "EUR", "Negociación", "best_case", date(2025, 4, 1)),
        "pipeline": open_deal(rep, "10000", "MXN", "Prospección", "pipeline", date(2025, 5, 31)),
        "later": open_deal(rep, "30000", "MXN", "Calificación", "commit", date(2025, 7, 1)),
        "cop": open_deal(rep, "1000000", "COP", "Propuesta", "commit", date(2025, 5, 5)),
        "manager_won": won(manager, "10000", "MXN", at(2025, 4, 2, 9)),
        "other_won": won(other_rep, "999000", "MXN", at(2025, 5, 1, 9)),
    }
    lost = OpportunityFactory(
        owner=rep,
        stage=stage("Perdida"),
        amount=Decimal("70000"),
        closed_at=at(2025, 5, 20),
        expected_close_date=date(2025, 5, 20),
    )
    deals["lost"] = lost
    return deals


@pytest.fixture
def data_set(rep, manager, other_rep):
    return build_data_set(rep, manager, other_rep)


def test_periods_parse_and_bound():
    assert period_parse("2025-q2") == Q2
    assert (Q2.start, Q2.end) == (date(2025, 4, 1), date(2025, 6, 30))
    november = period_parse("2026-11")
    assert (november.start, november.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_parse("2026-Q4").next.key == "2027-Q1"
    assert period_parse("2026-01").previous.key == "2025-12"
    assert period_parse(None, today=date(2026, 8, 15)).key == "2026-Q3"
    for bad in ("2026-13", "2026-Q5", "hoy", "26-Q1"):
        with pytest.raises(ValueError):
            period_parse(bad)


def test_rep_figures_match_the_hand_computed_ones(data_set, rep):
    forecast = forecast_for(user=rep, period=Q2)
    assert [row.owner for row in forecast.rows] == [rep]
    row = forecast.rows[0]
    assert row.quota == Decimal("350000")
    assert row.won == Decimal("205000")
    assert row.commit == Decimal("40000")
    assert row.best_case == Decimal("21000")
    assert row.pipeline == Decimal("10000")
    assert row.open == Decimal("71000")
    assert row.weighted == Decimal("36750")
    assert row.forecast == Decimal("245000")
    assert row.attainment == Decimal("58.6")
    assert row.gap == Decimal("145000")
    assert row.counts["won"] == 2
    assert row.counts["open"] == 3


def test_a_currency_without_rate_is_left_out_and_listed(data_set, rep):
    forecast = forecast_for(user=rep, period=Q2)
    assert [(e.currency, e.count, e.amount) for e in forecast.excluded] == [
        ("COP", 1, Decimal("1000000"))
    ]


def test_manager_sees_the_team_and_its_total_but_not_other_teams(data_set, rep, manager):
    forecast = forecast_for(user=manager, period=Q2)
    assert {row.owner for row in forecast.rows} == {rep, manager}
    total = forecast.total
    assert total.quota == Decimal("350000")
    assert total.won == Decimal("215000")
    assert total.attainment == Decimal("61.4")
    assert total.gap == Decimal("135000")
    assert total.weighted == Decimal("36750")
    assert forecast.row_for(manager.pk).attainment is None  # no quota


def test_admin_sees_everyone(data_set, admin_user, other_rep):
    forecast = forecast_for(user=admin_user, period=Q2)
    assert forecast.row_for(other_rep.pk).won == Decimal("999000")
    assert forecast.total.won == Decimal("1214000")


def test_a_month_period(data_set, rep):
    june = forecast_for(user=rep, period=period_parse("2025-06")).rows[0]
    assert june.quota == Decimal("150000")
    assert june.won == Decimal("85000")
    assert june.commit == Decimal("40000")
    assert june.best_case == Decimal("0")


def test_latest_adjustment_is_shown_beside_the_computed_figure(data_set, rep, manager):
    for amount, note in (("230000", "primera"), ("260000", "segunda")):
        ForecastAdjustment.objects.create(
            owner=rep,
            period_start=Q2.start,
            period_end=Q2.end,
            amount=Decimal(amount),
            note=note,
            by=manager,
        )
    forecast = forecast_for(user=manager, period=Q2)
    row = forecast.row_for(rep.pk)
    assert row.forecast == Decimal("245000")
    assert row.adjusted == Decimal("260000")
    assert [a.note for a in row.adjustments] == ["segunda", "primera"]
    # The total: the rep's adjustment plus the manager's computed forecast (10,000 won).
    assert forecast.total.adjusted == Decimal("270000")
    # Another period's adjustment does not leak into this one.
    assert forecast_for(user=manager, period=Q2.next).row_for(rep.pk).adjustment is None


def test_drill_down_lists_the_deals_behind_each_figure(data_set, rep, manager):
    def names(figure, **kwargs):
        return set(forecast_deals(user=manager, period=Q2, figure=figure, **kwargs))

    d = data_set
    assert names("won") == {d["won_mxn"], d["won_usd"], d["manager_won"]}
    assert names("won", owner_id=rep.pk) == {d["won_mxn"], d["won_usd"]}
    assert names("commit") == {d["commit"], d["cop"]}
    assert names("best_case") == {d["best"]}
    assert names("pipeline") == {d["pipeline"]}
    assert names("forecast", owner_id=rep.pk) == {d["won_mxn"], d["won_usd"], d["commit"], d["cop"]}
    assert names("commit", currency="COP") == {d["cop"]}
    totals = deals_totals(
        deals=forecast_deals(user=manager, period=Q2, figure="weighted"), period=Q2, rates=Rates()
    )
    assert totals["weighted"] == Decimal("36750")
    assert [e.currency for e in totals["excluded"]] == ["COP"]


def test_drill_down_refuses_another_teams_rep(data_set, rep, other_rep):
    with pytest.raises(Opportunity.DoesNotExist):
        forecast_deals(user=rep, period=Q2, figure="won", owner_id=other_rep.pk)
    assert data_set["other_won"] not in set(forecast_deals(user=rep, period=Q2, figure="won"))


def test_forecast_is_a_constant_number_of_queries(rep, manager, django_assert_max_num_queries):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=date(2020, 1, 1))
    for i in range(60):
        won(rep if i % 2 else manager, "1000", "USD" if i % 3 else "MXN", at(2025, 5, 1 + i % 28))
        open_deal(rep, "500", "MXN", "Propuesta", "commit", date(2025, 6, 1 + i % 28))
    with django_assert_max_num_queries(5):
        forecast = forecast_for(user=manager, period=Q2)
    assert forecast.total.counts["won"] == 60
