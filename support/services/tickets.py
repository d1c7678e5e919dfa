"""Tickets: numbering, creation, assignment and the status machine.

A ticket's status changes only through `ticket_transition` (or the two events the conversation
reports: the first public reply and the customer's reply), so that the history, the SLA clock
and the resolution and closing times never disagree. Support and administrators work tickets;
reps and managers open them for their own customers and read them, nothing more.
"""

import datetime
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.concurrency import check_version
from crm.core.models import User
from crm.core.text import search_text
from crm.core.webhooks import webhook_emit
from support.models import StatusChange, Ticket, TicketCounter
from support.permissions import (
    account_ticketable_q,
    can_open_tickets,
    can_work_tickets,
    support_agents,
    ticket_visible_q,
)
from support.services import sla, surveys

Status = Ticket.Status

# The status machine: where each status may go. A closed ticket is final.
ALLOWED: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.OPEN, Status.WAITING, Status.RESOLVED),
    Status.OPEN: (Status.WAITING, Status.RESOLVED),
    Status.WAITING: (Status.OPEN, Status.RESOLVED),
    Status.RESOLVED: (Status.OPEN, Status.CLOSED),
    Status.CLOSED: (),
}

UPDATE_FIELDS = ("subject", "description", "category", "channel", "priority")
# What a ticket's version holds (the API's ETag): the edit form's fields and what moves apart.
VERSION_FIELDS = (*UPDATE_FIELDS, "status", "assignee", "resolution")
NOTE_MAX = StatusChange._meta.get_field("note").max_length


def allowed_transitions(status: str) -> tuple[str, ...]:
    return ALLOWED.get(status, ())


def ticket_number(*, year: int, sequence: int) -> str:
    return f"INC-{year}-{sequence:06d}"


def _company_year(at: datetime.datetime) -> int:
    """The year of `at` where the company is: a ticket opened on 31 December at 20:00 in Mexico
    City is numbered in that year, although it is already 1 January in UTC."""
    return at.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).year


def _next_number(at: datetime.datetime) -> str:
    """The next number of the year, from a counter row locked until the ticket is saved, so
    that two tickets opened at the same instant never share a number nor leave a gap."""
    year = _company_year(at)
    counter, _created = TicketCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return ticket_number(year=year, sequence=counter.last)


def _search_text(ticket: Ticket) -> str:
    """The ticket's own words only: the account's and the contact's names are matched in their
    own search_text by the list's filter (support.selectors.tickets), so that renaming a
    customer needs no rewrite of its tickets."""
    return search_text(ticket.number, ticket.subject)


def _check_worker(actor: User) -> None:
    if not can_work_tickets(actor):
        raise PermissionDenied(_("Solo el equipo de soporte trabaja las incidencias."))


def _check_assignee(assignee: User | None) -> None:
    if assignee is not None and not support_agents().filter(pk=assignee.pk).exists():
        raise ValidationError(
            {
                "assignee": _("%(user)s no es del equipo de soporte: no puede llevar incidencias.")
                % {"user": assignee}
            }
        )


