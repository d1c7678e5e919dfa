"""The nightly A/B/C/D classification (DESIGN.md §2): Pareto over 12 months' won revenue."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction

from accounts.models import Account, Tier
from opportunities.models import TierChange
from opportunities.money import Rates
from opportunities.selectors.tiers import pareto_rank, won_revenue_by_account

CHUNK = 1000


@transaction.atomic
def account_tiers_compute(*, today: date | None = None, rates: Rates | None = None) -> dict:
    """Rank every account and store the computed tier where it changed, with a TierChange.

    Only `tier_auto` is written: an account fixed by hand (`tier_override`) keeps its effective
    tier, while its computed one stays current for the day the override is removed. Running it
    twice changes nothing the second time.
    """
    revenue = won_revenue_by_account(today=today, rates=rates)
    ranked = {item.account_id: item for item in pareto_rank(revenue.by_account)}
    changes: dict[str, list[int]] = defaultdict(list)
    history = []
    current = Account.objects.select_for_update().values_list("pk", "tier_auto").order_by("pk")
    for account_id, tier_auto in current.iterator(chunk_size=5000):
        item = ranked.get(account_id)
        new_tier = item.tier if item else Tier.D
        if new_tier != tier_auto:
            changes[new_tier].append(account_id)
            history.append(
                TierChange(
                    account_id=account_id,
                    from_tier=tier_auto,
                    to_tier=new_tier,
                    revenue=item.revenue if item else Decimal("0"),
                )
            )
    for tier, ids in changes.items():
        for start in range(0, len(ids), CHUNK):
            Account.objects.filter(pk__in=ids[start : start + CHUNK]).update(tier_auto=tier)
    TierChange.objects.bulk_create(history, batch_size=CHUNK)
    return {
        "accounts_ranked": len(ranked),
        "changed": len(history),
        "excluded_currencies": revenue.excluded,
    }
