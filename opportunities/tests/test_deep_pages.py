"""Page 2,000 of the deal, activity and product lists costs what page 1 costs, and so should
the agenda's "ver más" far down a bucket (issue 12; see crm.core.tests.deep_pages)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from crm.core.tests.deep_pages import (
    DEEP_PAGE,
    PER_PAGE,
    ROWS,
    assert_deep_page_is_cheap,
    assert_offsets_read_only_ids,
    get_page,
)
from opportunities.models import Activity, ActivityKind, Opportunity, Product
from opportunities.selectors import activities as activity_selectors
from opportunities.tests.factories import default_pipeline, stage


@pytest.fixture
def account(rep):
    account = Account(name="Aceros del Norte", owner=rep)
    account.save()
    return account


def _activities(rep, account, start) -> list[Activity]:
    """Planned visits a minute apart from `start`, in the order the lists show them."""
    return Activity.objects.bulk_create(
        [
            Activity(
                kind=ActivityKind.VISIT,
                status=Activity.Status.PLANNED,
                subject=f"Visita {i:05d}",
                owner=rep,
                account=account,
                planned_at=start + timedelta(minutes=i),
            )
            for i in range(ROWS)
        ],
        batch_size=1000,
    )


def test_opportunity_list_deep_page(rep, account, client_for, settings):
    settings.PAGE_SIZE = PER_PAGE
    pipeline, first_stage = default_pipeline(), stage("Prospección")
    today = timezone.localdate()
    deals = Opportunity.objects.bulk_create(
        [
            Opportunity(
                name=f"Proyecto {i:05d}",
                account=account,
                owner=rep,
                pipeline=pipeline,
                stage=first_stage,
                amount=Decimal("1000.00"),
                expected_close_date=today + timedelta(days=i),
            )
            for i in range(ROWS)
        ],
        batch_size=1000,
    )

    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("opportunities:opportunity-list"),
        model=Opportunity,
        ordered=[d.pk for d in deals],
        labels=[d.name for d in deals],
    )


def test_activity_list_deep_page(rep, account, client_for, settings):
    """The rep's own activities (the list without a customer), soonest planned first."""
    settings.PAGE_SIZE = PER_PAGE
    visits = _activities(rep, account, timezone.now() + timedelta(days=1))

    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("opportunities:activity-list"),
        model=Activity,
        ordered=[v.pk for v in visits],
        labels=[v.subject for v in visits],
    )


def test_product_list_deep_page(admin_user, client_for, settings):
    settings.PAGE_SIZE = PER_PAGE
    products = Product.objects.bulk_create(
        [
            Product(name=f"Producto {i:05d}", sku=f"SKU-{i:05d}", price=Decimal("10.00"))
            for i in range(ROWS)
        ],
        batch_size=1000,
    )

    assert_deep_page_is_cheap(
        client_for(admin_user),
        reverse("opportunities:product-list"),
        model=Product,
        ordered=[p.pk for p in products],
        labels=[p.name for p in products],
    )


def test_agenda_bucket_deep_page(rep, account, client_for, monkeypatch):
    """ "Ver más" of the overdue bucket (htmx), from its start and from row 3,998."""
    monkeypatch.setitem(activity_selectors.AGENDA_LIMITS, "overdue", PER_PAGE)
    overdue = _activities(rep, account, timezone.now() - timedelta(days=30))
    client = client_for(rep)
    url = reverse("opportunities:agenda")
    htmx = {"HTTP_HX_REQUEST": "true"}
    bottom = (DEEP_PAGE - 1) * PER_PAGE
    assert client.get(url, {"bloque": "vencidas", "desde": 0}, **htmx).status_code == 200

    first = get_page(client, url, {"bloque": "vencidas", "desde": 0}, **htmx)
    deep = get_page(client, url, {"bloque": "vencidas", "desde": bottom}, **htmx)

    assert first.response.status_code == deep.response.status_code == 200
    for visit in overdue[bottom : bottom + PER_PAGE]:
        assert visit.subject in deep.response.text
    assert overdue[bottom - 1].subject not in deep.response.text
    assert first.queries == deep.queries
    assert_offsets_read_only_ids(deep.statements, model=Activity, per_page=PER_PAGE)

    # Without JavaScript the link opens the whole agenda, that bucket from there: ids first too.
    page = get_page(client, url, {"bloque": "vencidas", "desde": bottom})
    assert page.response.status_code == 200
    assert overdue[bottom].subject in page.response.text
    assert overdue[bottom - 1].subject not in page.response.text
    assert_offsets_read_only_ids(page.statements, model=Activity, per_page=PER_PAGE)
