"""Sales analytics for managers: win rate, deal size, cycle, stage funnel, activity per week.

Every figure is for the chosen period and the reps the manager reads (their teams; everyone
for an administrator), aggregated in the database: the page costs the same number of queries
whatever the number of deals and activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.models import User
from opportunities.models import Activity, Opportunity, Pipeline, Stage, StageChange
from opportunities.money import CENT, Rates, company_currency
from opportunities.selectors.forecast import Excluded, Period, forecast_reps

ZERO = Decimal("0.00")
SUM_FIELD = DecimalField(max_digits=24, decimal_places=2)


@dataclass
class RepAnalytics:
    owner: User | None
    won_n: int = 0
    lost_n: int = 0
    won_amount: Decimal = ZERO
    won_amount_n: int = 0  # won deals whose amount could be converted
    cycle: timedelta | None = None
    activities: dict[date, int] = field(default_factory=dict)
    weekly: list[int] = field(default_factory=list)  # aligned with the period's weeks

    @property
    def closed_n(self) -> int:
        return self.won_n + self.lost_n

    @property
    def win_rate(self) -> Decimal | None:
        if not self.closed_n:
            return None
        return (Decimal(self.won_n) * 100 / self.closed_n).quantize(Decimal("0.1"))

    @property
    def average_deal(self) -> Decimal | None:
        if not self.won_amount_n:
            return None
        return (self.won_amount / self.won_amount_n).quantize(CENT)

    @property
    def cycle_days(self) -> Decimal | None:
        if self.cycle is None:
            return None
        return Decimal(self.cycle.total_seconds() / 86400).quantize(Decimal("0.1"))

    @property
    def activities_total(self) -> int:
        return sum(self.activities.values())


@dataclass
class FunnelStep:
    stage: Stage
    reached: int
    conversion: Decimal | None  # % of the previous step that reached this one


def _closed_in(period: Period) -> Q:
    start, end = period.datetime_range()
    return Q(closed_at__gte=start, closed_at__lt=end)


def period_weeks(period: Period) -> list[date]:
    """The Mondays of the weeks that touch the period."""
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def sales_funnel(*, owner_ids: list[int], period: Period, pipeline: Pipeline) -> list[FunnelStep]:
    """How many deals created in the period reached each stage (from the stage history).

    A deal "reached" a stage when its history (or its current stage) got to that stage or a
    later one; a deal that skipped a stage still counts for it. Lost stages are not steps.
    """
    stages = list(pipeline.stages.filter(is_lost=False).order_by("order"))
    furthest_in_history = (
        StageChange.objects.filter(opportunity=OuterRef("pk"), to_stage__is_lost=False)
        .order_by()
        .values("opportunity")
        .annotate(furthest=Max("to_stage__order"))
        .values("furthest")
    )
    start, end = period.datetime_range()
    buckets = dict(
        Opportunity.objects.filter(
            owner_id__in=owner_ids, pipeline=pipeline, created_at__gte=start, created_at__lt=end
        )
        .annotate(
            furthest=Greatest(
                Coalesce(Subquery(furthest_in_history, output_field=IntegerField()), Value(0)),
                Case(
                    When(stage__is_lost=False, then=F("stage__order")),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
            )
        )
        .values("furthest")
        .annotate(n=Count("pk"))
        .values_list("furthest", "n")
        .order_by()
    )
    steps = []
    previous = None
    for stage in stages:
        reached = sum(n for furthest, n in buckets.items() if furthest >= stage.order)
        conversion = None
        if previous is not None and previous:
            conversion = (Decimal(reached) * 100 / previous).quantize(Decimal("0.1"))
        steps.append(FunnelStep(stage=stage, reached=reached, conversion=conversion))
        previous = reached
    return steps


def sales_analytics(
    *, user: User, period: Period, pipeline: Pipeline | None = None, rates: Rates | None = None
) -> dict:
    """Every figure of the analytics page (8 queries, whatever the number of rows)."""
    reps = list(forecast_reps(user=user))
    owner_ids = [rep.pk for rep in reps]
    rows = {rep.pk: RepAnalytics(owner=rep) for rep in reps}
    total = RepAnalytics(owner=None)
    rates = rates or Rates()
    excluded: dict[str, Excluded] = {}
    closed = Opportunity.objects.filter(owner_id__in=owner_ids).filter(_closed_in(period))
    won = Q(stage__is_won=True)
    lost = Q(stage__is_lost=True)

    for group in (
        closed.filter(won | lost)
        .values("owner_id", "currency")
        .annotate(
            won_n=Count("pk", filter=won),
            lost_n=Count("pk", filter=lost),
            won_amount=Sum(
                Case(When(won, then=F("amount")), default=Value(ZERO), output_field=SUM_FIELD)
            ),
        )
        .order_by()
    ):
        row = rows[group["owner_id"]]
        for target in (row, total):
            target.won_n += group["won_n"]
            target.lost_n += group["lost_n"]
        try:
            converted = rates.convert(group["won_amount"], group["currency"], period.rate_date)
        except ValidationError:
            if group["won_n"]:
                missing = excluded.setdefault(group["currency"], Excluded(group["currency"]))
                missing.count += group["won_n"]
                missing.amount += group["won_amount"]
            continue
        for target in (row, total):
            target.won_amount += converted
            target.won_amount_n += group["won_n"]

    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    won_deals = closed.filter(won, closed_at__isnull=False)
    cycle_sum, cycle_n = timedelta(0), 0
    for owner_id, average, n in (
        won_deals.values("owner_id")
        .annotate(cycle=Avg(cycle), n=Count("pk"))
        .values_list("owner_id", "cycle", "n")
        .order_by()
    ):
        rows[owner_id].cycle = average
        cycle_sum += average * n
        cycle_n += n
    # The team's mean over every deal, from each rep's mean and count (no second query).
    total.cycle = cycle_sum / cycle_n if cycle_n else None

    weeks = period_weeks(period)
    week_start = weeks[0]
    week_end = period.end + timedelta(days=7 - period.end.weekday())
    tz = timezone.get_current_timezone()
    for owner_id, week, n in (
        Activity.objects.filter(
            owner_id__in=owner_ids,
            status=Activity.Status.DONE,
            done_at__gte=datetime.combine(week_start, time.min, tzinfo=tz),
            done_at__lt=datetime.combine(week_end, time.min, tzinfo=tz),
        )
        .annotate(week=TruncWeek("done_at"))
        .values("owner_id", "week")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "week", "n")
        .order_by()
    ):
        week = week.date() if hasattr(week, "date") else week
        rows[owner_id].activities[week] = rows[owner_id].activities.get(week, 0) + n
        total.activities[week] = total.activities.get(week, 0) + n

    for row in [*rows.values(), total]:
        row.weekly = [row.activities.get(week, 0) for week in weeks]

    pipeline = pipeline or Pipeline.objects.filter(is_default=True).first()
    funnel = sales_funnel(owner_ids=owner_ids, period=period, pipeline=pipeline) if pipeline else []
    return {
        "period": period,
        "currency": company_currency(),
        "rows": list(rows.values()),
        "total": total,
        "weeks": weeks,
        "funnel": funnel,
        "pipeline": pipeline,
        "excluded": sorted(excluded.values(), key=lambda e: e.currency),
        "funnel_chart": {
            "labels": [step.stage.name for step in funnel],
            "data": [step.reached for step in funnel],
            "label": _("Oportunidades"),
        },
    }


def team_activity_week(*, user: User, today: date | None = None) -> dict:
    """Activities of the reps `user` reads this week (Monday on): done and still planned."""
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, time.min, tzinfo=tz)
    end = start + timedelta(days=7)
    done = Q(status=Activity.Status.DONE, done_at__gte=start, done_at__lt=end)
    planned = Q(status=Activity.Status.PLANNED, planned_at__gte=start, planned_at__lt=end)
    by_owner = {
        row["owner_id"]: row
        for row in Activity.objects.filter(owner__in=forecast_reps(user=user).values("pk"))
        .filter(done | planned)
        .values("owner_id")
        .annotate(done=Count("pk", filter=done), planned=Count("pk", filter=planned))
        .order_by()
    }
    return {
        "week_start": monday,
        "by_owner": {owner_id: row["done"] for owner_id, row in by_owner.items()},
        "done": sum(row["done"] for row in by_owner.values()),
        "planned": sum(row["planned"] for row in by_owner.values()),
    }
