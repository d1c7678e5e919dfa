"""The results of one campaign: its results page, the summary on its page, its ledger as CSV;
and the campaigns a customer got, on their sheet.

A campaign's own figures are read from the stored rollup (`CampaignStat`), which
campaigns.services.stats computes with the building blocks of campaigns.selectors.funnels; the
amounts are stored per currency and converted here, at display, at the rates valid on the
campaign's first send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignLink, CampaignStat, Send, TrackingEvent
from campaigns.selectors.funnels import (
    COUNT_FIELDS,
    DEFAULT_DIMENSION,
    DELIVERABLE,
    DIMENSIONS,
    LINK_DIMENSION,
    NO_VALUE,
    TOTAL_DIMENSION,
    Funnel,
    Money,
    _add_conversions,
    _Converter,
    _dimension_labels,
    _on_date,
)
from contacts.models import Contact
from opportunities.money import Rates, company_currency

# Campaigns that have results to read: sent, or sending/paused/cancelled after the first send.
WITH_RESULTS = (
    Campaign.Status.SENT,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
    Campaign.Status.CANCELLED,
)


def results_campaign(*, pk: int) -> Campaign | None:
    """A campaign that has been (or is being) sent; drafts have no results to read."""
    return (
        Campaign.objects.filter(pk=pk, status__in=WITH_RESULTS, materialized_at__isnull=False)
        .select_related("topic", "segment")
        .first()
    )


# --- the stored rollup -----------------------------------------------------------------------


def ensure_stats(campaign: Campaign) -> None:
    """A campaign never computed is computed now, once (its first view)."""
    if campaign.stats_computed_at is None:
        from campaigns.services.stats import campaign_stats_refresh

        campaign_stats_refresh(campaign_id=campaign.pk)
        campaign.refresh_from_db(fields=["stats_computed_at", "stats_refresh_queued_at"])


def _stats(campaign: Campaign, *dimensions: str) -> dict[str, dict[str, CampaignStat]]:
    """{dimension: {key: stored row}} of the campaign's rollup: one query."""
    ensure_stats(campaign)
    found: dict[str, dict[str, CampaignStat]] = {d: {} for d in dimensions}
    for stat in CampaignStat.objects.filter(campaign=campaign, dimension__in=dimensions):
        found[stat.dimension][stat.key] = stat
    return found


def _funnel_of(stat: CampaignStat | None, key: str = "") -> Funnel:
    """The counts of a stored row (conversions are added apart, converted at display)."""
    if stat is None:
        return Funnel(key=key)
    return Funnel(
        key=stat.key,
        first_sent=stat.first_sent,
        last_sent=stat.last_sent,
        **{name: getattr(stat, name) for name in COUNT_FIELDS},
    )


def _stored_conversions(stats: dict[str, CampaignStat]) -> list[dict]:
    """The stored conversions per group and currency, as _conversion_groups returns them."""
    return [
        {"group": key, "currency": currency, "n": n, "total": Decimal(amount)}
        for key, stat in stats.items()
        for currency, (n, amount) in sorted(stat.conversions_by_currency.items())
        if n
    ]


@dataclass
class CampaignResults:
    campaign: Campaign
    total: Funnel
    money: Money | None
    links: list
    variants: list[Funnel]
    dimension: str
    segments: list[Funnel]
    first_sent: datetime | None
    last_sent: datetime | None
    chart: dict
    computed_at: datetime | None = None


def campaign_results(
    *, campaign: Campaign, dimension: str = DEFAULT_DIMENSION, with_amounts: bool = True
) -> CampaignResults:
    """Everything the results page shows, read from the stored rollup (a few small queries).

    The counts are stored per group; the conversions per group and currency, converted here
    at the rates valid on the campaign's first send (as campaigns.services.stats stored them,
    today's building blocks computed them).
    """
    if dimension not in DIMENSIONS:
        dimension = DEFAULT_DIMENSION
    stats = _stats(campaign, TOTAL_DIMENSION, "variant", LINK_DIMENSION, dimension)
    total_stat = stats[TOTAL_DIMENSION].get("")
    total = _funnel_of(total_stat)
    total.label = str(_("Total"))
    by_variant = {key: _funnel_of(stat) for key, stat in stats["variant"].items()}
    segments = {key: _funnel_of(stat) for key, stat in stats[dimension].items()}
    first, last = total.first_sent, total.last_sent
    rates = Rates() if with_amounts else None
    converter = _Converter(rates, _on_date(campaign, first)) if rates else None
    # The groups convert the same opportunities again: their misses are not counted twice.
    groups_converter = _Converter(rates, _on_date(campaign, first)) if rates else None

    money = None
    if first is not None:
        for row in _stored_conversions({"": total_stat} if total_stat else {}):
            total.conversions += row["n"]
            if converter:
                total.revenue += converter.convert(row["total"], row["currency"], row["n"])
        if with_amounts:
            _add_conversions(segments, _stored_conversions(stats[dimension]), groups_converter)
    if with_amounts:
        money = Money(
            currency=company_currency(),
            revenue=total.revenue,
            cost=converter.convert(campaign.cost, campaign.currency),
            excluded=converter.excluded_list(),
        )
    else:
        # Without amounts the counts are still shown per segment (no revenue is read).
        if first is not None:
            for row in _stored_conversions(stats[dimension]):
                key = row["group"] or ""
                segments.setdefault(key, Funnel(key=key)).conversions += row["n"]

    variants = []
    if campaign.has_ab_test:
        if with_amounts and first is not None:
            _add_conversions(by_variant, _stored_conversions(stats["variant"]), groups_converter)
        for key, subject in (("a", campaign.subject), ("b", campaign.subject_b)):
            funnel = by_variant.get(key, Funnel(key=key))
            funnel.label = subject
            variants.append(funnel)

    labels = _dimension_labels(dimension)
    segment_rows = sorted(segments.values(), key=lambda f: (-f.sent, f.key))
    for funnel in segment_rows:
        funnel.label = str(labels.get(funnel.key, funnel.key) or NO_VALUE)

    clicks = stats[LINK_DIMENSION]
    links = list(CampaignLink.objects.filter(campaign=campaign).order_by("id"))
    for link in links:
        stat = clicks.get(str(link.pk))
        link.total_clicks = stat.clicks if stat else 0
        link.unique_clicks = stat.clicked if stat else 0
    links.sort(key=lambda link: -link.total_clicks)  # stable: then by id, as before
    return CampaignResults(
        campaign=campaign,
        total=total,
        money=money,
        links=links,
        variants=variants,
        dimension=dimension,
        segments=segment_rows,
        first_sent=first,
        last_sent=last,
        chart={
            "currency": "%",  # static/js/charts.js "forecast" bars: the unit of the values
            "labels": [f.label for f in segment_rows],
            "datasets": [
                {"label": str(_("Apertura %")), "data": [f.open_rate or 0 for f in segment_rows]},
                {"label": str(_("Clic %")), "data": [f.click_rate or 0 for f in segment_rows]},
                {
                    "label": str(_("Conversión %")),
                    "data": [f.conversion_rate or 0 for f in segment_rows],
                },
            ],
        },
        computed_at=campaign.stats_computed_at,
    )


