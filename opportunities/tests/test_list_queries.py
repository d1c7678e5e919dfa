"""Query counts of the sales lists that had none: the product catalogue, the tiers page and an
account's tier history. Each page costs the same queries with a few rows as with many."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from opportunities.models import TierChange
from opportunities.services.tiers import account_tiers_compute
from opportunities.tests.factories import ProductFactory
from opportunities.tests.test_tiers_services import won

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    client.get(url)  # the session and the caches, once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_product_list_queries_do_not_grow_with_products(client_for, admin_user):
    client = client_for(admin_user)
    url = reverse("opportunities:product-list")
    ProductFactory.create_batch(3)
    few = _queries(client, url)
    ProductFactory.create_batch(60)
    assert _queries(client, url) == few <= 12


def test_tiers_page_queries_do_not_grow_with_accounts(client_for, manager, rep):
    client = client_for(manager)
    for i in range(3):
        won(AccountFactory(owner=rep), str(1000 + i))
    account_tiers_compute()
    few = _queries(client, reverse("opportunities:tiers"))
    for i in range(60):
        won(AccountFactory(owner=rep), str(5000 + 100 * i))
    account_tiers_compute()
    assert TierChange.objects.count() > 40
    assert _queries(client, reverse("opportunities:tiers")) == few <= 12


def test_tier_history_queries_do_not_grow_with_changes(client_for, manager, rep):
    client = client_for(manager)
    account = AccountFactory(owner=rep)
    url = reverse("opportunities:tier-history", args=[account.pk])
    TierChange.objects.create(account=account, from_tier="D", to_tier="C", revenue=Decimal(1))
    few = _queries(client, url)
    TierChange.objects.bulk_create(
        TierChange(account=account, from_tier="C", to_tier="B", revenue=Decimal(i))
        for i in range(50)
    )
    assert _queries(client, url) == few <= 12
