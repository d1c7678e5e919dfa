"""The building blocks of campaign results: the funnel of a group of messages, its conversions,
and their amounts in the company currency.

Everything is counted in the database (conditional Count/Sum with GROUP BY), so a page costs
the same queries whether the ledger holds ten rows or a million; Python only reshapes the few
grouped rows. campaigns.services.stats stores what these blocks count (the rollup,
`CampaignStat`); the results pages read it back (campaigns.selectors.results, .analyses).

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
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Industry, Tier
from campaigns.models import Campaign, CampaignLink, Send, TrackingEvent
from contacts.models import Lifecycle
from opportunities.models import Opportunity
from opportunities.money import CENT, Rates

DELIVERABLE = (Send.Status.SENT,)
# The response-by-segment dimensions ("Análisis de segmentación de respuesta").
DIMENSIONS = {
    "tier": _("Clasificación de la cuenta"),
    "region": _("Región"),
    "industry": _("Sector"),
    "lifecycle": _("Etapa del contacto"),
}
DEFAULT_DIMENSION = "tier"
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
