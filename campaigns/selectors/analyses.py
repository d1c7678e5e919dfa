"""Results across campaigns: the figures of the results overview, engagement over a period
(the análisis de compromiso) and the channels' contribution (leads, subscriptions, ROI).

The overview and the channels read each campaign's stored totals (the rollup's "campaign" row,
see campaigns.services.stats); engagement is counted in the ledger over the period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, FilteredRelation, FloatField, Q, QuerySet
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Send
from campaigns.selectors.funnels import (
    DELIVERABLE,
    DIMENSIONS,
    NO_VALUE,
    TOTAL_DIMENSION,
    Money,
    _Converter,
    _dimension_expression,
    _dimension_labels,
    _on_date,
    _rate,
    _window,
)
from campaigns.selectors.results import WITH_RESULTS, ensure_stats
from contacts.models import Consent, Contact, LeadSource
from opportunities.money import Rates, company_currency

# Periods of the engagement and channel analyses (quarter, half-year, year), in days.
PERIODS = {
    "trimestre": (_("Último trimestre"), 91),
    "semestre": (_("Último semestre"), 182),
    "anio": (_("Último año"), 365),
}
DEFAULT_PERIOD = "trimestre"
# The channel analysis compares at most this many campaigns (one filtered count each).
CHANNEL_CAMPAIGNS_MAX = 40
RANKED_CONTACTS = 10


def period_start(period: str, *, now: datetime | None = None) -> tuple[str, datetime, int]:
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    days = PERIODS[period][1]
    now = now or timezone.now()
    return period, now - timedelta(days=days), days


def conversions_by_campaign(campaigns: list[Campaign], *, with_amounts: bool) -> dict[int, dict]:
    """{campaign pk: {"conversions", "revenue", "cost", "roi", "excluded"}} for a list read by
    `sent_campaigns` (its stored totals), converted at the rates of each campaign's first send
    as the campaign's own results page converts them. No query but the rates'."""
    rates = Rates() if with_amounts else None
    result = {}
    for c in campaigns:
        data = {"conversions": getattr(c, "conversions_total", 0) or 0, "excluded": {}}
        data["revenue"] = Decimal("0")
        if rates is not None:
            converter = _Converter(rates, _on_date(c, getattr(c, "first_sent", None)))
            stored = getattr(c, "conversions_stored", None) or {}
            for currency, (n, amount) in sorted(stored.items()):
                if n:
                    data["revenue"] += converter.convert(Decimal(amount), currency, n)
            data["excluded"] = dict(converter.excluded)
            cost = converter.convert(c.cost, c.currency)
            money = Money(currency=company_currency(), revenue=data["revenue"], cost=cost)
            data["cost"] = cost
            data["roi"] = money.roi
        result[c.pk] = data
    return result


def campaigns_with_results() -> QuerySet[Campaign]:
    """Campaigns that have been (or are being) sent, newest first, without figures: the ids
    of a page are read from this cheap query, the figures only for that page's rows."""
    return Campaign.objects.filter(status__in=WITH_RESULTS, materialized_at__isnull=False).order_by(
        F("started_at").desc(nulls_last=True), "-id"
    )


def sent_campaigns(*, since: datetime | None = None) -> QuerySet[Campaign]:
    """Campaigns with results and their stored totals (the rollup's "campaign" row, see
    campaigns.services.stats), newest first: one query per page, whatever the ledger's size.
    A campaign not computed yet shows zeros until `campaign_stats_ensure` has run for it."""
    qs = Campaign.objects.filter(status__in=WITH_RESULTS, materialized_at__isnull=False)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    total = FilteredRelation("stats", condition=Q(stats__dimension=TOTAL_DIMENSION, stats__key=""))
    return (
        qs.select_related("topic")
        .alias(_total=total)
        .annotate(
            sent_total=Coalesce(F("_total__sent"), 0),
            bounced_total=Coalesce(F("_total__bounced"), 0),
            opened_total=Coalesce(F("_total__opened"), 0),
            clicked_total=Coalesce(F("_total__clicked"), 0),
            conversions_total=Coalesce(F("_total__conversions"), 0),
            conversions_stored=F("_total__conversions_by_currency"),
            first_sent=F("_total__first_sent"),
            last_sent=F("_total__last_sent"),
        )
        .order_by(F("started_at").desc(nulls_last=True), "-id")
    )