def _locked(ticket: Ticket) -> Ticket:
    """The ticket as it is now in the database, locked until the transaction ends."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("account", "contact")
        .get(pk=ticket.pk)
    )


def _record(
    ticket: Ticket, *, from_status: str, to_status: str, actor: User | None, note: str = ""
) -> None:
    StatusChange.objects.create(
        ticket=ticket,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=note.strip()[:NOTE_MAX],
    )


# Creation and edition ---------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    actor: User,
    account: Account,
    contact: Contact | None = None,
    subject: str,
    description: str = "",
    category: str,
    channel: str,
    priority: str,
    assignee: User | None = None,
) -> Ticket:
    """A new ticket, numbered, with its SLA due times, entering the history as «nuevo»."""
    if not can_open_tickets(actor):
        raise PermissionDenied(_("Tu rol no abre incidencias."))
    if not Account.objects.filter(account_ticketable_q(actor), pk=account.pk).exists():
        raise ValidationError(
            {"account": _("Solo puedes abrir incidencias de los clientes de tu cartera.")}
        )
    if account.archived_at is not None:
        raise ValidationError({"account": _("La cuenta está archivada.")})
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError(
            {
                "contact": _("%(contact)s no es un contacto de %(account)s.")
                % {"contact": contact.full_name, "account": account.name}
            }
        )
    if assignee is not None and not can_work_tickets(actor):
        raise ValidationError({"assignee": _("Solo el equipo de soporte asigna incidencias.")})
    _check_assignee(assignee)
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError({"subject": _("Escribe el asunto de la incidencia.")})
    now = timezone.now()
    ticket = Ticket(
        account=account,
        contact=contact,
        subject=subject,
        description=(description or "").strip(),
        category=category,
        channel=channel,
        priority=priority,
        status=Status.NEW,
        assignee=assignee,
        created_by=actor,
    )
    # Checked before the number is taken: a refused ticket leaves the counter as it was.
    ticket.full_clean(exclude=["number"])
    ticket.number = _next_number(now)
    ticket.search_text = _search_text(ticket)
    sla.sla_start(ticket, now=now)
    ticket.save()
    _record(ticket, from_status="", to_status=Status.NEW, actor=actor)
    webhook_emit(
        "ticket.created",
        {
            "ticket_id": ticket.pk,
            "number": ticket.number,
            "account_id": ticket.account_id,
            "contact_id": ticket.contact_id,
            "category": ticket.category,
            "priority": ticket.priority,
            "channel": ticket.channel,
        },
    )
    return ticket


@transaction.atomic
def ticket_update(*, actor: User, ticket: Ticket, data: dict, version: str | None = None) -> Ticket:
    """Change the subject, description, category, channel or priority.

    A new priority moves the due times of the targets not yet reached (its SLA policy).
    `version`: what the edit form was loaded with; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_worker(actor)
    ticket = _locked(ticket)
    if ticket.status == Status.CLOSED:
        raise ValidationError(_("Una incidencia cerrada ya no se modifica."))
    # The fields the version holds decide: the edit form's, or all of the API's ETag.
    check_version(ticket, version, fields=VERSION_FIELDS)
    old_priority = ticket.priority
    for field, value in data.items():
        if field not in UPDATE_FIELDS or value is None:
            continue
        setattr(ticket, field, value.strip() if isinstance(value, str) else value)
    if not ticket.subject:
        raise ValidationError({"subject": _("Escribe el asunto de la incidencia.")})
    ticket.full_clean()
    if ticket.priority != old_priority:
        sla.sla_reprioritize(ticket, now=timezone.now(), previous_priority=old_priority)
    ticket.search_text = _search_text(ticket)
    ticket.save()
    return ticket


# Assignment -------------------------------------------------------------------------------


