"""Every read of tickets: the queues, the ticket page and its customer context, the panels.

Visibility is `ticket_visible_q` (support and administrators all, a rep the tickets of the
accounts they own, a manager those of their teams' accounts, marketing none), applied here and
nowhere else.
"""

import datetime
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Lookup, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Account
from contacts.models import Contact
from crm.core.db import get_prepared
from crm.core.models import User
from crm.core.text import fold
from opportunities.models import Activity, Opportunity
from opportunities.permissions import activity_visible_q, can_sell, opportunity_visible_q
from support.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    ContactSatisfaction,
    StatusChange,
    Ticket,
)
from support.permissions import ticket_visible_q
from support.selectors import sla

# The queues of the list; "" (the default) is every open ticket, "all" also the closed ones.
# A word typed as a ticket's number ("INC-2026-000123", folded): only numbers hold it.
NUMBER_WORD = re.compile(r"^inc-\d{4}-\d{1,6}$")
QUEUES = ("", "mine", "unassigned", "team", "soon", "breached", "waiting", "all")
CONTEXT_ACTIVITIES = 5
CONTEXT_TICKETS = 5
CONTEXT_OPPORTUNITIES = 5
PANEL_LIMIT = 10

# Most urgent first: urgente, alta, media, baja.
PRIORITY_ORDER = Case(
    *(When(priority=priority, then=Value(rank)) for priority, rank in PRIORITY_RANK.items()),
    default=Value(len(PRIORITY_RANK)),
    output_field=IntegerField(),
)
# The next target that falls due: the first response while none was given, then the
# resolution. Null while the clock is stopped (waiting for the customer).
NEXT_DUE = Case(
    When(
        first_response_at__isnull=True,
        first_response_due__isnull=False,
        then=F("first_response_due"),
    ),
    default=F("resolution_due"),
)
# The panels: open tickets first, most urgent first; then the others.
URGENCY = Case(
    When(status__in=OPEN_STATUSES, then=PRIORITY_ORDER),
    default=Value(len(PRIORITY_RANK) + 1),
    output_field=IntegerField(),
)


def ticket_base(*, user: User) -> QuerySet[Ticket]:
    return Ticket.objects.filter(ticket_visible_q(user))


def _team_q(user: User) -> Q:
    """Tickets assigned to someone of the user's team, or of the teams they lead."""
    condition = Q(assignee__team__manager=user)
    if user.team_id:
        condition |= Q(assignee__team_id=user.team_id)
    return condition


def queue_q(queue: str, *, user: User, now: datetime.datetime) -> Q:
    """The condition of a queue, besides being open (see `ticket_list`)."""
    if queue == "mine":
        return Q(assignee=user)
    if queue == "unassigned":
        return Q(assignee__isnull=True)
    if queue == "team":
        return _team_q(user)
    if queue == "soon":
        return sla.sla_due_soon_q(now)
    if queue == "breached":
        return sla.sla_breached_q(now)
    if queue == "waiting":
        return Q(status=Ticket.Status.WAITING)
    return Q()


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight of `day` where the user is (the active time zone), as an aware datetime."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _filtered(qs: QuerySet[Ticket], filters: dict) -> QuerySet[Ticket]:
    for name in ("priority", "category", "channel"):
        if values := filters.get(name):
            qs = qs.filter(**{f"{name}__in": values})
    for name in ("assignee", "account", "contact"):
        if value := filters.get(name):
            qs = qs.filter(**{f"{name}_id": getattr(value, "pk", value)})
    if created_from := filters.get("created_from"):
        qs = qs.filter(created_at__gte=_day_start(created_from))
    if created_to := filters.get("created_to"):
        qs = qs.filter(created_at__lt=_day_start(created_to + datetime.timedelta(days=1)))
    for word in fold(filters.get("text", "")).split():
        qs = qs.filter(_text_q(word))
    return qs


class _AnyOf(Lookup):
    """`column = ANY(ARRAY(subquery))`: the subquery runs once into an array, and the column's
    B-tree index is probed for its values (a bitmap scan PostgreSQL can OR with others)."""

    lookup_name = "any_of"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _in_ids(column: str, ids: QuerySet) -> Q:
    """`column` among the ids of `ids`. On PostgreSQL as `= ANY(ARRAY(…))`: a plain
    `IN (subquery)` inside an OR makes it test every ticket's text with LIKE (a sequential
    scan of the table per word) where the array lets each branch use its index."""
    if connection.vendor == "postgresql":
        return Q(_AnyOf(F(column), ArraySubquery(ids)))
    return Q(**{f"{column}__in": ids})


