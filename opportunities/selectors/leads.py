"""Reads of lead routing: the MQLs waiting for a rep, the assignments each user may see, the
rules, and the manager's report (response time, and the funnel per source and month).

Visibility is the owner rule of the rest of the sales app, on the assignment's rep: a rep sees
their own, a manager their teams' (and their own), an administrator all, anyone else none.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncMonth
from django.utils import timezone

from contacts.models import Contact, LeadSource, Lifecycle, ScoreChange
from crm.core.db import get_prepared
from crm.core.models import Role, Team, User
from crm.core.permissions import editable_by_owner_q
from opportunities.models import LeadAssignment, RoutingRule


def lead_visible_q(user: User) -> Q:
    return editable_by_owner_q(user, "rep")


# --- The job's work ------------------------------------------------------------------------------


def mql_unrouted() -> QuerySet[Contact]:
    """Live MQL contacts whose latest crossing (ScoreChange with became_mql) has no assignment,
    with that crossing's id as `mql_change_id`.

    Driven from the contacts at MQL (an index on lifecycle), not from the score history (which
    grows every night): a contact made MQL by hand has no crossing and is not routed; one that
    went back to lead and crossed again has a newer crossing, routed anew."""
    latest = (
        ScoreChange.objects.filter(contact=OuterRef("pk"), became_mql=True)
        .order_by("-at", "-pk")
        .values("pk")[:1]
    )
    return (
        Contact.objects.filter(
            lifecycle=Lifecycle.MQL,
            archived_at__isnull=True,
            erased_at__isnull=True,
            merged_into__isnull=True,
        )
        .annotate(mql_change_id=Subquery(latest))
        .filter(mql_change_id__isnull=False)
        .exclude(Exists(LeadAssignment.objects.filter(score_change_id=OuterRef("mql_change_id"))))
        .order_by("pk")
    )


# --- Assignments ---------------------------------------------------------------------------------

LIST_STATUSES = {
    "pendientes": [LeadAssignment.Status.PENDING],
    "respondidos": [LeadAssignment.Status.ACCEPTED, LeadAssignment.Status.REJECTED],
    "todos": None,
}


def lead_list(*, user: User, status: str = "pendientes") -> QuerySet[LeadAssignment]:
    """The assignments `user` may see; pending ones first due first, the rest newest first."""
    qs = LeadAssignment.objects.filter(lead_visible_q(user)).select_related(
        "contact__account", "rep", "task", "rule"
    )
    statuses = LIST_STATUSES.get(status, LIST_STATUSES["pendientes"])
    if statuses is not None:
        qs = qs.filter(status__in=statuses)
    if status == "pendientes":
        return qs.order_by("due_at", "pk")
    return qs.order_by("-assigned_at", "-pk")


def lead_detail(*, user: User, pk: int) -> LeadAssignment:
    """One assignment, if `user` may see it (else LeadAssignment.DoesNotExist: a 404)."""
    return get_prepared(
        LeadAssignment.objects.filter(lead_visible_q(user)).select_related(
            "contact__account", "rep", "task", "rule", "responded_by", "score_change"
        ),
        pk=pk,
    )


# --- Rules ---------------------------------------------------------------------------------------


def routing_rule_list() -> QuerySet[RoutingRule]:
    return RoutingRule.objects.select_related("rep", "team", "last_assigned").order_by(
        "-active", "order", "pk"
    )


def rule_targets() -> tuple[QuerySet[User], QuerySet[Team]]:
    """Whom a rule may give leads to: active sellers, and teams that have active reps."""
    reps = User.objects.filter(is_active=True, role__in=[Role.VENDEDOR, Role.GERENTE]).order_by(
        "first_name", "last_name", "username"
    )
    teams = Team.objects.filter(
        Exists(User.objects.filter(team=OuterRef("pk"), is_active=True, role=Role.VENDEDOR))
    ).order_by("name")
    return reps, teams


# --- The manager's report ------------------------------------------------------------------------

# The stages of the funnel, in order; an inactive customer was a customer.
FUNNEL = [
    ("subscriber", Lifecycle.SUBSCRIBER),
    ("lead", Lifecycle.LEAD),
    ("mql", Lifecycle.MQL),
    ("sql", Lifecycle.SQL),
    ("customer", Lifecycle.CUSTOMER),
]
_ORDER = [Lifecycle.SUBSCRIBER, Lifecycle.LEAD, Lifecycle.MQL, Lifecycle.SQL, Lifecycle.CUSTOMER]


def _at_or_past(stage: str) -> list[str]:
    past = _ORDER[_ORDER.index(stage) :]
    return [*past, Lifecycle.INACTIVE] if Lifecycle.CUSTOMER in past else past


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


@dataclass
class ResponseRow:
    rep: User | None
    assigned: int = 0
    accepted: int = 0
    rejected: int = 0
    pending: int = 0
    overdue: int = 0
    hours: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None

    @property
    def p90(self) -> float | None:
        return percentile(self.hours, 90)

    @property
    def acceptance(self) -> float | None:
        answered = self.accepted + self.rejected
        return 100 * self.accepted / answered if answered else None


@dataclass
class FunnelRow:
    key: object  # a month (date) or a lead source's code
    label: str
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _s in FUNNEL})

    def add(self, counts: dict[str, int]) -> None:
        for key in self.counts:
            self.counts[key] += counts[key]

    @property
    def steps(self) -> list[tuple[int, float | None]]:
        """Each stage's count and the % of the stage before that reached it."""
        out, before = [], None
        for key, _stage in FUNNEL:
            n = self.counts[key]
            out.append((n, 100 * n / before if before else None))
            before = n
        return out


