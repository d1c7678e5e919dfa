"""The home per role: a rep's pipeline and quarter, a manager's team quarter and activity."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.top.dashboards import home_for
from opportunities.models import Activity, ExchangeRate, Quota
from opportunities.selectors.forecast import current_quarter
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, stage

pytestmark = pytest.mark.django_db

HOME = reverse("crm:home")


@pytest.fixture
def sales(rep, manager, other_rep):
    """This quarter: rep won 50,000 of a 150,000 quota; open deals in three stages."""
    today = timezone.localdate()
    quarter = current_quarter()
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=date(2020, 1, 1))
    for month in quarter.months:
        Quota.objects.create(owner=rep, month=month, amount=Decimal("50000"), set_by=manager)
    OpportunityFactory(
        owner=rep,
        stage=stage("Ganada"),
        amount=Decimal("50000"),
        closed_at=timezone.now(),
        expected_close_date=today,
    )
    OpportunityFactory(owner=rep, stage=stage("Propuesta"), amount=Decimal("40000"))
    OpportunityFactory(owner=rep, stage=stage("Propuesta"), amount=Decimal("1000"), currency="USD")
    OpportunityFactory(owner=rep, stage=stage("Prospección"), amount=Decimal("10000"))
    OpportunityFactory(owner=rep, stage=stage("Prospección"), amount=Decimal("5"), currency="COP")
    OpportunityFactory(owner=other_rep, stage=stage("Propuesta"), amount=Decimal("777777"))
    ActivityFactory(owner=rep, status=Activity.Status.DONE, done_at=timezone.now())
    ActivityFactory(owner=rep, planned_at=timezone.now() + timedelta(minutes=1))
    ActivityFactory(owner=other_rep, status=Activity.Status.DONE, done_at=timezone.now())


def test_rep_home_pipeline_by_stage_and_quarter(sales, rep):
    home = home_for(user=rep)
    assert home["sales_role"] == "rep"
    pipeline = home["my_pipeline"]
    lines = {line.name: (line.count, line.amount, line.weighted) for line in pipeline["stages"]}
    # Propuesta: 40,000 + 1,000 USD × 17 = 57,000, weighted 50 %; Prospección 10 %.
    assert lines == {
        "Prospección": (1, Decimal("10000"), Decimal("1000")),
        "Propuesta": (2, Decimal("57000"), Decimal("28500")),
    }
    assert (pipeline["amount"], pipeline["weighted"]) == (Decimal("67000"), Decimal("29500"))
    assert [e.currency for e in pipeline["excluded"]] == ["COP"]
    assert home["my_quarter"].won == Decimal("50000")
    assert home["my_quarter"].quota == Decimal("150000")
    # Today's agenda: the rep's done and planned activities of today, not the other rep's.
    assert len(home["agenda_today"]) == 2
    assert all(activity.owner_id == rep.pk for activity in home["agenda_today"])
    assert isinstance(home["visits_pending"], list)


def test_manager_home_team_forecast_and_activity(sales, manager, rep, other_rep):
    home = home_for(user=manager)
    assert home["sales_role"] == "manager"
    assert {row.owner for row in home["team_forecast"].rows} == {rep, manager}
    assert home["team_forecast"].total.won == Decimal("50000")
    assert home["team_activity"]["done"] == 1
    assert home["team_activity"]["planned"] in (0, 1)  # 1 unless the week ends this minute
    assert {row.owner: n for row, n in home["team_rows"]}[rep] == 1


def test_support_and_marketing_homes_show_no_amounts(sales, client_for, support, marketing):
    for user in (support, marketing):
        response = client_for(user).get(HOME)
        assert response.status_code == 200
        assert "sales_role" not in response.context
        assert "home-sales" not in response.content.decode()


def test_rep_home_page_renders_without_other_reps_figures(sales, client_for, rep):
    html = client_for(rep).get(HOME).content.decode()
    assert 'id="home-my-pipeline"' in html
    # The other rep's 777,777 in any grouping ("777 777", "777777"); an id in a link such as
    # /cuentas/777/ may contain "777" by chance, so the whole figure is what must not show.
    assert not re.search(r"777[\s.,]?777", html)
    assert 'id="home-agenda-today"' in html and "Agenda de hoy" in html


def test_home_queries_are_bounded(sales, client_for, rep, manager, django_assert_max_num_queries):
    for i in range(30):
        OpportunityFactory(owner=rep, stage=stage("Negociación"), amount=Decimal(100 + i))
        ActivityFactory(owner=rep, status=Activity.Status.DONE, done_at=timezone.now())
    for user, limit in ((rep, 20), (manager, 20)):
        client = client_for(user)
        client.get(HOME)
        with django_assert_max_num_queries(limit):
            assert client.get(HOME).status_code == 200