def _text_q(word: str) -> Q:
    """A folded word in the ticket's own text (number, subject), its account's or its
    contact's: the customers' names are read where their models keep them current, never
    copied into the ticket. Subqueries on the ids, not joins, so that PostgreSQL uses each
    table's trigram index, and the list stays one statement.

    A word shaped like a ticket's number is looked for in the numbers only: the trigram index
    finds it at once, where testing the customers too would read every ticket.
    """
    if NUMBER_WORD.match(word):
        return Q(search_text__contains=word)
    return (
        Q(search_text__contains=word)
        | _in_ids(
            "account_id", Account.objects.filter(search_text__contains=word).order_by().values("pk")
        )
        | _in_ids(
            "contact_id", Contact.objects.filter(search_text__contains=word).order_by().values("pk")
        )
    )


def ticket_list(
    *,
    user: User,
    queue: str = "",
    filters: dict | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Ticket]:
    """The tickets of a queue that the user sees, most urgent first.

    Every queue holds open tickets only, unless the filters ask for some statuses (then those)
    or the queue is "all". Open tickets are ordered by priority, then by the next due time;
    a list of closed or resolved tickets only, newest first.
    """
    filters = filters or {}
    now = now or timezone.now()
    qs = ticket_base(user=user).filter(queue_q(queue, user=user, now=now))
    statuses = list(filters.get("status") or [])
    if statuses:
        qs = qs.filter(status__in=statuses)
    elif queue != "all":
        qs = qs.filter(status__in=OPEN_STATUSES)
    qs = _filtered(qs, filters).select_related("account", "contact", "assignee")
    if statuses and not set(statuses) & set(OPEN_STATUSES):
        return qs.order_by("-created_at", "-id")
    return qs.annotate(_rank=PRIORITY_ORDER, _due=NEXT_DUE).order_by(
        "_rank", F("_due").asc(nulls_last=True), "created_at", "id"
    )


def ticket_queue_counts(*, user: User, now: datetime.datetime | None = None) -> dict[str, int]:
    """The open tickets of each queue the user sees, in one query (the list's tabs)."""
    now = now or timezone.now()
    counts = (
        ticket_base(user=user)
        .filter(status__in=OPEN_STATUSES)
        .order_by()
        .aggregate(
            **{
                queue or "open": Count("pk", filter=queue_q(queue, user=user, now=now) or None)
                for queue in QUEUES
                if queue != "all"
            }
        )
    )
    return {("" if key == "open" else key): value or 0 for key, value in counts.items()}


def ticket_visible(*, user: User, pk: int) -> Ticket:
    """The ticket with what its page shows; raises Ticket.DoesNotExist when not visible."""
    return get_prepared(
        ticket_base(user=user).select_related(
            "account", "account__owner", "contact", "assignee", "assignee__team", "created_by"
        ),
        pk=pk,
    )


def ticket_history(*, ticket: Ticket) -> QuerySet[StatusChange]:
    return ticket.status_changes.select_related("actor").order_by("at", "id")


# What a row of the queues shows (support/views/ticket_rows.py), and its SLA flags read.
LIST_ROW_FIELDS = (
    "pk",
    "number",
    "subject",
    "priority",
    "status",
    "created_at",
    "first_response_at",
    *sla.SLA_FIELDS,
    "account__name",
    "contact_id",
    "contact__first_name",
    "contact__last_name",
    "assignee_id",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
)


def ticket_rows(*, user: User) -> QuerySet:
    """The tickets the user sees, with what a row of the list shows: the page's rows are read
    by id from here, without testing the list's text filter a second time. Named tuples
    (LIST_ROW_FIELDS), not models: a page's 25 tickets with their accounts, contacts and
    assignees made up to 100 of them, for a dozen columns (as contacts' `contact_list_rows`)."""
    return ticket_base(user=user).values_list(*LIST_ROW_FIELDS, named=True)


def tickets_by_ids(*, user: User, ids) -> QuerySet[Ticket]:
    return ticket_base(user=user).filter(pk__in=ids)


# The customer beside the ticket ----------------------------------------------------------


@dataclass
class TicketContext:
    """Who the customer is, seen from the ticket: for whoever works or reads it."""

    account: Account
    contact: Contact | None
    satisfaction: ContactSatisfaction | None = None
    activities: list[Activity] = field(default_factory=list)
    other_open: list[Ticket] = field(default_factory=list)
    # None: this user does not see opportunities at all (support), not "there are none".
    opportunities: list[Opportunity] | None = None

    @property
    def tier(self) -> str:
        return self.account.tier

    @property
    def owner(self) -> User:
        return self.account.owner


