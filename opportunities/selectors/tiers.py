"""Reads of the A/B/C/D classification: won revenue per account and its Pareto ranking.

A = the accounts that together make the first 80 % of the last 12 months' won revenue (the
account that crosses 80 % is still A), B = the next 15 % (up to 95 %), C = the rest with
revenue, D = no revenue. Ties in revenue are broken by the account's id (the older account
ranks first), so the same data always gives the same tiers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, DecimalField, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, Tier
from opportunities.models import Opportunity, TierChange
from opportunities.money import CENT, Rates, company_currency

logger = logging.getLogger(__name__)

A_SHARE = Decimal("80")
B_SHARE = Decimal("95")
WINDOW_DAYS = 365


@dataclass
class Ranked:
    account_id: int
    revenue: Decimal
    share: Decimal  # % of the total revenue
    cumulative: Decimal  # % of the total, this account included
    tier: str


@dataclass
class Revenue:
    by_account: dict[int, Decimal]
    excluded: dict[str, int]  # currency without a rate -> deals left out
    since: date
    until: date


def revenue_window(today: date | None = None) -> tuple[datetime, datetime]:
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return until - timedelta(days=WINDOW_DAYS), until


def won_revenue_by_account(*, today: date | None = None, rates: Rates | None = None) -> Revenue:
    """Won revenue of the last 12 months per account, in the company currency (one query).

    Amounts in a currency without a rate are left out (and logged): a lower tier for one night
    is better than a figure made up.
    """
    rates = rates or Rates()
    today = today or timezone.localdate()
    since, until = revenue_window(today)
    by_account: dict[int, Decimal] = {}
    excluded: dict[str, int] = {}
    rows = (
        Opportunity.objects.filter(stage__is_won=True, closed_at__gte=since, closed_at__lt=until)
        .values("account_id", "currency")
        .annotate(
            total=Sum("amount", output_field=DecimalField(max_digits=24, decimal_places=2)),
            n=Count("pk"),
        )
        .values_list("account_id", "currency", "total", "n")
        .order_by()
    )
    for account_id, currency, total, count in rows:
        try:
            converted = rates.convert(total, currency, on=today)
        except ValidationError:
            excluded[currency] = excluded.get(currency, 0) + count
            continue
        by_account[account_id] = by_account.get(account_id, Decimal("0")) + converted
    if excluded:
        logger.warning("Tiers: deals left out for lack of a rate: %s", excluded)
    return Revenue(by_account, excluded, since.date(), (until - timedelta(days=1)).date())


def pareto_rank(revenues: dict[int, Decimal]) -> list[Ranked]:
    """The accounts with revenue, best first, with their share and tier (A, B or C)."""
    ordered = sorted(
        ((account_id, revenue) for account_id, revenue in revenues.items() if revenue > 0),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum((revenue for _id, revenue in ordered), Decimal("0"))
    ranked = []
    running = Decimal("0")
    for account_id, revenue in ordered:
        before = running * 100 / total
        running += revenue
        if before < A_SHARE:
            tier = Tier.A
        elif before < B_SHARE:
            tier = Tier.B
        else:
            tier = Tier.C
        ranked.append(
            Ranked(
                account_id=account_id,
                revenue=revenue,
                share=(revenue * 100 / total).quantize(Decimal("0.01")),
                cumulative=(running * 100 / total).quantize(Decimal("0.01")),
                tier=tier,
            )
        )
    return ranked


def pareto_chart_data(ranked: list[Ranked], names: dict[int, str], max_bars: int = 60) -> dict:
    """Bars of revenue and the cumulative % line; many accounts are grouped in equal runs."""
    if len(ranked) <= max_bars:
        groups = [[item] for item in ranked]
        labels = [names.get(item.account_id, str(item.account_id)) for item in ranked]
    else:
        size = -(-len(ranked) // max_bars)
        groups = [ranked[i : i + size] for i in range(0, len(ranked), size)]
        labels = []
        position = 1
        for group in groups:
            labels.append(
                _("Cuentas %(first)s–%(last)s")
                % {"first": position, "last": position + len(group) - 1}
            )
            position += len(group)
    return {
        "labels": labels,
        "revenue": [float(sum((i.revenue for i in group), Decimal("0"))) for group in groups],
        "cumulative": [float(group[-1].cumulative) for group in groups],
        "tiers": [group[-1].tier for group in groups],
        "revenue_label": _("Ingresos ganados"),
        "cumulative_label": _("% acumulado"),
    }


def tier_counts() -> dict[str, dict[str, int]]:
    """How many live accounts each tier holds: effective, computed, and fixed by hand."""
    counts = {tier: {"effective": 0, "auto": 0, "override": 0} for tier in Tier.values}
    live = Account.objects.filter(archived_at__isnull=True).order_by()
    for tier, n in live.values("tier").annotate(n=Count("pk")).values_list("tier", "n"):
        counts[tier]["effective"] = n
    for tier, n in live.values("tier_auto").annotate(n=Count("pk")).values_list("tier_auto", "n"):
        counts[tier]["auto"] = n
    for tier, n in (
        live.exclude(tier_override="")
        .values("tier_override")
        .annotate(n=Count("pk"))
        .values_list("tier_override", "n")
    ):
        counts[tier]["override"] = n
    return counts


def tier_ranking(*, today: date | None = None, rates: Rates | None = None, top: int = 25) -> dict:
    """The ranking as the nightly job would compute it now, with the first `top` accounts."""
    revenue = won_revenue_by_account(today=today, rates=rates)
    ranked = pareto_rank(revenue.by_account)
    shown = max(top, 60)  # the chart names up to 60 accounts
    accounts = Account.objects.in_bulk([item.account_id for item in ranked[:shown]])
    names = {pk: account.name for pk, account in accounts.items()}
    total = sum((item.revenue for item in ranked), Decimal("0")).quantize(CENT)
    return {
        "revenue": revenue,
        "ranked": ranked,
        "top": [(item, accounts.get(item.account_id)) for item in ranked[:top]],
        "top_count": top,
        "total": total,
        "chart": {**pareto_chart_data(ranked, names), "currency": company_currency()},
    }


def tier_changes_recent(*, limit: int = 20) -> QuerySet[TierChange]:
    return TierChange.objects.select_related("account").order_by("-at", "-id")[:limit]


def account_tier_history(*, account_id: int) -> tuple[Account, QuerySet[TierChange]]:
    """An account and its tier changes, newest first (Account.DoesNotExist: the view's 404)."""
    account = Account.objects.select_related("owner").get(pk=account_id)
    return account, account.tier_changes.order_by("-at", "-id")
