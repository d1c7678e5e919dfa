"""The support dashboard (backlog, SLA compliance, response times, CSAT and NPS) and the
support part of the home page.

Every figure is aggregated in the database, grouped by agent (teams: by the agent's team), so
the page costs the same number of queries whatever the number of tickets. Times to first
response and to resolution are business hours, as the SLA measures them (support.sla: the
company's opening hours and days off), counted once per ticket when the target is reached and
stored on it (support.services.sla). The medians of those numbers are taken with
percentile_cont on PostgreSQL; elsewhere (SQLite) the period's numbers are read once and the
medians run in Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext as _

from crm.core.models import Role, Team, User
from support.models import OPEN_STATUSES, Priority, Survey, Ticket
from support.selectors.sla import sla_breached_q
from support.selectors.surveys import DETRACTOR, PASSIVE, PROMOTER, nps_from_counts
from support.selectors.tickets import ticket_queue_counts

AGE_BUCKETS = ("lt1", "d1_3", "d3_7", "gt7")
ONE_DAY = timedelta(days=1)
HOME_QUEUES = ("mine", "unassigned", "team", "soon", "breached", "waiting")
TREND_MONTHS = 6


@dataclass
class Figures:
    """One row of the dashboard: an agent, a team, or everyone in the filter."""

    label: str
    pk: int | None = None
    backlog: int = 0
    breached_open: int = 0
    first_n: int = 0  # first responses given in the period
    first_met: int = 0
    resolved_n: int = 0  # tickets resolved in the period
    resolved_met: int = 0
    first_median: timedelta | None = None
    resolution_median: timedelta | None = None
    csat_sum: int = 0
    csat_n: int = 0

    @property
    def first_pct(self) -> float | None:
        return 100 * self.first_met / self.first_n if self.first_n else None

    @property
    def resolution_pct(self) -> float | None:
        return 100 * self.resolved_met / self.resolved_n if self.resolved_n else None

    @property
    def csat(self) -> float | None:
        return self.csat_sum / self.csat_n if self.csat_n else None

    @property
    def first_hours(self) -> float | None:
        return _hours(self.first_median)

    @property
    def resolution_hours(self) -> float | None:
        return _hours(self.resolution_median)

    def add_counts(self, other: Figures) -> None:
        """Backlog and CSAT add up across agents (durations do not: see Reached)."""
        for name in ("backlog", "breached_open", "csat_sum", "csat_n"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _hours(value: timedelta | None) -> float | None:
    return value.total_seconds() / 3600 if value is not None else None


@dataclass(frozen=True)
class Scope:
    """Whose tickets: everyone's, a team's (by the assignee's team) or one agent's."""

    team: Team | None = None
    agent: User | None = None

    def tickets(self, prefix: str = "") -> Q:
        if self.agent is not None:
            return Q(**{f"{prefix}assignee": self.agent})
        if self.team is not None:
            return Q(**{f"{prefix}assignee__team": self.team})
        return Q()


def backlog_by_age(*, scope: Scope, now: datetime) -> tuple[list[dict], dict[int | None, dict]]:
    """Open tickets by priority × age bucket, and each assignee's open and breached counts."""
    day = ONE_DAY
    buckets = {
        "lt1": Q(created_at__gt=now - day),
        "d1_3": Q(created_at__gt=now - 3 * day, created_at__lte=now - day),
        "d3_7": Q(created_at__gt=now - 7 * day, created_at__lte=now - 3 * day),
        "gt7": Q(created_at__lte=now - 7 * day),
    }
    rows = (
        Ticket.objects.filter(scope.tickets(), status__in=OPEN_STATUSES)
        .values("assignee_id", "priority")
        .annotate(
            **{name: Count("pk", filter=condition) for name, condition in buckets.items()},
            breached=Count("pk", filter=sla_breached_q(now)),
        )
        .order_by()
    )
    matrix = {p: dict.fromkeys(AGE_BUCKETS, 0) for p in Priority.values}
    per_assignee: dict[int | None, dict] = defaultdict(lambda: {"open": 0, "breached": 0})
    for row in rows:
        for name in AGE_BUCKETS:
            matrix[row["priority"]][name] += row[name]
        per_assignee[row["assignee_id"]]["open"] += sum(row[name] for name in AGE_BUCKETS)
        per_assignee[row["assignee_id"]]["breached"] += row["breached"]
    order = [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW]
    table = [
        {
            "priority": priority,
            "label": priority.label,
            "cells": [matrix[priority][name] for name in AGE_BUCKETS],
            "total": sum(matrix[priority].values()),
        }
        for priority in order
    ]
    return table, per_assignee


@dataclass
class Reached:
    """The targets a group of tickets reached in the period: how many, how many on time, and
    the median business time each took."""

    first_n: int = 0
    first_met: int = 0
    resolved_n: int = 0
    resolved_met: int = 0
    first_median: float | None = None  # business minutes
    resolution_median: float | None = None

    def apply(self, row: Figures) -> None:
        row.first_n, row.first_met = self.first_n, self.first_met
        row.resolved_n, row.resolved_met = self.resolved_n, self.resolved_met
        row.first_median = _minutes(self.first_median)
        row.resolution_median = _minutes(self.resolution_median)


def _minutes(value: float | None) -> timedelta | None:
    return timedelta(minutes=value) if value is not None else None


Groups = tuple[dict[int | None, Reached], dict[int | None, Reached], Reached]


def reached_tickets(*, scope: Scope, start: datetime, end: datetime) -> QuerySet[Ticket]:
    """The scope's tickets with a first response or a resolution in [start, end), each with
    `first_in` and `resolved_in`: which of the two fell in the period."""
    first_in = Q(first_response_at__gte=start, first_response_at__lt=end)
    resolved_in = Q(resolved_at__gte=start, resolved_at__lt=end)
    return (
        Ticket.objects.filter(scope.tickets())
        .filter(first_in | resolved_in)
        .annotate(
            first_in=ExpressionWrapper(first_in, output_field=BooleanField()),
            resolved_in=ExpressionWrapper(resolved_in, output_field=BooleanField()),
        )
        .order_by()
    )


def reached_in_period(*, scope: Scope, start: datetime, end: datetime) -> Groups:
    """First responses and resolutions given in [start, end): per assignee, per team (the
    assignee's; unassigned tickets belong to none), overall. Met: the SLA target was not
    breached (frozen when reached). The business minutes each took were stored on the ticket
    when it was reached (support.services.sla): nothing here reads the calendar."""
    tickets = reached_tickets(scope=scope, start=start, end=end)
    if connection.vendor == "postgresql":
        return _reached_in_database(tickets)
    return _reached_in_python(tickets)


# One pass over the period's tickets: counted and their medians taken per agent, per team and
# overall (GROUPING SETS). percentile_cont(0.5) is statistics.median (the mean of the middle
# two of an even count); both ignore a missing number.
REACHED_SQL = """
SELECT GROUPING(t.agent), GROUPING(t.team), t.agent, t.team,
       COUNT(*) FILTER (WHERE t.first_in),
       COUNT(*) FILTER (WHERE t.first_in AND NOT t.first_late),
       COUNT(*) FILTER (WHERE t.resolved_in),
       COUNT(*) FILTER (WHERE t.resolved_in AND NOT t.resolved_late),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.first_minutes) FILTER (WHERE t.first_in),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.resolved_minutes)
           FILTER (WHERE t.resolved_in)
FROM ({tickets}) AS t
GROUP BY GROUPING SETS ((t.agent), (t.team), ())
"""
NO_TEAM = 0  # the team key of an agent without a team (unassigned tickets have none at all)


def _reached_in_database(tickets: QuerySet[Ticket]) -> Groups:
    inner = tickets.annotate(
        agent=F("assignee_id"),
        team=Case(
            When(assignee__isnull=True, then=Value(None)),
            default=Coalesce(F("assignee__team_id"), Value(NO_TEAM)),
        ),
        first_late=F("first_response_breached"),
        resolved_late=F("resolution_breached"),
        first_minutes=F("first_response_business_minutes"),
        resolved_minutes=F("resolution_business_minutes"),
    ).values(
        "agent",
        "team",
        "first_in",
        "resolved_in",
        "first_late",
        "resolved_late",
        "first_minutes",
        "resolved_minutes",
    )
    sql, params = inner.query.sql_with_params()
    by_agent: dict[int | None, Reached] = {}
    by_team: dict[int | None, Reached] = {}
    overall = Reached()
    with connection.cursor() as cursor:
        cursor.execute(REACHED_SQL.format(tickets=sql), params)
        for not_agent, not_team, agent, team, *figures in cursor.fetchall():
            group = Reached(*figures)
            if not not_agent:
                by_agent[agent] = group
            elif not not_team:
                if team is not None:  # None: the unassigned tickets, of no team
                    by_team[None if team == NO_TEAM else team] = group
            else:
                overall = group
    return by_agent, by_team, overall


def _reached_in_python(tickets: QuerySet[Ticket]) -> Groups:
    """One read of the period's flags and stored minutes; counts and medians here."""
    rows = tickets.values_list(
        "assignee_id",
        "assignee__team_id",
        "first_in",
        "first_response_breached",
        "first_response_business_minutes",
        "resolved_in",
        "resolution_breached",
        "resolution_business_minutes",
    )
    # Per agent: [first_n, first_met, resolved_n, resolved_met, first times, resolution times].
    agents: dict[int | None, list] = {}
    team_of: dict[int, int | None] = {}
    for agent_id, team_id, *reached in rows:
        first_in, first_late, first_minutes, resolved_in, resolved_late, resolved_minutes = reached
        acc = agents.get(agent_id)
        if acc is None:
            acc = agents[agent_id] = [0, 0, 0, 0, [], []]
            if agent_id is not None:
                team_of[agent_id] = team_id
        if first_in:
            acc[0] += 1
            acc[1] += not first_late
            if first_minutes is not None:
                acc[4].append(first_minutes)
        if resolved_in:
            acc[2] += 1
            acc[3] += not resolved_late
            if resolved_minutes is not None:
                acc[5].append(resolved_minutes)
    if not agents:
        return {}, {}, Reached()

    def group(accs: list[list]) -> Reached:
        firsts = [t for acc in accs for t in acc[4]]
        resolutions = [t for acc in accs for t in acc[5]]
        return Reached(
            first_n=sum(acc[0] for acc in accs),
            first_met=sum(acc[1] for acc in accs),
            resolved_n=sum(acc[2] for acc in accs),
            resolved_met=sum(acc[3] for acc in accs),
            first_median=statistics.median(firsts) if firsts else None,
            resolution_median=statistics.median(resolutions) if resolutions else None,
        )

    teams: dict[int | None, list[list]] = defaultdict(list)
    for agent_id, team_id in team_of.items():
        teams[team_id].append(agents[agent_id])
    return (
        {agent_id: group([acc]) for agent_id, acc in agents.items()},
        {team_id: group(accs) for team_id, accs in teams.items()},
        group(list(agents.values())),
    )


def csat_by_assignee(*, scope: Scope, start: datetime, end: datetime) -> dict[int | None, dict]:
    rows = (
        Survey.objects.filter(
            scope.tickets(prefix="ticket__"),
            kind=Survey.Kind.CSAT,
            answered_at__gte=start,
            answered_at__lt=end,
        )
        .values("ticket__assignee_id")
        .annotate(total=Sum("score"), n=Count("pk"))
        .order_by()
    )
    return {row["ticket__assignee_id"]: row for row in rows}


def month_starts(today: date, months: int = TREND_MONTHS) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for back in range(months - 1, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        starts.append(date(index // 12, index % 12 + 1, 1))
    return starts


def month_label(month: date) -> str:
    return f"{str(MONTHS_3[month.month]).capitalize()} {month.year}"


def _as_month(value) -> date:
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date().replace(day=1)
    return value.replace(day=1)


def satisfaction_trend(*, scope: Scope, now: datetime) -> dict:
    """CSAT average (the scope's tickets) and NPS (the whole company) per month."""
    tz = timezone.get_current_timezone()
    months = month_starts(timezone.localtime(now).date())
    since = datetime.combine(months[0], datetime.min.time(), tzinfo=tz)
    answered = Survey.objects.filter(answered_at__gte=since, answered_at__lte=now)
    csat = {
        _as_month(row["month"]): row
        for row in answered.filter(scope.tickets(prefix="ticket__"), kind=Survey.Kind.CSAT)
        .annotate(month=TruncMonth("answered_at", tzinfo=tz))
        .values("month")
        .annotate(total=Sum("score"), n=Count("pk"))
        .order_by()
    }
    nps = {
        _as_month(row["month"]): row
        for row in answered.filter(kind=Survey.Kind.NPS)
        .annotate(month=TruncMonth("answered_at", tzinfo=tz))
        .values("month")
        .annotate(
            promoters=Count("pk", filter=PROMOTER),
            passives=Count("pk", filter=PASSIVE),
            detractors=Count("pk", filter=DETRACTOR),
        )
        .order_by()
    }
    rows = []
    for month in months:
        c = csat.get(month)
        n = nps.get(month)
        rows.append(
            {
                "month": month,
                "csat": c["total"] / c["n"] if c and c["n"] else None,
                "csat_n": c["n"] if c else 0,
                **nps_from_counts(
                    promoters=n["promoters"] if n else 0,
                    passives=n["passives"] if n else 0,
                    detractors=n["detractors"] if n else 0,
                ),
            }
        )
    return {
        "rows": rows,
        "chart": {
            "labels": [month_label(month) for month in months],
            "csat": [round(r["csat"], 2) if r["csat"] is not None else None for r in rows],
            "nps": [r["nps"] for r in rows],
            "csat_label": _("CSAT (1-5)"),
            "nps_label": _("NPS (-100 a 100)"),
        },
    }


def nps_in_period(*, start: datetime, end: datetime) -> dict:
    counts = Survey.objects.filter(
        kind=Survey.Kind.NPS, answered_at__gte=start, answered_at__lt=end
    ).aggregate(
        promoters=Count("pk", filter=PROMOTER),
        passives=Count("pk", filter=PASSIVE),
        detractors=Count("pk", filter=DETRACTOR),
    )
    return nps_from_counts(**counts)


def support_dashboard(
    *,
    days: int = 30,
    team: Team | None = None,
    agent: User | None = None,
    now: datetime | None = None,
) -> dict:
    """Every figure of the support dashboard for the last `days` days (constant queries)."""
    now = now or timezone.now()
    start = now - timedelta(days=days)
    scope = Scope(team=team, agent=agent)
    backlog, open_by = backlog_by_age(scope=scope, now=now)
    by_agent, by_team, overall = reached_in_period(scope=scope, start=start, end=now)
    csat = csat_by_assignee(scope=scope, start=start, end=now)

    agent_ids = {pk for pk in (*open_by, *by_agent, *csat) if pk is not None}
    agents_q = Q(pk__in=agent_ids)
    if agent is not None:
        agents_q |= Q(pk=agent.pk)
    else:
        agents_q |= Q(is_active=True, role=Role.SOPORTE, **({"team": team} if team else {}))
    users = {u.pk: u for u in User.objects.filter(agents_q).select_related("team")}

    rows: dict[int | None, Figures] = {}
    for pk in sorted(set(users) | {None}, key=lambda pk: (pk is None, str(users.get(pk, "")))):
        label = str(users[pk]) if pk is not None else _("Sin asignar")
        row = Figures(label=label, pk=pk)
        row.backlog = open_by.get(pk, {}).get("open", 0)
        row.breached_open = open_by.get(pk, {}).get("breached", 0)
        if pk in by_agent:
            by_agent[pk].apply(row)
        row.csat_sum = csat.get(pk, {}).get("total") or 0
        row.csat_n = csat.get(pk, {}).get("n", 0)
        rows[pk] = row
    unassigned = rows.pop(None)

    teams: dict[int | None, Figures] = {}
    total = Figures(label=_("Total"))
    for pk, row in rows.items():
        user_team = users[pk].team
        key = user_team.pk if user_team else None
        if key not in teams:
            teams[key] = Figures(label=user_team.name if user_team else _("Sin equipo"), pk=key)
        teams[key].add_counts(row)
    for key, team_row in teams.items():
        if key in by_team:
            by_team[key].apply(team_row)
    for row in (*rows.values(), unassigned):
        total.add_counts(row)
    overall.apply(total)

    return {
        "days": days,
        "start": start,
        "now": now,
        "scope": scope,
        "backlog": backlog,
        "backlog_total": sum(row["total"] for row in backlog),
        "agents": list(rows.values()),
        "unassigned": unassigned,
        "teams": sorted(teams.values(), key=lambda t: (t.pk is None, t.label)),
        "total": total,
        "nps": nps_in_period(start=start, end=now),
        "trend": satisfaction_trend(scope=scope, now=now),
    }


# --- The home page of a support agent ------------------------------------------------------


def support_home(*, user: User, now: datetime | None = None) -> dict:
    """The queue counts of a support agent's home, as the queues' tabs count them (one query):
    every open ticket, mine, unassigned, my team's, about to breach, breached, waiting."""
    counts = ticket_queue_counts(user=user, now=now)
    return {
        "backlog": counts.get("", 0),
        **{queue: counts.get(queue, 0) for queue in HOME_QUEUES},
    }
