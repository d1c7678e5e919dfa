"""The managers' tiers page: counts, the Pareto chart and each account's history."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from opportunities.services.tiers import account_tiers_compute
from opportunities.tests.test_tiers_services import accounts, won  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

TIERS = reverse("opportunities:tiers")


def test_manager_sees_counts_chart_and_ranking(client_for, manager, accounts):  # noqa: F811
    account_tiers_compute()
    response = client_for(manager).get(TIERS)
    assert response.status_code == 200
    counts = response.context["counts"]
    assert counts["A"] == {"effective": 3, "auto": 2, "override": 1}
    assert counts["D"]["effective"] == 2
    chart = response.context["chart"]
    assert chart["labels"] == ["uno", "dos", "tres", "cuatro"]
    assert chart["cumulative"] == [50.0, 80.0, 95.0, 100.0]
    assert chart["revenue"] == [50000.0, 30000.0, 15000.0, 5000.0]
    html = response.content.decode()
    assert 'data-chart="pareto"' in html
    assert reverse("opportunities:tier-history", args=[accounts["tres"].pk]) in html


def test_many_accounts_are_grouped_in_the_chart(client_for, manager, rep):
    for i in range(130):
        won(AccountFactory(owner=rep), str(1000 + i))
    chart = client_for(manager).get(TIERS).context["chart"]
    assert len(chart["labels"]) <= 60
    assert chart["cumulative"][-1] == 100.0
    assert sum(chart["revenue"]) == float(sum(Decimal(1000 + i) for i in range(130)))


def test_account_tier_history(client_for, manager, accounts):  # noqa: F811
    account_tiers_compute()
    url = reverse("opportunities:tier-history", args=[accounts["tres"].pk])
    response = client_for(manager).get(url)
    assert response.status_code == 200
    assert [(c.from_tier, c.to_tier) for c in response.context["changes"]] == [("D", "B")]
    assert (
        client_for(manager).get(reverse("opportunities:tier-history", args=[999999])).status_code
        == 404
    )


def test_tier_pages_are_for_managers(client_for, rep, support, accounts):  # noqa: F811
    url = reverse("opportunities:tier-history", args=[accounts["uno"].pk])
    for user in (rep, support):
        assert client_for(user).get(url).status_code == 403