def _month_bounds(start: date, end: date, zone) -> tuple[datetime, datetime]:
    """From the first instant of `start`'s month to the first of the month after `end`'s."""
    after = date(end.year + end.month // 12, end.month % 12 + 1, 1)
    return (
        datetime.combine(start.replace(day=1), datetime.min.time(), tzinfo=zone),
        datetime.combine(after, datetime.min.time(), tzinfo=zone),
    )


def lead_response_times(
    *, user: User, start: date, end: date, source: str = "", now: datetime | None = None
) -> tuple[list[ResponseRow], ResponseRow]:
    """Per rep, the leads assigned in the months [start, end]: how many, their answers, and
    the hours from assignment to the answer (median, p90; wall-clock hours). Two queries."""
    now = now or timezone.now()
    low, high = _month_bounds(start, end, timezone.get_current_timezone())
    qs = LeadAssignment.objects.filter(
        lead_visible_q(user), assigned_at__gte=low, assigned_at__lt=high
    ).exclude(status=LeadAssignment.Status.SUPERSEDED)
    if source:
        qs = qs.filter(contact__lead_source=source)
    rows: dict[int, ResponseRow] = {}
    total = ResponseRow(rep=None)
    values = qs.values_list("rep_id", "status", "assigned_at", "responded_at", "due_at")
    for rep_id, status, assigned_at, responded_at, due_at in values:
        row = rows.setdefault(rep_id, ResponseRow(rep=None))
        for each in (row, total):
            each.assigned += 1
            if status == LeadAssignment.Status.PENDING:
                each.pending += 1
                each.overdue += due_at < now
            else:
                each.accepted += status == LeadAssignment.Status.ACCEPTED
                each.rejected += status == LeadAssignment.Status.REJECTED
                each.hours.append((responded_at - assigned_at).total_seconds() / 3600)
    reps = User.objects.in_bulk(list(rows))
    for rep_id, row in rows.items():
        row.rep = reps.get(rep_id)
    ordered = sorted(rows.values(), key=lambda r: (str(r.rep or ""), r.rep.pk if r.rep else 0))
    return ordered, total


def _reached(stage: str) -> Q:
    """The contact is at this stage or past it now, or was at some time (its history)."""
    stages = _at_or_past(stage)
    history = Contact.history.model.objects.filter(id=OuterRef("pk"), lifecycle__in=stages)
    return Q(lifecycle__in=stages) | Q(Exists(history))


def lead_funnel(
    *, user: User, start: date, end: date, source: str = ""
) -> tuple[list[FunnelRow], list[FunnelRow], FunnelRow]:
    """The funnel subscriber → lead → MQL → SQL → customer of the contacts created in the
    months [start, end], by month of creation and by lead source, with the total.

    A contact counts at every stage it reached: its lifecycle now, or any in its history
    (contacts' HistoricalContact), so a rejected lead that went back still counts as MQL and
    an inactive customer as customer. One grouped query. A manager sees their teams' contacts
    (by current owner), an administrator all."""
    zone = timezone.get_current_timezone()
    low, high = _month_bounds(start, end, zone)
    qs = Contact.objects.filter(
        editable_by_owner_q(user),
        created_at__gte=low,
        created_at__lt=high,
        merged_into__isnull=True,
    )
    if source:
        qs = qs.filter(lead_source=source)
    grouped = (
        qs.annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month", "lead_source")
        .annotate(
            subscriber=Count("pk"),  # every contact entered the funnel at some stage
            **{key: Count("pk", filter=_reached(stage)) for key, stage in FUNNEL[1:]},
        )
        .order_by("month", "lead_source")
    )
    labels = dict(LeadSource.choices)
    by_month: dict[date, FunnelRow] = {}
    by_source: dict[str, FunnelRow] = {}
    total = FunnelRow(key=None, label="")
    for row in grouped:
        month = row["month"]
        month = month.date() if isinstance(month, datetime) else month
        counts = {key: row[key] for key, _stage in FUNNEL}
        by_month.setdefault(month, FunnelRow(key=month, label="")).add(counts)
        code = row["lead_source"]
        by_source.setdefault(code, FunnelRow(key=code, label=str(labels.get(code, code)))).add(
            counts
        )
        total.add(counts)
    months = [by_month[m] for m in sorted(by_month)]
    sources = sorted(by_source.values(), key=lambda r: -r.counts["subscriber"])
    return months, sources, total
