"""Reads of the forecast: periods, per-rep figures against quota, the deals behind a figure.

The forecast is computed in a constant number of queries whatever the number of deals: one
aggregate grouped by owner and currency (conditional sums), then each currency converted once
through the rates table. An amount whose currency has no rate is left out of every sum and
reported, so a figure is never silently wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _

from crm.core.models import Role, User
from opportunities.models import ForecastAdjustment, ForecastCategory, Opportunity, Quota
from opportunities.money import CENT, Rates, company_currency
from opportunities.permissions import opportunity_visible_q, team_members

ZERO = Decimal("0.00")
SUM_FIELD = DecimalField(max_digits=24, decimal_places=2)

# The figures of a rep's forecast summed in the database, and those a page can drill down to.
SUMMED = ("won", "commit", "best_case", "pipeline", "open", "weighted")
FIGURES = (*SUMMED, "forecast")


# --- Periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month ("2026-11") or quarter ("2026-Q4"); `end` is inclusive."""

    kind: str  # "month" or "quarter"
    year: int
    number: int  # month 1-12 or quarter 1-4

    @property
    def key(self) -> str:
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    @property
    def first_month(self) -> int:
        return (self.number - 1) * 3 + 1 if self.kind == "quarter" else self.number

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        last = self.first_month + (2 if self.kind == "quarter" else 0)
        if last == 12:
            return date(self.year, 12, 31)
        return date(self.year, last + 1, 1) - timedelta(days=1)

    @property
    def months(self) -> list[date]:
        count = 3 if self.kind == "quarter" else 1
        return [date(self.year, self.first_month + i, 1) for i in range(count)]

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return _("%(number)s.º trimestre de %(year)s") % {
                "number": self.number,
                "year": self.year,
            }
        return _("%(month)s de %(year)s") % {"month": MONTHS[self.number], "year": self.year}

    def datetime_range(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes in the current time zone (for `closed_at`)."""
        tz = timezone.get_current_timezone()
        start = datetime.combine(self.start, time.min, tzinfo=tz)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)
        return start, end

    def shifted(self, step: int) -> Period:
        size = 12 if self.kind == "month" else 4
        index = self.year * size + (self.number - 1) + step
        return Period(self.kind, index // size, index % size + 1)

    @property
    def previous(self) -> Period:
        return self.shifted(-1)

    @property
    def next(self) -> Period:
        return self.shifted(1)

    def as_quarter(self) -> Period:
        return Period("quarter", self.year, (self.first_month - 1) // 3 + 1)

    def as_month(self) -> Period:
        return Period("month", self.year, self.first_month)

    @property
    def rate_date(self) -> date:
        """The day whose rates convert the period: its last day, or today while it runs."""
        return min(self.end, timezone.localdate())


PERIOD_RE = re.compile(r"^(?P<year>\d{4})-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2]))$")


def current_quarter(today: date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period("quarter", today.year, (today.month - 1) // 3 + 1)


def period_parse(value: str | None, *, today: date | None = None) -> Period:
    """ "2026-Q4" or "2026-11"; empty means the current quarter. ValueError when malformed."""
    if not value:
        return current_quarter(today)
    match = PERIOD_RE.match(value.strip().upper())
    if not match or not 2000 <= int(match["year"]) <= 2100:
        raise ValueError(value)
    if match["quarter"]:
        return Period("quarter", int(match["year"]), int(match["quarter"]))
    return Period("month", int(match["year"]), int(match["month"]))


# --- Who ----------------------------------------------------------------------------------


def forecast_reps(*, user: User) -> QuerySet[User]:
    """The reps whose forecast `user` reads: themselves, their teams, or everyone (admin)."""
    return team_members(user).select_related("team").order_by("first_name", "last_name", "username")


def manageable_reps(*, user: User) -> QuerySet[User]:
    """The reps whose quota and forecast adjustment `user` may set (never their own)."""
    sellers = User.objects.filter(is_active=True, role__in=[Role.VENDEDOR, Role.GERENTE])
    if user.is_admin_role:
        reps = sellers
    elif user.role == Role.GERENTE:
        reps = sellers.filter(team__manager=user).exclude(pk=user.pk)
    else:
        reps = sellers.none()
    return reps.select_related("team").order_by("first_name", "last_name", "username")


# --- The forecast -------------------------------------------------------------------------


@dataclass
class Figures:
    """One row of the forecast (a rep, or the total), in the company currency."""

    owner: User | None = None
    quota: Decimal = ZERO
    won: Decimal = ZERO
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    pipeline: Decimal = ZERO
    open: Decimal = ZERO
    weighted: Decimal = ZERO
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMMED, 0))
    adjustment: ForecastAdjustment | None = None
    adjustments: list[ForecastAdjustment] = field(default_factory=list)
    adjusted_total: Decimal | None = None  # the total row: adjusted where adjusted, else computed

    @property
    def forecast(self) -> Decimal:
        """The computed forecast: what is won plus what the rep commits to."""
        return self.won + self.commit

    @property
    def adjusted(self) -> Decimal | None:
        if self.owner is None:
            return self.adjusted_total
        return self.adjustment.amount if self.adjustment else None

    @property
    def attainment(self) -> Decimal | None:
        if not self.quota:
            return None
        return (self.won * 100 / self.quota).quantize(Decimal("0.1"))

    @property
    def gap(self) -> Decimal:
        """What is left to reach the quota (negative: the quota is exceeded)."""
        return self.quota - self.won

    @property
    def exceeded(self) -> Decimal:
        """How far above the quota the won amount is (0 while below)."""
        return max(self.won - self.quota, ZERO)

    def add(self, other: Figures) -> None:
        for name in ("quota", "won", "commit", "best_case", "pipeline", "open", "weighted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in SUMMED:
            self.counts[name] += other.counts[name]


@dataclass
class Excluded:
    """Deals of a currency without a rate, left out of the sums."""

    currency: str
    count: int = 0
    amount: Decimal = ZERO


@dataclass
class Forecast:
    period: Period
    currency: str
    rows: list[Figures]
    total: Figures
    excluded: list[Excluded]
    adjusted_any: bool

    def row_for(self, owner_id: int) -> Figures | None:
        return next((row for row in self.rows if row.owner.pk == owner_id), None)


def _conditions(period: Period) -> dict[str, Q]:
    start, end = period.datetime_range()
    won = Q(stage__is_won=True, closed_at__gte=start, closed_at__lt=end)
    open_ = Q(
        stage__is_won=False,
        stage__is_lost=False,
        expected_close_date__gte=period.start,
        expected_close_date__lte=period.end,
    )
    committed = [ForecastCategory.COMMIT, ForecastCategory.BEST_CASE]
    return {
        "won": won,
        "commit": open_ & Q(forecast_category=ForecastCategory.COMMIT),
        "best_case": open_ & Q(forecast_category=ForecastCategory.BEST_CASE),
        "pipeline": open_ & ~Q(forecast_category__in=committed),
        "open": open_,
        "weighted": open_,
        "forecast": won | (open_ & Q(forecast_category=ForecastCategory.COMMIT)),
    }


def _sum_when(condition: Q, value) -> Sum:
    return Sum(Case(When(condition, then=value), default=Value(ZERO), output_field=SUM_FIELD))


def forecast_totals_by_owner_currency(*, owner_ids: list[int], period: Period) -> list[dict]:
    """One row per (owner, currency): each figure's sum and count, computed in the database."""
    conditions = _conditions(period)
    annotations = {}
    for name in SUMMED:
        condition = conditions[name]
        value = F("amount") * F("stage__probability") if name == "weighted" else F("amount")
        annotations[name] = _sum_when(condition, value)
        annotations[f"{name}_n"] = Count("pk", filter=condition)
    return list(
        Opportunity.objects.filter(owner_id__in=owner_ids)
        .filter(conditions["won"] | conditions["open"])
        .values("owner_id", "currency")
        .annotate(**annotations)
        .order_by()
    )


def forecast_for(*, user: User, period: Period, rates: Rates | None = None) -> Forecast:
    """The forecast of every rep `user` reads, and their total (5 queries)."""
    reps = list(forecast_reps(user=user))
    owner_ids = [rep.pk for rep in reps]
    rows = {rep.pk: Figures(owner=rep) for rep in reps}
    rates = rates or Rates()
    excluded: dict[str, Excluded] = {}
    on = period.rate_date

    for group in forecast_totals_by_owner_currency(owner_ids=owner_ids, period=period):
        currency = group["currency"]
        row = rows[group["owner_id"]]
        try:
            rate = rates.rate(currency, on)
        except ValidationError:
            missing = excluded.setdefault(currency, Excluded(currency))
            missing.count += group["won_n"] + group["open_n"]
            missing.amount += group["won"] + group["open"]
            continue
        for name in SUMMED:
            amount = group[name] / 100 if name == "weighted" else group[name]
            converted = (amount * rate).quantize(CENT)
            setattr(row, name, getattr(row, name) + converted)
            row.counts[name] += group[f"{name}_n"]

    for owner_id, amount in (
        Quota.objects.filter(owner_id__in=owner_ids, month__gte=period.start, month__lte=period.end)
        .values("owner_id")
        .annotate(total=Sum("amount"))
        .values_list("owner_id", "total")
        .order_by()
    ):
        rows[owner_id].quota = amount.quantize(CENT)

    for adjustment in (
        ForecastAdjustment.objects.filter(
            owner_id__in=owner_ids, period_start=period.start, period_end=period.end
        )
        .select_related("by")
        .order_by("-at", "-id")
    ):
        row = rows[adjustment.owner_id]
        adjustment.owner = row.owner
        row.adjustments.append(adjustment)
        row.adjustment = row.adjustment or adjustment

    total = Figures()
    adjusted_total = ZERO
    for row in rows.values():
        total.add(row)
        adjusted_total += row.adjustment.amount if row.adjustment else row.forecast
    adjusted_any = any(row.adjustment for row in rows.values())
    total.adjusted_total = adjusted_total if adjusted_any else None
    return Forecast(
        period=period,
        currency=company_currency(),
        rows=list(rows.values()),
        total=total,
        excluded=sorted(excluded.values(), key=lambda e: e.currency),
        adjusted_any=adjusted_any,
    )


def forecast_chart_data(forecast: Forecast) -> dict:
    """Quota, won, commit and best case per rep, for Chart.js (numbers, not strings)."""
    rows = forecast.rows
    return {
        "currency": forecast.currency,
        "labels": [str(row.owner) for row in rows],
        "datasets": [
            {"label": _("Cuota"), "data": [float(r.quota) for r in rows]},
            {"label": _("Ganado"), "data": [float(r.won) for r in rows]},
            {"label": _("Compromiso"), "data": [float(r.commit) for r in rows]},
            {"label": _("Mejor escenario"), "data": [float(r.best_case) for r in rows]},
        ],
    }


# --- Drill-down ---------------------------------------------------------------------------


def forecast_deals(
    *,
    user: User,
    period: Period,
    figure: str,
    owner_id: int | None = None,
    currency: str | None = None,
) -> QuerySet[Opportunity]:
    """The deals behind one figure of the forecast that `user` reads.

    Raises Opportunity.DoesNotExist for an owner outside `user`'s forecast (the view answers
    404), and ValueError for an unknown figure.
    """
    if figure not in FIGURES:
        raise ValueError(figure)
    reps = forecast_reps(user=user)
    if owner_id is not None:
        if not reps.filter(pk=owner_id).exists():
            raise Opportunity.DoesNotExist
        owners = Q(owner_id=owner_id)
    else:
        owners = Q(owner__in=reps.values("pk"))
    qs = (
        Opportunity.objects.filter(opportunity_visible_q(user))
        .filter(owners, _conditions(period)[figure])
        .select_related("account", "owner", "stage")
    )
    if currency:
        qs = qs.filter(currency=currency)
    return qs.order_by("-amount", "id")


def deals_totals(*, deals: QuerySet[Opportunity], period: Period, rates: Rates) -> dict:
    """The converted total (and the weighted one) of a drill-down list, in one query."""
    total = weighted = ZERO
    count = 0
    excluded = []
    for currency, amount, weighted_amount, n in (
        deals.order_by()
        .values("currency")
        .annotate(
            total_amount=Sum("amount", output_field=SUM_FIELD),
            total_weighted=Sum(F("amount") * F("stage__probability"), output_field=SUM_FIELD),
            n=Count("pk"),
        )
        .values_list("currency", "total_amount", "total_weighted", "n")
    ):
        count += n
        try:
            rate = rates.rate(currency, period.rate_date)
        except ValidationError:
            excluded.append(Excluded(currency, n, amount))
            continue
        total += (amount * rate).quantize(CENT)
        weighted += (weighted_amount / 100 * rate).quantize(CENT)
    return {"total": total, "weighted": weighted, "count": count, "excluded": excluded}


def forecast_adjustment_history(*, user: User, period: Period) -> list[ForecastAdjustment]:
    """Every adjustment of the period for the reps `user` reads, newest first."""
    return list(
        ForecastAdjustment.objects.filter(
            owner__in=forecast_reps(user=user).values("pk"),
            period_start=period.start,
            period_end=period.end,
        )
        .select_related("owner", "by")
        .order_by("-at", "-id")
    )


def quota_grid(*, user: User, year: int) -> tuple[list[User], dict[tuple[int, date], Decimal]]:
    """The reps whose quotas `user` sets, and their quotas for the year by (owner, month)."""
    reps = list(manageable_reps(user=user))
    quotas = {
        (owner_id, month): amount
        for owner_id, month, amount in Quota.objects.filter(
            owner__in=[rep.pk for rep in reps], month__year=year
        ).values_list("owner_id", "month", "amount")
    }
    return reps, quotas


# --- Home page ----------------------------------------------------------------------------


@dataclass
class StageLine:
    stage_id: int
    name: str
    probability: int
    count: int = 0
    amount: Decimal = ZERO
    weighted: Decimal = ZERO


def pipeline_by_stage(*, user: User, rates: Rates | None = None) -> dict:
    """The user's own open deals by stage: count, amount and weighted, converted (1 query)."""
    rates = rates or Rates()
    today = timezone.localdate()
    lines: dict[int, StageLine] = {}
    excluded: dict[str, Excluded] = {}
    for group in (
        Opportunity.objects.filter(owner=user, stage__is_won=False, stage__is_lost=False)
        .values(
            "stage_id",
            "stage__name",
            "stage__probability",
            "stage__order",
            "stage__pipeline__name",
            "stage__pipeline__is_default",
            "currency",
        )
        .annotate(n=Count("pk"), total=Sum("amount", output_field=SUM_FIELD))
        .order_by("-stage__pipeline__is_default", "stage__pipeline__name", "stage__order")
    ):
        name = group["stage__name"]
        if not group["stage__pipeline__is_default"]:
            name = f"{group['stage__pipeline__name']} · {name}"
        line = lines.setdefault(
            group["stage_id"], StageLine(group["stage_id"], name, group["stage__probability"])
        )
        try:
            converted = rates.convert(group["total"], group["currency"], today)
        except ValidationError:
            missing = excluded.setdefault(group["currency"], Excluded(group["currency"]))
            missing.count += group["n"]
            missing.amount += group["total"]
            continue
        line.count += group["n"]
        line.amount += converted
        line.weighted += (converted * line.probability / 100).quantize(CENT)
    stages = list(lines.values())
    return {
        "stages": stages,
        "count": sum(line.count for line in stages),
        "amount": sum((line.amount for line in stages), ZERO),
        "weighted": sum((line.weighted for line in stages), ZERO),
        "excluded": sorted(excluded.values(), key=lambda e: e.currency),
        "currency": company_currency(),
    }