@transaction.atomic
def ticket_assign(
    *, actor: User, ticket: Ticket, assignee: User | None, version: str | None = None
) -> Ticket:
    """Give the ticket to a support agent (or to nobody: back to the unassigned queue).

    `version`: the ticket as the caller read it; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_worker(actor)
    _check_assignee(assignee)
    ticket = _locked(ticket)
    check_version(ticket, version, fields=VERSION_FIELDS)
    if ticket.status == Status.CLOSED:
        raise ValidationError(_("Una incidencia cerrada ya no se reasigna."))
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    return ticket


@transaction.atomic
def ticket_bulk_assign(*, actor: User, ticket_ids: Iterable[int], assignee: User | None) -> int:
    """Assign several tickets at once: all of them, or none when one of them cannot be."""
    _check_worker(actor)
    _check_assignee(assignee)
    wanted = {int(pk) for pk in ticket_ids}
    if not wanted:
        raise ValidationError(_("Marca al menos una incidencia."))
    tickets = list(
        Ticket.objects.select_for_update()
        .filter(ticket_visible_q(actor), pk__in=wanted)
        .only("id", "number", "status", "assignee_id")
        .order_by("id")
    )
    missing = wanted - {ticket.pk for ticket in tickets}
    if missing:
        raise ValidationError(
            _("Alguna de las incidencias marcadas ya no existe. No se ha asignado ninguna.")
        )
    closed = [ticket.number for ticket in tickets if ticket.status == Status.CLOSED]
    if closed:
        raise ValidationError(
            _("No se reasignan incidencias cerradas (%(numbers)s). No se ha asignado ninguna.")
            % {"numbers": ", ".join(closed)}
        )
    return Ticket.objects.filter(pk__in=wanted).update(assignee=assignee, updated_at=timezone.now())


# The status machine -----------------------------------------------------------------------


def _move(
    ticket: Ticket,
    *,
    to_status: str,
    actor: User | None,
    now: datetime.datetime,
    note: str = "",
) -> None:
    """Apply a move already known to be allowed, with its consequences, and record it.

    The SLA clock stops while waiting for the customer and once resolved (keeping the minutes
    left), and starts again from there when the ticket is open again.
    """
    from_status = ticket.status
    if to_status == Status.WAITING:
        sla.sla_pause(ticket, now=now)
    elif to_status == Status.RESOLVED:
        ticket.resolved_at = now
        sla.sla_mark_resolved(ticket, now=now)
    elif to_status == Status.CLOSED:
        ticket.closed_at = now
    elif from_status in (Status.WAITING, Status.RESOLVED):
        if from_status == Status.RESOLVED:  # reopened: no longer resolved
            ticket.resolved_at = None
            ticket.resolution_business_minutes = None  # counted again when resolved again
        sla.sla_resume(ticket, now=now)
    ticket.status = to_status
    ticket.full_clean()
    ticket.save()
    _record(ticket, from_status=from_status, to_status=to_status, actor=actor, note=note)
    if to_status == Status.RESOLVED:
        webhook_emit(
            "ticket.resolved",
            {
                "ticket_id": ticket.pk,
                "number": ticket.number,
                "account_id": ticket.account_id,
                "contact_id": ticket.contact_id,
                "resolved_at": ticket.resolved_at,
            },
        )

        # The survey goes after the commit, and a failure there never undoes the resolution.
        def request_survey() -> None:
            surveys.csat_request(ticket=ticket)

        transaction.on_commit(request_survey, robust=True)


@transaction.atomic
def ticket_transition(
    *,
    actor: User,
    ticket: Ticket,
    to_status: str,
    resolution: str = "",
    note: str = "",
    version: str | None = None,
) -> Ticket:
    """Move the ticket to `to_status` if the status machine (ALLOWED) lets it.

    Resolving needs a resolution (the one given, or the one the ticket already has); waiting
    for the customer stops the SLA clock and leaving that status starts it again.
    `version`: the ticket as the caller read it; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_worker(actor)
    ticket = _locked(ticket)
    check_version(ticket, version, fields=VERSION_FIELDS)
    if to_status not in Status.values:
        raise ValidationError({"to_status": _("Ese estado no existe.")})
    current = ticket.status
    if to_status == current:
        raise ValidationError(
            {
                "to_status": _("La incidencia ya está en «%(status)s».")
                % {"status": Status(current).label}
            }
        )
    if to_status not in allowed_transitions(current):
        raise ValidationError(
            {
                "to_status": _("Una incidencia «%(from)s» no puede pasar a «%(to)s».")
                % {"from": Status(current).label, "to": Status(to_status).label}
            }
        )
    resolution = (resolution or "").strip()
    if to_status in (Status.RESOLVED, Status.CLOSED):
        if resolution:
            ticket.resolution = resolution
        if not ticket.resolution:
            raise ValidationError(
                {"resolution": _("Explica cómo se resolvió la incidencia antes de cerrarla.")}
                if to_status == Status.CLOSED
                else {"resolution": _("Explica cómo se resolvió la incidencia.")}
            )
    _move(ticket, to_status=to_status, actor=actor, now=timezone.now(), note=note)
    return ticket


# Events of the conversation (support.services.comments) -----------------------------------


@transaction.atomic
def ticket_record_first_response(*, ticket: Ticket, actor: User, at: datetime.datetime) -> Ticket:
    """The first public reply went out: stamp first_response_at, freeze the SLA, nuevo→abierto.

    Later replies change nothing. Returns the ticket as saved.
    """
    ticket = _locked(ticket)
    if ticket.first_response_at is not None:
        return ticket
    ticket.first_response_at = at
    sla.sla_mark_first_response(ticket, now=at)
    if ticket.status == Status.NEW:
        _move(
            ticket,
            to_status=Status.OPEN,
            actor=actor,
            now=at,
            note=_("Primera respuesta al cliente"),
        )
    else:
        ticket.full_clean()
        ticket.save()
    return ticket


@transaction.atomic
def ticket_customer_replied(*, ticket: Ticket, at: datetime.datetime) -> Ticket:
    """The customer wrote: a resolved or waiting ticket goes back to abierto (SLA resumes).

    New and open tickets stay as they are; a closed one too (it is final). Returns the ticket
    as saved.
    """
    ticket = _locked(ticket)
    if ticket.status in (Status.RESOLVED, Status.WAITING):
        _move(
            ticket,
            to_status=Status.OPEN,
            actor=None,
            now=at,
            note=_("Respuesta del cliente"),
        )
    return ticket
