"""The opportunities and activities lists' exports: filters, order, scope per role, amounts as
numbers, constant queries."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.core.tests.exports import csv_rows, xlsx_rows
from opportunities.models import Activity
from opportunities.tests.factories import ActivityFactory, OpportunityFactory

pytestmark = pytest.mark.django_db
OPPORTUNITIES = reverse("opportunities:opportunity-export")
ACTIVITIES = reverse("opportunities:activity-export")


def _first_column(client, url, **params) -> list[str]:
    return [r[0] for r in csv_rows(client.get(url, params))[1:]]


def test_opportunities_in_the_lists_order_with_amounts_as_numbers(rep, client_for):
    OpportunityFactory(name="+Grande", owner=rep, amount=Decimal("250000.50"))
    OpportunityFactory(name="Chica", owner=rep, amount=Decimal("1000.00"), currency="EUR")
    client = client_for(rep)
    assert _first_column(client, OPPORTUNITIES, sort="-amount") == ["'+Grande", "Chica"]
    assert _first_column(client, OPPORTUNITIES, currency="EUR") == ["Chica"]
    head, *rows = xlsx_rows(client.get(OPPORTUNITIES, {"formato": "xlsx", "sort": "-amount"}))
    assert head[:5] == ("Oportunidad", "Cuenta", "Contacto", "Embudo", "Etapa")
    assert rows[0][head.index("Importe")] == 250000.5  # a number Excel can add up
    assert rows[0][head.index("Etapa")] == "Prospección"


def test_opportunities_scope_per_role(
    rep, manager, other_rep, admin_user, support, marketing, client_for
):
    OpportunityFactory(name="Mía", owner=rep)
    OpportunityFactory(name="Ajena", owner=other_rep)
    assert _first_column(client_for(rep), OPPORTUNITIES) == ["Mía"]
    assert _first_column(client_for(manager), OPPORTUNITIES) == ["Mía"]
    assert sorted(_first_column(client_for(admin_user), OPPORTUNITIES)) == ["Ajena", "Mía"]
    for user in (support, marketing):
        assert client_for(user).get(OPPORTUNITIES).status_code == 403


def test_activities_export_the_customers_or_mine_with_labels(rep, other_rep, client_for):
    mine = ActivityFactory(owner=rep, subject="=Visita")
    ActivityFactory(
        owner=rep,
        account=mine.account,
        status=Activity.Status.DONE,
        done_at=timezone.now(),
        subject="Hecha",
    )
    ActivityFactory(owner=other_rep, account=mine.account, subject="Ajena")
    client = client_for(rep)
    head, *rows = csv_rows(client.get(ACTIVITIES, {"account": mine.account.pk}))
    assert head[:3] == ["Tipo", "Estado", "Asunto"]
    assert sorted(r[2] for r in rows) == ["'=Visita", "Hecha"]
    assert {r[0] for r in rows} == {"Visita"}
    done = csv_rows(client.get(ACTIVITIES, {"account": mine.account.pk, "status": "hecha"}))
    assert [r[2] for r in done[1:]] == ["Hecha"]
    assert csv_rows(client.get(ACTIVITIES, {"account": "x"}))[1:] == []


def test_activities_scope_per_role(rep, manager, other_rep, admin_user, support, client_for):
    mine = ActivityFactory(owner=rep, subject="Mía")
    ActivityFactory(owner=other_rep, account=mine.account, subject="Ajena")

    def subjects(user):
        rows = csv_rows(client_for(user).get(ACTIVITIES, {"account": mine.account.pk}))[1:]
        return sorted(r[2] for r in rows)

    assert subjects(rep) == ["Mía"]
    assert subjects(manager) == ["Mía"]
    assert subjects(admin_user) == ["Ajena", "Mía"]
    # Support reads every activity of a customer on screen, but exports none.
    assert client_for(support).get(ACTIVITIES, {"account": mine.account.pk}).status_code == 403


@pytest.mark.parametrize(
    ("url", "factory"), [(OPPORTUNITIES, OpportunityFactory), (ACTIVITIES, ActivityFactory)]
)
def test_queries_do_not_grow_with_rows(
    rep, client_for, django_assert_max_num_queries, url, factory
):
    client = client_for(rep)
    factory.create_batch(3, owner=rep)
    with django_assert_max_num_queries(10) as few:
        csv_rows(client.get(url))
    factory.create_batch(57, owner=rep)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(csv_rows(client.get(url))) == 61


def test_the_lists_offer_the_export(rep, client_for):
    page = client_for(rep).get(reverse("opportunities:opportunity-list"), {"status": "open"})
    assert f"{OPPORTUNITIES}?status=open&amp;formato=xlsx" in page.text
    page = client_for(rep).get(reverse("opportunities:activity-list"), {"status": "hecha"})
    assert f"{ACTIVITIES}?status=hecha&amp;formato=csv" in page.text