def with_stored_totals(campaigns: list[Campaign]) -> list[Campaign]:
    """The campaigns of a `sent_campaigns` list, those never computed computed now (their
    first view, as the results page does) and read again; the rest as they are."""
    missing = [c.pk for c in campaigns if c.stats_computed_at is None]
    if not missing:
        return campaigns
    for campaign in campaigns:
        if campaign.pk in missing:
            ensure_stats(campaign)
    fresh = sent_campaigns().in_bulk(missing)
    return [fresh.get(c.pk, c) for c in campaigns]


def decorate_campaigns(campaigns: list[Campaign], *, with_amounts: bool) -> list[Campaign]:
    """Rates, conversions, revenue and ROI on each campaign of a bounded list (one query)."""
    figures = conversions_by_campaign(campaigns, with_amounts=with_amounts)
    for c in campaigns:
        c.delivered_total = max(c.sent_total - c.bounced_total, 0)
        c.open_rate = _rate(c.opened_total, c.delivered_total)
        c.click_rate = _rate(c.clicked_total, c.delivered_total)
        data = figures[c.pk]
        c.conversions = data["conversions"]
        c.revenue = data["revenue"] if with_amounts else None
        c.cost_converted = data.get("cost")
        c.roi = data.get("roi")
        c.excluded_currencies = sorted(data["excluded"])
    return campaigns


def _score():
    """(opened + clicked) per message received, as a float in SQL (0 to 2)."""
    return (Cast(F("opened"), FloatField()) + Cast(F("clicked"), FloatField())) / Cast(
        F("received"), FloatField()
    )


def _received_counts() -> dict:
    return {
        "received": Count("id"),
        "opened": Count("id", filter=Q(first_opened_at__isnull=False)),
        "clicked": Count("id", filter=Q(first_clicked_at__isnull=False)),
    }


def _engagement_row(row: dict, label: str) -> dict:
    received = row["received"]
    row["label"] = label
    row["score"] = round((row["opened"] + row["clicked"]) / received, 2) if received else None
    row["open_rate"] = _rate(row["opened"], received)
    row["click_rate"] = _rate(row["clicked"], received)
    return row


def engagement(*, period: str = DEFAULT_PERIOD, dimension: str = "lifecycle") -> dict:
    """How the list behaves over a quarter, half-year or year: five queries.

    Most and least active segments and contacts by (opens + clicks) per message received, the
    trend per month, and how many contacts got mail and opened none (the inactive segment).
    """
    period, start, days = period_start(period)
    if dimension not in DIMENSIONS:
        dimension = "lifecycle"
    received = Send.objects.filter(
        status__in=DELIVERABLE, bounced_at__isnull=True, sent_at__gte=start
    )
    labels = _dimension_labels(dimension)
    segments = [
        _engagement_row(row, str(labels.get(row["group"], row["group"]) or NO_VALUE))
        for row in received.annotate(group=_dimension_expression(dimension))
        .values("group")
        .annotate(contacts=Count("contact", distinct=True), **_received_counts())
        .order_by()
    ]
    segments.sort(key=lambda r: (-(r["score"] or 0), -r["received"], r["label"]))

    per_contact = (
        received.values("contact_id", "contact__first_name", "contact__last_name", "contact__email")
        .annotate(**_received_counts())
        .annotate(score=_score())
    )
    most = [
        _engagement_row(row, f"{row['contact__first_name']} {row['contact__last_name']}".strip())
        for row in per_contact.order_by("-score", "-received", "contact_id")[:RANKED_CONTACTS]
    ]
    least = [
        _engagement_row(row, f"{row['contact__first_name']} {row['contact__last_name']}".strip())
        for row in per_contact.order_by("score", "-received", "contact_id")[:RANKED_CONTACTS]
    ]

    tz = timezone.get_current_timezone()
    trend = [
        _engagement_row(row, "")
        for row in received.annotate(month=TruncMonth("sent_at", tzinfo=tz))
        .values("month")
        .annotate(**_received_counts())
        .order_by("month")
    ]
    inactive = (
        received.values("contact_id")
        .annotate(o=Count("id", filter=Q(first_opened_at__isnull=False)))
        .filter(o=0)
        .count()
    )
    return {
        "period": period,
        "period_label": PERIODS[period][0],
        "days": days,
        "start": start,
        "dimension": dimension,
        "segments": segments,
        "most_active": most,
        "least_active": least,
        "trend": trend,
        "inactive_count": inactive,
        "chart": {
            "currency": "%",
            "labels": [r["month"].strftime("%Y-%m") for r in trend if r["month"]],
            "datasets": [
                {"label": str(_("Apertura %")), "data": [r["open_rate"] or 0 for r in trend]},
                {"label": str(_("Clic %")), "data": [r["click_rate"] or 0 for r in trend]},
            ],
        },
    }


