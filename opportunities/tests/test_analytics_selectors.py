"""Sales analytics against a hand-computed data set (period 2025-Q2, MXN, USD at 17).

rep:     won 100,000 MXN (created 1 Apr 10:00, won 11 Apr 10:00: 10 days)
         won   1,000 USD = 17,000 (created 1 Apr 10:00, won 1 May 10:00: 30 days)
         lost (5 May); a deal lost in July does not count
         -> 2 of 3 = 66.7 %, average 58,500, cycle 20.0 days
manager: won 20,000 MXN (created 1 May, won 31 May: 30 days) -> 100 %
team:    3 of 4 = 75.0 %, average 137,000 / 3 = 45,666.67, cycle 70 / 3 = 23.3 days
funnel of the 7 deals created in the period (furthest stage reached):
         Prospección 7, Calificación 6 (85.7 %), Propuesta 5 (83.3 %),
         Negociación 4 (80.0 %), Ganada 3 (75.0 %)
activities done by rep: 3 in the week of 7 Apr, 1 in the week of 30 Jun.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from opportunities.models import Activity, ExchangeRate, Opportunity, StageChange
from opportunities.selectors.analytics import sales_analytics
from opportunities.selectors.forecast import Period
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, stage

pytestmark = pytest.mark.django_db

MX = ZoneInfo("America/Mexico_City")
Q2 = Period("quarter", 2025, 2)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=MX)


def deal(owner, stage_name, created, closed=None, amount="1000", currency="MXN", history=()):
    opportunity = OpportunityFactory(
        owner=owner,
        stage=stage(stage_name),
        amount=Decimal(amount),
        currency=currency,
        closed_at=closed,
        expected_close_date=(closed or created).date(),
    )
    Opportunity.objects.filter(pk=opportunity.pk).update(created_at=created)
    previous = None
    for name in history:
        StageChange.objects.create(
            opportunity=opportunity, from_stage=previous, to_stage=stage(name), by=owner
        )
        previous = stage(name)
    return opportunity


@pytest.fixture
def data_set(rep, manager, other_rep):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=date(2020, 1, 1))
    deal(rep, "Ganada", at(2025, 4, 1, 10), at(2025, 4, 11, 10), "100000")
    deal(rep, "Ganada", at(2025, 4, 1, 10), at(2025, 5, 1, 10), "1000", "USD")
    deal(
        rep,
        "Perdida",
        at(2025, 4, 2),
        at(2025, 5, 5),
        history=("Prospección", "Calificación", "Propuesta", "Perdida"),
    )
    deal(rep, "Perdida", at(2025, 6, 1), at(2025, 7, 2), history=("Calificación", "Perdida"))
    deal(rep, "Negociación", at(2025, 6, 3))
    deal(rep, "Prospección", at(2025, 6, 4))
    deal(manager, "Ganada", at(2025, 5, 1, 10), at(2025, 5, 31, 10), "20000")
    deal(other_rep, "Ganada", at(2025, 4, 1), at(2025, 4, 20), "999999")
    for when in (at(2025, 4, 7, 9), at(2025, 4, 7, 17), at(2025, 4, 9, 12), at(2025, 6, 30, 9)):
        ActivityFactory(owner=rep, status=Activity.Status.DONE, done_at=when)
    ActivityFactory(owner=rep, planned_at=at(2025, 4, 8, 9))  # planned: not counted
    ActivityFactory(owner=other_rep, status=Activity.Status.DONE, done_at=at(2025, 4, 8, 9))


def test_win_rate_average_deal_and_cycle(data_set, manager, rep):
    data = sales_analytics(user=manager, period=Q2)
    rows = {row.owner: row for row in data["rows"]}
    assert set(rows) == {rep, manager}
    mine = rows[rep]
    assert (mine.won_n, mine.lost_n, mine.win_rate) == (2, 1, Decimal("66.7"))
    assert mine.average_deal == Decimal("58500.00")
    assert mine.cycle_days == Decimal("20.0")
    assert rows[manager].win_rate == Decimal("100.0")
    total = data["total"]
    assert (total.won_n, total.closed_n, total.win_rate) == (3, 4, Decimal("75.0"))
    assert total.average_deal == Decimal("45666.67")
    assert total.cycle_days == Decimal("23.3")


def test_funnel_from_the_stage_history(data_set, manager):
    funnel = sales_analytics(user=manager, period=Q2)["funnel"]
    assert [(s.stage.name, s.reached, s.conversion) for s in funnel] == [
        ("Prospección", 7, None),
        ("Calificación", 6, Decimal("85.7")),
        ("Propuesta", 5, Decimal("83.3")),
        ("Negociación", 4, Decimal("80.0")),
        ("Ganada", 3, Decimal("75.0")),
    ]


def test_activities_per_rep_per_week(data_set, manager, rep):
    data = sales_analytics(user=manager, period=Q2)
    assert data["weeks"][0] == date(2025, 3, 31) and data["weeks"][-1] == date(2025, 6, 30)
    mine = next(row for row in data["rows"] if row.owner == rep)
    assert mine.activities == {date(2025, 4, 7): 3, date(2025, 6, 30): 1}
    assert mine.weekly[1] == 3 and mine.weekly[-1] == 1 and sum(mine.weekly) == 4
    assert data["total"].activities_total == 4  # other_rep's visit is another team's


def test_analytics_is_a_constant_number_of_queries(
    rep, manager, client_for, django_assert_max_num_queries
):
    for i in range(40):
        day = at(2025, 4, 1) + timedelta(days=i)
        deal(rep, "Ganada", day, day + timedelta(days=5), history=("Prospección", "Ganada"))
        deal(manager, "Perdida", day, day + timedelta(days=3))
        ActivityFactory(owner=rep, status=Activity.Status.DONE, done_at=day)
    with django_assert_max_num_queries(8):
        sales_analytics(user=manager, period=Q2)
    client = client_for(manager)
    client.get(reverse("opportunities:analytics"), {"period": "2025-Q2"})
    with django_assert_max_num_queries(12):
        response = client.get(reverse("opportunities:analytics"), {"period": "2025-Q2"})
    assert response.status_code == 200
    assert "75,0 %" not in response.content.decode()  # 40 of 80 closed: 50 %
    assert "50,0 %" in response.content.decode()