def ticket_context(*, ticket: Ticket, user: User) -> TicketContext:
    """Tier and owner of the account, the latest activities of the account or the contact, the
    account's other open tickets, the contact's satisfaction and, for whoever sells, the open
    opportunities. A constant number of queries (at most four)."""
    account, contact = ticket.account, ticket.contact
    context = TicketContext(account=account, contact=contact)
    if contact is not None:
        context.satisfaction = ContactSatisfaction.objects.filter(contact=contact).first()
    customer = Q(account_id=account.pk)
    if contact is not None:
        customer |= Q(contact_id=contact.pk)
    context.activities = list(
        Activity.objects.filter(activity_visible_q(user))
        .filter(customer, status=Activity.Status.DONE)
        .select_related("owner", "contact")
        .order_by(F("done_at").desc(nulls_last=True), "-id")[:CONTEXT_ACTIVITIES]
    )
    context.other_open = list(
        ticket_base(user=user)
        .filter(account_id=account.pk, status__in=OPEN_STATUSES)
        .exclude(pk=ticket.pk)
        .select_related("assignee")
        .annotate(_rank=PRIORITY_ORDER)
        .order_by("_rank", "-created_at", "-id")[:CONTEXT_TICKETS]
    )
    if can_sell(user):
        context.opportunities = list(
            Opportunity.objects.filter(opportunity_visible_q(user), account_id=account.pk)
            .filter(stage__is_won=False, stage__is_lost=False)
            .select_related("stage", "owner")
            .order_by("expected_close_date", "id")[:CONTEXT_OPPORTUNITIES]
        )
    return context


# Panels of the customer sheet and the caller lookup -----------------------------------------


def _customer_tickets(qs: QuerySet[Ticket], limit: int) -> list[Ticket]:
    """Open tickets first (most urgent first), then the others, newest first."""
    return list(
        qs.select_related("assignee", "contact")
        .annotate(_urgency=URGENCY)
        .order_by("_urgency", "-created_at", "-id")[:limit]
    )


def account_tickets(
    *, user: User, account: Account | int, limit: int = PANEL_LIMIT
) -> list[Ticket]:
    account_id = getattr(account, "pk", account)
    return _customer_tickets(ticket_base(user=user).filter(account_id=account_id), limit)


def contact_tickets(
    *, user: User, contact: Contact | int, limit: int = PANEL_LIMIT
) -> list[Ticket]:
    contact_id = getattr(contact, "pk", contact)
    return _customer_tickets(ticket_base(user=user).filter(contact_id=contact_id), limit)


def open_ticket_count(*, user: User, account: Account | int | None = None, contact=None) -> int:
    qs = ticket_base(user=user).filter(status__in=OPEN_STATUSES)
    if account is not None:
        qs = qs.filter(account_id=getattr(account, "pk", account))
    if contact is not None:
        qs = qs.filter(contact_id=getattr(contact, "pk", contact))
    return qs.count()


class OpenTicketCounts(NamedTuple):
    """Open tickets per account id and per contact id (every id asked for, 0 when none)."""

    accounts: dict[int, int]
    contacts: dict[int, int]


def _open_counts(field_name: str, ids) -> dict[int, int]:
    ids = {int(pk) for pk in ids}
    if not ids:
        return {}
    counts = dict.fromkeys(ids, 0)
    rows = (
        Ticket.objects.filter(**{f"{field_name}__in": ids}, status__in=OPEN_STATUSES)
        .order_by()
        .values(field_name)
        .annotate(n=Count("pk"))
        .values_list(field_name, "n")
    )
    counts.update(dict(rows))
    return counts


def open_ticket_counts(*, account_ids=(), contact_ids=()) -> OpenTicketCounts:
    """How many open tickets each account and each contact has: at most two grouped queries
    (served by the (account, status) and (contact, status) indexes), whatever the number of
    ids. Unpack it (`by_account, by_contact = open_ticket_counts(...)`) or read
    `.accounts` / `.contacts`."""
    return OpenTicketCounts(
        accounts=_open_counts("account_id", account_ids),
        contacts=_open_counts("contact_id", contact_ids),
    )


def next_due(ticket: Ticket) -> datetime.datetime | None:
    """The due time of the next target: the first response while none was given, then the
    resolution; None when no clock runs (waiting for the customer, resolved, closed)."""
    if ticket.first_response_at is None and ticket.first_response_due is not None:
        return ticket.first_response_due
    return ticket.resolution_due


def with_sla_flags(tickets, now: datetime.datetime | None = None) -> list[Ticket]:
    """Sets on each ticket, for the badges: `sla` (the flag of each target, "ok", "soon" or
    "breached"), `sla_state` (the worse of the two) and `next_due`."""
    now = now or timezone.now()
    rows = list(tickets)
    for row in rows:
        row.sla = sla.sla_flags(row, now)
        values = row.sla.values()
        row.sla_state = (
            sla.BREACHED if sla.BREACHED in values else sla.SOON if sla.SOON in values else sla.OK
        )
        row.next_due = next_due(row)
    return rows
