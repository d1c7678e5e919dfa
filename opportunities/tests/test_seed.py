"""The demo sales data keeps the rules of the sales models: deals in every stage and closed
consistently, lines that make the amount, stage history that leads to the stage, activities in
their constraints, "last contacted" from them, a year of quotas per seller; and the catalogue and
rates are reference data, added once."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import Account
from accounts.seed import account_rows, seed_accounts
from contacts.models import Contact
from contacts.seed import contact_rows, seed_contacts
from crm.core.models import Role, User
from crm.core.seed import portfolio_owners, seed_users
from crm.core.seeding import Demo
from opportunities.models import (
    Activity,
    ActivityKind,
    Currency,
    ExchangeRate,
    ForecastCategory,
    Opportunity,
    Product,
    Quota,
    Stage,
)
from opportunities.money import line_totals
from opportunities.seed import SalesSeed, seed_sales, tiers_recompute

pytestmark = pytest.mark.django_db


def _customers(demo: Demo, *, contacts: int) -> tuple[list, list]:
    owners = portfolio_owners(seed_users())
    accounts = seed_accounts(demo, count=contacts // 5, owners=owners)
    people = seed_contacts(demo, accounts, count=contacts, owners=owners)
    return account_rows(accounts), contact_rows(people)


@pytest.fixture
def demo(db) -> Demo:
    return Demo(seed=42, stdout=StringIO())


@pytest.fixture
def sales(demo) -> SalesSeed:
    accounts, contacts = _customers(demo, contacts=200)
    return seed_sales(demo, accounts, contacts, opportunities=100, activities=600)


def test_the_volume_asked_for(sales, demo):
    assert (sales.opportunities, sales.activities) == (100, 600)
    assert (Opportunity.objects.count(), Activity.objects.count()) == (100, 600)
    assert sales.line_items and sales.stage_changes and sales.quotas
    out = demo.stdout.getvalue()
    assert "oportunidades: 100" in out and "actividades: 600" in out


def test_opportunities_in_every_stage_and_closed_consistently(sales):
    today = timezone.localdate()
    stages = list(Stage.objects.filter(pipeline__is_default=True))
    assert len(stages) == 6
    by_stage = dict(
        Opportunity.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n")
    )
    assert all(by_stage.get(stage.pk, 0) > 0 for stage in stages), by_stage
    opps = Opportunity.objects.select_related("stage", "account", "contact")
    for opp in opps:
        assert opp.owner_id == opp.account.owner_id
        assert opp.contact is None or opp.contact.account_id == opp.account_id
        assert opp.amount > 0
        assert opp.currency in (Currency.MXN, Currency.EUR, Currency.USD)
        if opp.currency == Currency.EUR:
            assert opp.account.country == "ES"
        assert today - timedelta(days=366) <= opp.expected_close_date <= today + timedelta(183)
        assert opp.created_at <= timezone.now()
        if opp.stage.is_won or opp.stage.is_lost:
            assert opp.closed_at is not None and opp.closed_at <= timezone.now()
            assert opp.forecast_category == ForecastCategory.CLOSED
            assert opp.expected_close_date == timezone.localdate(opp.closed_at)
            assert opp.created_at <= opp.closed_at
            assert bool(opp.won_reason) == opp.stage.is_won
            assert bool(opp.lost_reason) == opp.stage.is_lost
        else:
            assert opp.closed_at is None
            assert opp.forecast_category != ForecastCategory.CLOSED
            assert not opp.won_reason and not opp.lost_reason
    assert opps.filter(currency=Currency.MXN).count() > opps.count() * 0.7


def test_line_items_make_the_amount_and_stage_history_leads_to_the_stage(sales):
    with_lines = Opportunity.objects.filter(line_items__isnull=False).distinct()
    assert with_lines.exists()
    for opp in with_lines.prefetch_related("line_items", "account"):
        total = Decimal("0")
        for line in opp.line_items.all():
            net, _tax = line_totals(
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_pct=line.discount_pct,
                tax_rate=line.tax_rate,
            )
            total += net
            assert line.tax_rate == (Decimal("21") if opp.account.country == "ES" else 16)
        assert opp.amount == total
    first = Stage.objects.get(pipeline__is_default=True, order=1)
    with_history = Opportunity.objects.filter(stage_changes__isnull=False).distinct()
    assert with_history.count() > Opportunity.objects.count() * 0.3
    for opp in with_history:
        changes = list(opp.stage_changes.order_by("at", "id"))
        assert changes[0].from_stage_id is None and changes[0].to_stage_id == first.pk
        assert changes[-1].to_stage_id == opp.stage_id
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert before.at <= after.at
        assert all(change.by_id == opp.owner_id for change in changes)


def test_activities_keep_the_constraints(sales):
    now = timezone.now()
    activities = list(Activity.objects.select_related("account", "contact"))
    assert {a.kind for a in activities} == set(ActivityKind.values)
    assert {a.status for a in activities} == set(Activity.Status.values)
    for activity in activities:
        assert activity.account_id or activity.contact_id
        if activity.status == Activity.Status.PLANNED:
            assert activity.planned_at is not None and activity.done_at is None
            assert activity.planned_at <= now + timedelta(days=29)
        if activity.status == Activity.Status.DONE:
            assert activity.done_at is not None and activity.outcome
            assert now - timedelta(days=366) <= activity.done_at <= now
        if activity.account_id:
            assert activity.owner_id == activity.account.owner_id
            if activity.contact_id:
                assert activity.contact.account_id == activity.account_id
        else:
            assert activity.owner_id == activity.contact.owner_id
        if activity.opportunity_id:
            assert activity.opportunity.account_id == activity.account_id
    done = sum(a.status == Activity.Status.DONE for a in activities)
    assert done > len(activities) * 0.7
    ahead = [a for a in activities if a.status == "planificada" and a.planned_at > now]
    assert ahead  # the agenda of the next four weeks is not empty


def test_last_contacted_at_is_the_latest_done_activity(sales):
    for model, field in ((Account, "activities"), (Contact, "activities")):
        rows = model.objects.annotate(
            latest=Max(f"{field}__done_at", filter=Q(**{f"{field}__status": "hecha"}))
        ).values_list("last_contacted_at", "latest")
        assert all(last == latest for last, latest in rows)
        assert any(last is not None for last, _latest in rows)


def test_quotas_products_and_rates(sales):
    year = timezone.localdate().year
    quotas = list(Quota.objects.all())
    assert quotas
    assert all(q.month.day == 1 and q.month.year == year and q.amount > 0 for q in quotas)
    per_owner = Quota.objects.values("owner").annotate(n=Count("id"))
    assert {row["n"] for row in per_owner} == {12}
    assert set(User.objects.filter(quotas__isnull=False).values_list("role", flat=True)) <= {
        Role.VENDEDOR,
        Role.GERENTE,
    }
    assert User.objects.filter(role=Role.VENDEDOR, quotas__isnull=True).count() == 0
    assert Product.objects.count() >= 35
    assert set(Product.objects.values_list("tax_rate", flat=True)) == {Decimal("16.00")}
    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == (
        set(Currency.values) - {"MXN"}
    )


def test_the_catalogue_and_the_rates_are_added_once(sales, demo):
    again = seed_sales(demo, *_customers(demo, contacts=20), opportunities=5, activities=5)
    assert (again.products, again.rates, again.quotas) == (0, 0, 0)
    assert Opportunity.objects.count() == 105


def test_tiers_recompute_ranks_by_the_won_revenue(sales, demo):
    tiers_recompute(demo)
    assert "clasificación A/B/C/D recalculada" in demo.stdout.getvalue()
    assert Account.objects.filter(tier_auto="A").exists()