def inactive_definition(days: int) -> dict:
    """Contacts emailed in the last `days` who opened nothing in them (campaigns.segments)."""
    return {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"field": "emailed", "op": "in_last_days", "value": days},
                    {"field": "opened", "op": "not_in_last_days", "value": days},
                ],
            }
        ],
    }


def channels(*, period: str = DEFAULT_PERIOD, with_amounts: bool = True) -> dict:
    """Leads and subscriptions after each campaign, per lead source, and ROI: four queries.

    A campaign's window runs from its first send for `conversion_window_days`; a contact
    created (a lead) or an email consent granted (a subscription) in it counts for the
    campaign, by the contact's lead source. Overlapping windows credit each campaign.
    """
    period, start, _days = period_start(period)
    campaigns = with_stored_totals(list(sent_campaigns(since=start)[:CHANNEL_CAMPAIGNS_MAX]))
    decorate_campaigns(campaigns, with_amounts=with_amounts)
    windows = [
        (c, c.first_sent, c.first_sent + _window(c.conversion_window_days))
        for c in campaigns
        if c.first_sent
    ]
    sources = dict(LeadSource.choices)
    matrix = {
        key: {"key": key, "label": label, "leads": {}, "subs": {}} for key, label in sources.items()
    }
    for c in campaigns:
        c.leads = 0
        c.subscriptions = 0
    if windows:
        lo = min(w[1] for w in windows)
        hi = max(w[2] for w in windows)
        leads = {
            f"c{c.pk}": Count("id", filter=Q(created_at__gte=a, created_at__lt=b))
            for c, a, b in windows
        }
        for row in (
            Contact.objects.filter(created_at__gte=lo, created_at__lt=hi)
            .values("lead_source")
            .annotate(**leads)
            .order_by()
        ):
            entry = matrix.setdefault(
                row["lead_source"],
                {"key": row["lead_source"], "label": row["lead_source"], "leads": {}, "subs": {}},
            )
            for c, _a, _b in windows:
                entry["leads"][c.pk] = row[f"c{c.pk}"]
        subs = {f"c{c.pk}": Count("id", filter=Q(at__gte=a, at__lt=b)) for c, a, b in windows}
        for row in (
            Consent.objects.filter(
                channel=Consent.Channel.EMAIL,
                action=Consent.Action.GRANT,
                at__gte=lo,
                at__lt=hi,
            )
            .values("contact__lead_source")
            .annotate(**subs)
            .order_by()
        ):
            key = row["contact__lead_source"]
            entry = matrix.setdefault(key, {"key": key, "label": key, "leads": {}, "subs": {}})
            for c, _a, _b in windows:
                entry["subs"][c.pk] = row[f"c{c.pk}"]
    by_pk = {c.pk: c for c in campaigns}
    source_rows = []
    for entry in matrix.values():
        entry["leads_total"] = sum(entry["leads"].values())
        entry["subs_total"] = sum(entry["subs"].values())
        for pk, n in entry["leads"].items():
            by_pk[pk].leads += n
        for pk, n in entry["subs"].items():
            by_pk[pk].subscriptions += n
        source_rows.append(entry)
    source_rows.sort(key=lambda e: (-(e["leads_total"] + e["subs_total"]), str(e["label"])))
    shown = [c for c in campaigns if c.first_sent]
    chart = {
        "currency": "",
        "labels": [c.name for c in shown],
        "datasets": [
            {"label": str(_("Leads")), "data": [c.leads for c in shown]},
            {"label": str(_("Suscripciones")), "data": [c.subscriptions for c in shown]},
            {"label": str(_("Conversiones")), "data": [c.conversions for c in shown]},
        ],
    }
    return {
        "period": period,
        "period_label": PERIODS[period][0],
        "start": start,
        "campaigns": campaigns,
        "sources": source_rows,
        "chart": chart,
        "currency": company_currency(),
        "limited": len(campaigns) >= CHANNEL_CAMPAIGNS_MAX,
    }