def campaign_summary(*, campaign: Campaign) -> Funnel:
    """The few figures of the campaign page's summary: one row of the stored rollup."""
    stat = _stats(campaign, TOTAL_DIMENSION)[TOTAL_DIMENSION].get("")
    total = _funnel_of(stat)
    total.label = str(_("Total"))
    if stat is not None:
        total.conversions = stat.conversions
    return total


def ledger_rows(*, campaign: Campaign):
    """Every recipient of the campaign with what happened to their message, for the CSV.

    Streamed with .iterator(): one row per ledger entry, counts from correlated subqueries.
    """
    kind = TrackingEvent.Kind
    events = TrackingEvent.objects.filter(send=OuterRef("pk"))
    return (
        Send.objects.filter(campaign=campaign)
        .annotate(
            click_count=Coalesce(
                _subquery_count(events.filter(kind=kind.CLICK, is_machine=False)), 0
            ),
            unsubscribed=Exists(events.filter(kind=kind.UNSUBSCRIBE)),
            complained=Exists(events.filter(kind=kind.COMPLAINT)),
            machine_open=Exists(events.filter(kind=kind.OPEN, is_machine=True)),
        )
        .select_related("contact", "contact__account")
        .only(
            "id",
            "email",
            "variant",
            "status",
            "sent_at",
            "bounced_at",
            "first_opened_at",
            "first_clicked_at",
            "error",
            "contact__first_name",
            "contact__last_name",
            "contact__lifecycle",
            "contact__account__name",
            "contact__account__tier",
        )
        .order_by("id")
    )


def _subquery_count(queryset):
    return Subquery(
        queryset.order_by().values("send").annotate(n=Count("id")).values("n")[:1],
        output_field=IntegerField(),
    )


# --- the customer sheet ----------------------------------------------------------------------

PANEL_LIMIT = 20
TIMELINE_KINDS = (
    TrackingEvent.Kind.OPEN,
    TrackingEvent.Kind.CLICK,
    TrackingEvent.Kind.UNSUBSCRIBE,
    TrackingEvent.Kind.BOUNCE,
    TrackingEvent.Kind.COMPLAINT,
)


def _activity(sends: QuerySet[Send]) -> list[Send]:
    """The latest messages with their events (human opens, clicks, unsubscribe): two queries."""
    events = (
        TrackingEvent.objects.filter(kind__in=TIMELINE_KINDS)
        .exclude(kind=TrackingEvent.Kind.OPEN, is_machine=True)
        .select_related("link")
        .order_by("at", "id")
    )
    rows = list(
        sends.filter(status__in=(*DELIVERABLE, Send.Status.DOUBT))
        .select_related("campaign")
        .prefetch_related(Prefetch("events", queryset=events, to_attr="timeline"))
        .order_by(F("sent_at").desc(nulls_last=True), "-id")[:PANEL_LIMIT]
    )
    for send in rows:
        send.unsubscribed = any(e.kind == TrackingEvent.Kind.UNSUBSCRIBE for e in send.timeline)
        send.click_total = sum(1 for e in send.timeline if e.kind == TrackingEvent.Kind.CLICK)
    return rows


def contact_campaign_activity(contact: Contact) -> list[Send]:
    """The campaigns sent to a contact, newest first, each with its opens and clicks."""
    return _activity(Send.objects.filter(contact=contact))


def account_campaign_activity(account) -> list[Send]:
    """The campaigns sent to an account's contacts, newest first (who got each one)."""
    return _activity(Send.objects.filter(contact__account=account).select_related("contact"))
