"""The nightly A/B/C/D classification against hand-computed Pareto cuts.

Won revenue of the last 12 months, in MXN (USD at 17, COP without rate):
  uno    50,000                         -> before it 0 %   -> A
  dos    13,000 MXN + 1,000 USD = 30,000 -> before it 50 %  -> A (the first 80 % exactly)
  tres   15,000                         -> before it 80 %  -> B (80 % reached: the next 15 %)
  cuatro  5,000 (+ 1,000,000 won 400 days ago, outside) -> before it 95 % -> C, override A kept
  cinco  only COP (no rate)             -> no revenue      -> D
  seis   nothing won                    -> D
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from crm.celery import app
from opportunities.models import ExchangeRate, TierChange
from opportunities.selectors.tiers import pareto_rank, won_revenue_by_account
from opportunities.services.tiers import account_tiers_compute
from opportunities.tasks.tiers import account_tiers_compute as account_tiers_compute_task
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.django_db


def won(account, amount, currency="MXN", days_ago=30):
    closed = timezone.now() - timedelta(days=days_ago)
    return OpportunityFactory(
        account=account,
        owner=account.owner,
        stage=stage("Ganada"),
        amount=Decimal(amount),
        currency=currency,
        closed_at=closed,
        expected_close_date=closed.date(),
    )


@pytest.fixture
def accounts(rep):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=date(2020, 1, 1))
    made = {
        name: AccountFactory(name=name, owner=rep)
        for name in ("uno", "dos", "tres", "cuatro", "cinco", "seis")
    }
    won(made["uno"], "50000")
    won(made["dos"], "13000")
    won(made["dos"], "1000", "USD")
    won(made["tres"], "15000")
    won(made["cuatro"], "5000")
    won(made["cuatro"], "1000000", days_ago=400)
    won(made["cinco"], "900000", "COP")
    # A lost and an open deal never count.
    OpportunityFactory(
        account=made["seis"], owner=rep, stage=stage("Perdida"), closed_at=timezone.now()
    )
    OpportunityFactory(account=made["seis"], owner=rep, stage=stage("Negociación"))
    Account.objects.filter(pk=made["cuatro"].pk).update(tier_override="A")
    return made


def tiers() -> dict[str, tuple[str, str, str]]:
    return {
        name: (auto, override, effective)
        for name, auto, override, effective in Account.objects.values_list(
            "name", "tier_auto", "tier_override", "tier"
        )
    }


def test_revenue_is_converted_and_bounded_to_twelve_months(accounts):
    revenue = won_revenue_by_account()
    by_name = {Account.objects.get(pk=pk).name: amount for pk, amount in revenue.by_account.items()}
    assert by_name == {
        "uno": Decimal("50000"),
        "dos": Decimal("30000"),
        "tres": Decimal("15000"),
        "cuatro": Decimal("5000"),
    }
    assert revenue.excluded == {"COP": 1}


def test_tiers_follow_the_80_15_5_cuts_and_keep_overrides(accounts):
    result = account_tiers_compute()
    assert result["changed"] == 4  # uno, dos, tres, cuatro leave D; cinco and seis stay D
    assert tiers() == {
        "uno": ("A", "", "A"),
        "dos": ("A", "", "A"),
        "tres": ("B", "", "B"),
        "cuatro": ("C", "A", "A"),  # the manual A stays the effective tier
        "cinco": ("D", "", "D"),
        "seis": ("D", "", "D"),
    }
    changes = {
        (c.account.name, c.from_tier, c.to_tier, c.revenue)
        for c in TierChange.objects.select_related("account")
    }
    assert changes == {
        ("uno", "D", "A", Decimal("50000")),
        ("dos", "D", "A", Decimal("30000")),
        ("tres", "D", "B", Decimal("15000")),
        ("cuatro", "D", "C", Decimal("5000")),
    }


def test_running_twice_changes_nothing_the_second_time(accounts):
    account_tiers_compute()
    assert account_tiers_compute()["changed"] == 0
    assert TierChange.objects.count() == 4


def test_an_account_that_loses_its_revenue_goes_to_d_with_history(accounts):
    account_tiers_compute()
    accounts["tres"].opportunities.all().delete()
    account_tiers_compute()
    assert tiers()["tres"] == ("D", "", "D")
    last = TierChange.objects.filter(account=accounts["tres"]).first()
    assert (last.from_tier, last.to_tier, last.revenue) == ("B", "D", Decimal("0"))


def test_ties_are_broken_by_account_id():
    # 60 / 20 / 20: the two 20s tie; the older account (lower id) is A, the other B.
    ranked = pareto_rank({7: Decimal("20"), 3: Decimal("20"), 9: Decimal("60")})
    assert [(r.account_id, r.tier) for r in ranked] == [(9, "A"), (3, "A"), (7, "B")]
    again = pareto_rank({3: Decimal("20"), 9: Decimal("60"), 7: Decimal("20")})
    assert [(r.account_id, r.tier) for r in again] == [(9, "A"), (3, "A"), (7, "B")]


@pytest.mark.parametrize(
    ("revenues", "expected"),
    [
        # The account that crosses 80 % is still A; the next one is B.
        ([70, 20, 10], ["A", "A", "B"]),
        # Exactly 80 % then exactly 95 %.
        ([80, 15, 5], ["A", "B", "C"]),
        # One account makes everything.
        ([100], ["A"]),
        # Zero revenue is not ranked (D).
        ([10, 0], ["A"]),
    ],
)
def test_pareto_boundaries(revenues, expected):
    ranked = pareto_rank({i + 1: Decimal(v) for i, v in enumerate(revenues)})
    assert [r.tier for r in ranked] == expected
    if ranked:
        assert ranked[-1].cumulative == Decimal("100.00")


def test_the_task_is_thin_and_idempotent(accounts, monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    account_tiers_compute_task.delay()
    account_tiers_compute_task.delay()
    assert TierChange.objects.count() == 4
    assert tiers()["uno"] == ("A", "", "A")
