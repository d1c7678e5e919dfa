"""Reading a ticket's SLA clock: the queues' filters and the badges' flags.

The clock itself (due times in business time, pauses, the check that warns and escalates) is
written by support.services.sla; this module only reads the fields it keeps on the ticket.
"""

from __future__ import annotations

import datetime

from django.db.models import Q

from support.models import OPEN_STATUSES, SlaNotice, Ticket

Status = Ticket.Status
Target = SlaNotice.Target

OK, SOON, BREACHED = "ok", "soon", "breached"


# The two targets as the ticket's fields ---------------------------------------------------

FIELDS = {
    Target.FIRST_RESPONSE: (
        "first_response_due",
        "first_response_warn_at",
        "first_response_left",
        "first_response_breached",
    ),
    Target.RESOLUTION: (
        "resolution_due",
        "resolution_warn_at",
        "resolution_left",
        "resolution_breached",
    ),
}


SLA_FIELDS = tuple(name for fields in FIELDS.values() for name in fields)


def open_running_q() -> Q:
    return Q(status__in=OPEN_STATUSES) & ~Q(status=Status.WAITING) & Q(paused_at__isnull=True)


def sla_breached_q(now: datetime.datetime) -> Q:
    """Open tickets (not waiting for the customer) with a target whose due time has passed."""
    return open_running_q() & (Q(first_response_due__lt=now) | Q(resolution_due__lt=now))


def sla_due_soon_q(now: datetime.datetime) -> Q:
    """Open tickets (not waiting) in the "vence pronto" stretch of a target, none overdue."""
    soon = Q(first_response_warn_at__lte=now, first_response_due__gte=now) | Q(
        resolution_warn_at__lte=now, resolution_due__gte=now
    )
    overdue = Q(first_response_due__lt=now) | Q(resolution_due__lt=now)
    return open_running_q() & soon & ~overdue


def _flag(ticket: Ticket, target: str, now: datetime.datetime) -> str:
    due_field, warn_field, left_field, breached_field = FIELDS[target]
    due, warn = getattr(ticket, due_field), getattr(ticket, warn_field)
    left = getattr(ticket, left_field)
    if getattr(ticket, breached_field) or (due is not None and due < now):
        return BREACHED
    if left is not None and left < 0:
        return BREACHED
    if ticket.status in OPEN_STATUSES and due is not None and warn is not None and warn <= now:
        return SOON
    return OK


def sla_flags(ticket: Ticket, now: datetime.datetime) -> dict[str, str]:
    """Per target, "ok", "soon" (vence pronto) or "breached" (vencido), for templates:
    {"first_response": …, "resolution": …}. A reached target keeps its verdict."""
    return {
        "first_response": _flag(ticket, Target.FIRST_RESPONSE, now),
        "resolution": _flag(ticket, Target.RESOLUTION, now),
    }


def sla_flag(ticket: Ticket, now: datetime.datetime) -> str:
    """The worse of the two flags: one badge per ticket in a list."""
    flags = sla_flags(ticket, now).values()
    return BREACHED if BREACHED in flags else SOON if SOON in flags else OK
