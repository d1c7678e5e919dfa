"""The stored results of campaigns (`CampaignStat`): computed here, read by the results pages.

Counting a 100,000-row ledger and its tracking events takes longer than a page may, so the
figures are materialised and refreshed in the background (listmonk's approach). The refresh
runs the results' own aggregate queries (the building blocks, campaigns.selectors.funnels)
for every dimension and replaces the campaign's rows in one transaction.

Freshness: a campaign never computed is computed on its first view; a rollup older than
CAMPAIGN_STATS_MAX_AGE_SECONDS of a campaign that can still change (sending or paused, or
finished less than its conversion window + 1 day ago) gets one refresh queued (a conditional
UPDATE of `stats_refresh_queued_at`, so never two at once) while the page serves what is
stored; the beat queues the live campaigns' refreshes every few minutes as well.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from campaigns.models import Campaign, CampaignStat
from campaigns.selectors import funnels as blocks
from crm.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

# The dimensions of the rollup besides the total and the links.
STAT_DIMENSIONS = ("variant", *blocks.DIMENSIONS)
LIVE_STATES = (Campaign.Status.SENDING, Campaign.Status.PAUSED)
ENDED_STATES = (Campaign.Status.SENT, Campaign.Status.CANCELLED)
# A queued refresh that has not run after this long was lost (Redis restarted): queue another.
QUEUED_TIMEOUT = timedelta(minutes=10)
# After the conversion window, a day more for late opens and deals closed late in the day.
SETTLE = timedelta(days=1)


def max_age() -> timedelta:
    return timedelta(seconds=settings.CAMPAIGN_STATS_MAX_AGE_SECONDS)


def _add_currencies(stat: CampaignStat, rows) -> None:
    """Conversions per currency, unconverted: [count, amount as text] (JSON keeps no Decimal)."""
    for row in rows:
        count, amount = stat.conversions_by_currency.get(row["currency"], [0, "0"])
        stat.conversions_by_currency[row["currency"]] = [
            count + row["n"],
            str(Decimal(amount) + (row["total"] or Decimal("0"))),
        ]
        stat.conversions += row["n"]


def _stat(campaign: Campaign, dimension: str, key: str, funnel=None) -> CampaignStat:
    stat = CampaignStat(campaign=campaign, dimension=dimension, key=key)
    if funnel is not None:
        for name in blocks.COUNT_FIELDS:
            setattr(stat, name, getattr(funnel, name))
        stat.first_sent, stat.last_sent = funnel.first_sent, funnel.last_sent
    return stat


def campaign_stats_compute(campaign: Campaign) -> list[CampaignStat]:
    """Every row of the campaign's rollup, unsaved, from today's aggregate queries."""
    by_variant = blocks._funnels(campaign, "variant")
    total = blocks._total(by_variant)
    first, last = total.first_sent, total.last_sent
    total_stat = _stat(campaign, blocks.TOTAL_DIMENSION, "", total)
    stats = [total_stat]
    if first is not None:
        _add_currencies(
            total_stat,
            blocks.conversions(campaign, first=first, last=last)
            .values("currency")
            .annotate(n=Count("id"), total=Sum("amount"))
            .order_by(),
        )
    for dimension in STAT_DIMENSIONS:
        funnels = by_variant if dimension == "variant" else blocks._funnels(campaign, dimension)
        rows = {key: _stat(campaign, dimension, key, funnel) for key, funnel in funnels.items()}
        # The variants' conversions are read only for an A/B test (as the page shows them).
        if first is not None and (dimension != "variant" or campaign.has_ab_test):
            for row in blocks._conversion_groups(campaign, first, last, dimension):
                key = row["group"] or ""
                stat = rows.setdefault(key, _stat(campaign, dimension, key))
                _add_currencies(stat, [row])
        stats += rows.values()
    for link in blocks.link_clicks(campaign):
        stat = _stat(campaign, blocks.LINK_DIMENSION, str(link.pk))
        stat.clicks, stat.clicked = link.total_clicks, link.unique_clicks
        stats.append(stat)
    return stats


def campaign_stats_refresh(*, campaign_id: int) -> int:
    """Recompute the campaign's rollup and replace its rows atomically; the rows written.

    The queries run outside the transaction; the swap locks the campaign row, so two refreshes
    at once write one after the other, and one that started earlier than the stored figures
    leaves them alone (they are newer).
    """
    started = timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return 0
    stats = campaign_stats_compute(campaign)
    with transaction.atomic():
        stored_at = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id)
            .values_list("stats_computed_at", flat=True)
            .first()
        )
        if stored_at is not None and stored_at > started:
            return 0
        CampaignStat.objects.filter(campaign_id=campaign_id).delete()
        CampaignStat.objects.bulk_create(stats)
        Campaign.objects.filter(pk=campaign_id).update(stats_computed_at=started)
        # The requests queued before this refresh started are answered by it.
        Campaign.objects.filter(pk=campaign_id, stats_refresh_queued_at__lte=started).update(
            stats_refresh_queued_at=None
        )
    return len(stats)


def campaign_stats_live(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Can the campaign's figures still change (messages going out, opens, conversions)?"""
    if campaign.status in LIVE_STATES:
        return True
    if campaign.status not in ENDED_STATES:
        return False
    ended = campaign.finished_at or campaign.started_at
    if ended is None:
        return True
    now = now or timezone.now()
    return now < ended + timedelta(days=campaign.conversion_window_days) + SETTLE


