"""The results of campaigns: the funnel, conversions and ROI, segments, engagement, channels.

Everything is counted in the database (conditional Count/Sum with GROUP BY), so a page costs
the same queries whether the ledger holds ten rows or a million; Python only reshapes the few
grouped rows. A campaign's own figures (its results page and the summary on its page) are
read from the stored rollup (`CampaignStat`), which campaigns.services.stats computes with the
building blocks below; the amounts are stored per currency and converted here, at display.

Unique opens and clicks are read from the ledger (`Send.first_opened_at` and
`first_clicked_at`, written for human opens only, as the tracking and the seed do); machine
opens, total clicks, unsubscribes and complaints from the tracking events.

A conversion is an opportunity won at a recipient's account within the campaign's
`conversion_window_days` after the message to that account was sent; each opportunity counts
once per campaign however many of the account's contacts got the message. Amounts are summed
per currency in SQL and converted to the company currency at the rate valid on the campaign's
first send (opportunities.money.Rates); a currency without a rate is left out and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Industry, Tier
from campaigns.models import Campaign, CampaignLink, CampaignStat, Send, TrackingEvent
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from opportunities.models import Opportunity
from opportunities.money import CENT, Rates, company_currency

DELIVERABLE = (Send.Status.SENT,)
# Campaigns that have results to read: sent, or sending/paused/cancelled after the first send.
WITH_RESULTS = (
    Campaign.Status.SENT,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
    Campaign.Status.CANCELLED,
)
# The response-by-segment dimensions ("Análisis de segmentación de respuesta").
DIMENSIONS = {
    "tier": _("Clasificación de la cuenta"),
    "region": _("Región"),
    "industry": _("Sector"),
    "lifecycle": _("Etapa del contacto"),
}
DEFAULT_DIMENSION = "tier"
# Periods of the engagement and channel analyses (quarter, half-year, year), in days.
PERIODS = {
    "trimestre": (_("Último trimestre"), 91),
    "semestre": (_("Último semestre"), 182),
    "anio": (_("Último año"), 365),
}
DEFAULT_PERIOD = "trimestre"
NO_VALUE = _("Sin dato")
# The rollup's dimensions besides DIMENSIONS: the whole campaign (key "") and its links.
TOTAL_DIMENSION = "campaign"
LINK_DIMENSION = "link"
# The counts of a Funnel (and of a CampaignStat row), summed by _total.
COUNT_FIELDS = (
    "recipients",
    "sent",
    "doubt",
    "failed",
    "skipped",
    "bounced",
    "opened",
    "clicked",
    "machine_opened",
    "clicks",
    "unsubscribed",
    "complaints",
)
# The channel analysis compares at most this many campaigns (one filtered count each).
CHANNEL_CAMPAIGNS_MAX = 40
RANKED_CONTACTS = 10


def _rate(part, whole) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class Funnel:
    """The counts of one group of messages (a campaign, a variant, a segment's share)."""

    key: str = ""
    label: str = ""
    recipients: int = 0
    sent: int = 0
    doubt: int = 0
    failed: int = 0
    skipped: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    machine_opened: int = 0
    clicks: int = 0
    unsubscribed: int = 0
    complaints: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal("0")
    first_sent: datetime | None = None
    last_sent: datetime | None = None

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)

    @property
    def bounce_rate(self) -> float | None:
        return _rate(self.bounced, self.sent)

    @property
    def open_rate(self) -> float | None:
        return _rate(self.opened, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return _rate(self.clicked, self.delivered)

    @property
    def click_to_open_rate(self) -> float | None:
        return _rate(self.clicked, self.opened)

    @property
    def unsubscribe_rate(self) -> float | None:
        return _rate(self.unsubscribed, self.delivered)

    @property
    def complaint_rate(self) -> float | None:
        return _rate(self.complaints, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return _rate(self.conversions, self.delivered)

    @property
    def revenue_per_email(self) -> Decimal | None:
        if not self.delivered:
            return None
        return (self.revenue / self.delivered).quantize(CENT)

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.conversions:
            return None
        return (self.revenue / self.conversions).quantize(CENT)


@dataclass
class Money:
    """Conversions of a campaign in the company currency, and what could not be converted."""

    currency: str
    revenue: Decimal = Decimal("0")
    cost: Decimal | None = None
    excluded: list[dict] = field(default_factory=list)

    @property
    def roi(self) -> float | None:
        """(revenue − cost) / cost, in %: None without a cost (nothing was invested)."""
        if not self.cost:
            return None
        return round(float((self.revenue - self.cost) / self.cost * 100), 1)


# --- building blocks -------------------------------------------------------------------------


def _send_counts() -> dict:
    return {
        "recipients": Count("id"),
        "first_sent": Min("sent_at", filter=Q(status__in=DELIVERABLE)),
        "last_sent": Max("sent_at", filter=Q(status__in=DELIVERABLE)),
        "sent": Count("id", filter=Q(status__in=DELIVERABLE)),
        "doubt": Count("id", filter=Q(status=Send.Status.DOUBT)),
        "failed": Count("id", filter=Q(status=Send.Status.FAILED)),
        "skipped": Count("id", filter=Q(status=Send.Status.SKIPPED)),
        "bounced": Count("id", filter=Q(status__in=DELIVERABLE, bounced_at__isnull=False)),
        "opened": Count(
            "id",
            filter=Q(
                status__in=DELIVERABLE, bounced_at__isnull=True, first_opened_at__isnull=False
            ),
        ),
        "clicked": Count(
            "id",
            filter=Q(
                status__in=DELIVERABLE, bounced_at__isnull=True, first_clicked_at__isnull=False
            ),
        ),
    }


def _event_counts() -> dict:
    kind = TrackingEvent.Kind
    return {
        # A message opened only by a proxy or scanner (never by a person) is counted apart.
        "machine_opened": Count(
            "send",
            distinct=True,
            filter=Q(kind=kind.OPEN, is_machine=True, send__first_opened_at__isnull=True),
        ),
        "clicks": Count("id", filter=Q(kind=kind.CLICK, is_machine=False)),
        "unsubscribed": Count("send", distinct=True, filter=Q(kind=kind.UNSUBSCRIBE)),
        "complaints": Count("send", distinct=True, filter=Q(kind=kind.COMPLAINT)),
    }


def _region(prefix: str):
    """The account's region, else the contact's own (a person without a company)."""
    return Coalesce(
        NullIf(F(f"{prefix}account__region"), Value("")),
        NullIf(F(f"{prefix}region"), Value("")),
        Value(""),
    )


def _dimension_expression(dimension: str, *, events: bool = False):
    """The group key of a ledger row or of a tracking event (both carry their contact)."""
    prefix = "contact__"
    if dimension == "tier":
        return Coalesce(F(f"{prefix}account__tier"), Value(""))
    if dimension == "industry":
        return Coalesce(F(f"{prefix}account__industry"), Value(""))
    if dimension == "region":
        return _region(prefix)
    if dimension == "lifecycle":
        return F(f"{prefix}lifecycle")
    if dimension == "variant":
        return F("send__variant") if events else F("variant")
    raise ValueError(dimension)


def _dimension_labels(dimension: str) -> dict[str, str]:
    if dimension == "tier":
        return {value: _("Clasificación %(tier)s") % {"tier": value} for value in Tier.values}
    if dimension == "industry":
        return dict(Industry.choices)
    if dimension == "lifecycle":
        return dict(Lifecycle.choices)
    return {}


def _window(campaign_days: int) -> timedelta:
    return timedelta(days=campaign_days)


def _recipient_sends(campaign: Campaign, **extra) -> QuerySet[Send]:
    """Sent messages of `campaign` to the outer opportunity's account, in its window."""
    window = _window(campaign.conversion_window_days)
    return Send.objects.filter(
        campaign=campaign,
        status__in=DELIVERABLE,
        contact__account_id=OuterRef("account_id"),
        sent_at__lte=OuterRef("closed_at"),
        sent_at__gte=OuterRef("closed_at") - Value(window),
        **extra,
    )


def conversions(campaign: Campaign, *, first: datetime, last: datetime) -> QuerySet[Opportunity]:
    """The opportunities won at the recipients' accounts within the conversion window."""
    return Opportunity.objects.filter(
        stage__is_won=True,
        closed_at__gte=first,
        closed_at__lte=last + _window(campaign.conversion_window_days),
    ).filter(Exists(_recipient_sends(campaign)))


class _Converter:
    """Sums (currency, amount) rows in the company currency at one date's rates."""

    def __init__(self, rates: Rates, on: date) -> None:
        self.rates, self.on = rates, on
        self.excluded: dict[str, int] = {}

    def convert(self, amount, currency: str, count: int = 0) -> Decimal:
        try:
            return self.rates.convert(amount or Decimal("0"), currency, on=self.on)
        except ValidationError:
            self.excluded[currency] = self.excluded.get(currency, 0) + count
            return Decimal("0")

    def excluded_list(self) -> list[dict]:
        return [{"currency": c, "count": n} for c, n in sorted(self.excluded.items())]


def _on_date(campaign: Campaign, first: datetime | None) -> date:
    moment = first or campaign.started_at or timezone.now()
    return timezone.localdate(moment)


# --- one campaign ----------------------------------------------------------------------------


def results_campaign(*, pk: int) -> Campaign | None:
    """A campaign that has been (or is being) sent; drafts have no results to read."""
    return (
        Campaign.objects.filter(pk=pk, status__in=WITH_RESULTS, materialized_at__isnull=False)
        .select_related("topic", "segment")
        .first()
    )


def _funnels(campaign: Campaign, dimension: str) -> dict[str, Funnel]:
    """The funnel per group of `dimension` ("variant" for the A/B test): two queries."""
    rows: dict[str, Funnel] = {}
    sends = (
        Send.objects.filter(campaign=campaign)
        .annotate(group=_dimension_expression(dimension))
        .values("group")
        .annotate(**_send_counts())
        .order_by()
    )
    for row in sends:
        key = row.pop("group") or ""
        rows[key] = Funnel(key=key, **row)
    events = (
        TrackingEvent.objects.filter(campaign=campaign)
        .annotate(group=_dimension_expression(dimension, events=True))
        .values("group")
        .annotate(**_event_counts())
        .order_by()
    )
    for row in events:
        key = row.pop("group") or ""
        funnel = rows.setdefault(key, Funnel(key=key))
        for name, value in row.items():
            setattr(funnel, name, value)
    return rows


def _add_conversions(
    rows: dict[str, Funnel], grouped, converter: _Converter, key_name: str = "group"
) -> None:
    for row in grouped:
        key = row[key_name] or ""
        funnel = rows.setdefault(key, Funnel(key=key))
        funnel.conversions += row["n"]
        funnel.revenue += converter.convert(row["total"], row["currency"], row["n"])


def _total(rows: dict[str, Funnel]) -> Funnel:
    total = Funnel(key="", label=str(_("Total")))
    for funnel in rows.values():
        for name in (*COUNT_FIELDS, "conversions"):
            setattr(total, name, getattr(total, name) + getattr(funnel, name))
        total.revenue += funnel.revenue
        if funnel.first_sent and (not total.first_sent or funnel.first_sent < total.first_sent):
            total.first_sent = funnel.first_sent
        if funnel.last_sent and (not total.last_sent or funnel.last_sent > total.last_sent):
            total.last_sent = funnel.last_sent
    return total


def _conversion_groups(campaign, first, last, dimension: str):
    """Conversions and revenue per currency and group of `dimension`, in one query.

    Account dimensions group the opportunities by their account; the contact's lifecycle and
    the A/B variant by the recipients: one filtered Count/Sum per value (an opportunity at an
    account with recipients of two lifecycles counts in both).
    """
    won = conversions(campaign, first=first, last=last)
    if dimension in ("tier", "industry", "region"):
        key = {
            "tier": Coalesce(F("account__tier"), Value("")),
            "industry": F("account__industry"),
            "region": Coalesce(NullIf(F("account__region"), Value("")), Value("")),
        }[dimension]
        return list(
            won.annotate(group=key)
            .values("group", "currency")
            .annotate(n=Count("id"), total=Sum("amount"))
            .order_by()
        )
    values = Lifecycle.values if dimension == "lifecycle" else ["a", "b"]
    lookup = "contact__lifecycle" if dimension == "lifecycle" else "variant"
    annotations = {}
    for i, value in enumerate(values):
        flag = Exists(_recipient_sends(campaign, **{lookup: value}))
        annotations[f"n{i}"] = Count("id", filter=flag)
        annotations[f"t{i}"] = Sum("amount", filter=flag)
    rows = []
    for row in won.values("currency").annotate(**annotations).order_by():
        for i, value in enumerate(values):
            if row[f"n{i}"]:
                rows.append(
                    {
                        "group": value,
                        "currency": row["currency"],
                        "n": row[f"n{i}"],
                        "total": row[f"t{i}"],
                    }
                )
    return rows


def link_clicks(campaign: Campaign) -> QuerySet[CampaignLink]:
    """Each link of the campaign with its human clicks and the people who clicked it."""
    return (
        CampaignLink.objects.filter(campaign=campaign)
        .annotate(
            total_clicks=Count("clicks", filter=Q(clicks__is_machine=False)),
            unique_clicks=Count("clicks__send", distinct=True, filter=Q(clicks__is_machine=False)),
        )
        .order_by("-total_clicks", "id")
    )


# --- the stored rollup -----------------------------------------------------------------------


def _ensure_stats(campaign: Campaign) -> None:
    """A campaign never computed is computed now, once (its first view)."""
    if campaign.stats_computed_at is None:
        from campaigns.services.stats import campaign_stats_refresh

        campaign_stats_refresh(campaign_id=campaign.pk)
        campaign.refresh_from_db(fields=["stats_computed_at", "stats_refresh_queued_at"])


def _stats(campaign: Campaign, *dimensions: str) -> dict[str, dict[str, CampaignStat]]:
    """{dimension: {key: stored row}} of the campaign's rollup: one query."""
    _ensure_stats(campaign)
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


# --- across campaigns ------------------------------------------------------------------------


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
            _ensure_stats(campaign)
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