def campaign_stats_request(*, campaign_id: int, now: datetime | None = None) -> bool:
    """Queue one background refresh: True if this call queued it (none was queued already).

    A conditional UPDATE claims the request, so two pages (or the beat) at once queue it once;
    the task is sent after the commit.
    """
    now = now or timezone.now()
    claimed = (
        Campaign.objects.filter(pk=campaign_id)
        .filter(
            Q(stats_refresh_queued_at__isnull=True)
            | Q(stats_refresh_queued_at__lt=now - QUEUED_TIMEOUT)
        )
        .update(stats_refresh_queued_at=now)
    )
    if claimed:
        enqueue_on_commit("campaigns.campaign_stats_refresh", [campaign_id])
    return bool(claimed)


def campaign_stats_ensure(*, campaign: Campaign, now: datetime | None = None) -> None:
    """Before a page reads the rollup: compute it if it never was (the first view, at once);
    if it is older than the maximum age and the campaign can still change, queue a refresh
    and let the page serve what is stored."""
    now = now or timezone.now()
    if campaign.stats_computed_at is None:
        campaign_stats_refresh(campaign_id=campaign.pk)
        campaign.refresh_from_db(fields=["stats_computed_at", "stats_refresh_queued_at"])
        return
    if campaign.stats_computed_at > now - max_age():
        return
    if campaign.stats_refresh_queued_at is not None and (
        campaign.stats_refresh_queued_at >= now - QUEUED_TIMEOUT
    ):
        return  # already queued: not even the UPDATE
    if campaign_stats_live(campaign, now=now):
        campaign_stats_request(campaign_id=campaign.pk, now=now)


def campaigns_stats_refresh_live(*, now: datetime | None = None) -> list[int]:
    """Periodic: queue a refresh for every campaign whose figures can still change and are
    older than the maximum age, or were never computed, so they move while nobody looks
    (and a first view finds them ready)."""
    now = now or timezone.now()
    candidates = (
        Campaign.objects.filter(
            status__in=(*LIVE_STATES, *ENDED_STATES), materialized_at__isnull=False
        )
        .filter(Q(stats_computed_at__isnull=True) | Q(stats_computed_at__lt=now - max_age()))
        .only(
            "id",
            "status",
            "started_at",
            "finished_at",
            "conversion_window_days",
            "stats_computed_at",
        )
    )
    queued = []
    for campaign in candidates.iterator():
        never = campaign.stats_computed_at is None  # computed ahead of its first view
        if (never or campaign_stats_live(campaign, now=now)) and campaign_stats_request(
            campaign_id=campaign.pk, now=now
        ):
            queued.append(campaign.pk)
    if queued:
        logger.info("Cifras de campañas en cola: %s", queued)
    return queued
