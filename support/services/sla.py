"""SLA due times of a ticket, in business time (support.sla), and the check that warns and
escalates when they run out.

Each ticket has two targets, first response and resolution, with the minutes of its priority's
SlaPolicy. A target is in one of three states, read from the ticket's own SLA fields:

- running: its due time is set (and its "vence pronto" time, the policy's last warn_percent);
- stopped: its due time is null and `*_left` keeps the business minutes that were left
  (negative: already overdue) — while waiting for the customer, and for the resolution while
  the ticket is resolved, so that a customer reopening it finds the clock where it was;
- reached or without a policy: both null.

`*_breached` says whether the due time passed before the target was reached; it is frozen
when the target is reached (compliance reports read it) and the SLA check sets it for running
targets whose due time passes. When a target is reached, the business minutes it took from
the ticket's creation are stored too (`*_business_minutes`: the dashboard's medians). The
contract functions mutate `ticket` in memory; the caller (support.services.tickets) saves it.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from crm.core.models import Role, User
from support.models import SlaNotice, SlaPolicy, Ticket
from support.selectors.sla import FIELDS, SLA_FIELDS, open_running_q
from support.sla import Calendar, add_business_minutes, business_minutes_between, calendar_load

logger = logging.getLogger(__name__)

Status = Ticket.Status
Target = SlaNotice.Target
Kind = SlaNotice.Kind

BATCH = 200  # tickets loaded (with their people) per query in the SLA check
# Notices per run at most: a backlog (the check was down for a day) drains over a few runs,
# each well inside the task's time limit.
MAX_NOTICES = 1000


@dataclass(frozen=True)
class Targets:
    """One priority's policy: minutes of each target and how many of them are "vence pronto"."""

    first_response: int
    resolution: int
    warn_percent: int

    def minutes(self, target: str) -> int:
        return self.first_response if target == Target.FIRST_RESPONSE else self.resolution

    def warn_minutes(self, target: str) -> int:
        """The last warn_percent of the target, rounded up (at least one minute)."""
        return max(1, -(-self.minutes(target) * self.warn_percent // 100))


@dataclass(frozen=True)
class SlaSetup:
    """The calendar and the policies, loaded once for many tickets (the seed, the check)."""

    calendar: Calendar
    policies: dict[str, Targets]

    def policy(self, priority: str) -> Targets | None:
        return self.policies.get(priority)


def sla_setup_load() -> SlaSetup:
    """The company's calendar and SLA policies as they are now (three small queries)."""
    policies = {
        p.priority: Targets(p.first_response_minutes, p.resolution_minutes, p.warn_percent)
        for p in SlaPolicy.objects.all()
    }
    return SlaSetup(calendar=calendar_load(), policies=policies)


def _run(
    ticket: Ticket,
    target: str,
    *,
    setup: SlaSetup,
    policy: Targets,
    now: datetime.datetime,
    left: int,
) -> None:
    """Start (or restart) the target's clock at `now` with `left` business minutes to go."""
    due, warn, left_field, breached = FIELDS[target]
    calendar = setup.calendar
    setattr(ticket, due, add_business_minutes(calendar, now, left))
    setattr(ticket, warn, add_business_minutes(calendar, now, left - policy.warn_minutes(target)))
    setattr(ticket, left_field, None)
    setattr(ticket, breached, getattr(ticket, breached) or left < 0)


def _stop(ticket: Ticket, target: str, *, setup: SlaSetup, now: datetime.datetime) -> None:
    """Stop a running target's clock, keeping the minutes left."""
    due, warn, left_field, breached = FIELDS[target]
    if getattr(ticket, due) is None:
        return
    left = business_minutes_between(setup.calendar, now, getattr(ticket, due))
    if now > getattr(ticket, due):
        setattr(ticket, breached, True)
        left = min(left, -1)  # overdue by less than a minute is still overdue
    setattr(ticket, left_field, left)
    setattr(ticket, due, None)
    setattr(ticket, warn, None)


def _reach(ticket: Ticket, target: str, *, now: datetime.datetime) -> None:
    """The target is reached: freeze whether it was met."""
    due, warn, left_field, breached = FIELDS[target]
    if getattr(ticket, due) is not None:
        if now > getattr(ticket, due):
            setattr(ticket, breached, True)
    elif getattr(ticket, left_field) is not None and getattr(ticket, left_field) < 0:
        setattr(ticket, breached, True)
    setattr(ticket, due, None)
    setattr(ticket, warn, None)
    setattr(ticket, left_field, None)


def _clear(ticket: Ticket, target: str) -> None:
    due, warn, left_field, _breached = FIELDS[target]
    setattr(ticket, due, None)
    setattr(ticket, warn, None)
    setattr(ticket, left_field, None)


def _reached(ticket: Ticket, target: str) -> bool:
    if target == Target.FIRST_RESPONSE:
        return ticket.first_response_at is not None
    return ticket.resolved_at is not None


# The contract (called by support.services.tickets) -----------------------------------------


def sla_start(ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None = None) -> None:
    """Set both due times and warn times from the priority's policy, counting from `now`."""
    setup = setup or sla_setup_load()
    policy = setup.policy(ticket.priority)
    ticket.paused_at = None
    for target, (_due, _warn, _left, breached) in FIELDS.items():
        _clear(ticket, target)
        setattr(ticket, breached, False)
        if policy is not None:
            _run(ticket, target, setup=setup, policy=policy, now=now, left=policy.minutes(target))


def sla_reprioritize(
    ticket: Ticket,
    *,
    now: datetime.datetime,
    previous_priority: str | None = None,
    setup: SlaSetup | None = None,
) -> None:
    """The priority changed: recompute the due times of the targets not yet reached.

    The time already spent on a target counts against the new one: with 90 of 240 minutes
    spent, a move to a 60-minute priority leaves -30 (breached), to a 540-minute one 450. The
    previous priority is read from the database unless given (the caller has not saved yet).
    """
    if previous_priority is None:
        previous_priority = (
            Ticket.objects.filter(pk=ticket.pk).values_list("priority", flat=True).first()
            if ticket.pk
            else None
        )
    if previous_priority == ticket.priority:
        return
    setup = setup or sla_setup_load()
    old = setup.policy(previous_priority) if previous_priority else None
    new = setup.policy(ticket.priority)
    for target, (due, _warn, left_field, breached) in FIELDS.items():
        if new is None:
            _clear(ticket, target)
            continue
        running = getattr(ticket, due) is not None
        stopped = getattr(ticket, left_field) is not None
        if old is None or not (running or stopped):
            # No clock to carry over: a target never set (no policy then) starts afresh,
            # unless it was already reached.
            if old is None and not _reached(ticket, target):
                if ticket.paused_at is not None:
                    setattr(ticket, left_field, new.minutes(target))
                else:
                    _run(ticket, target, setup=setup, policy=new, now=now, left=new.minutes(target))
            continue
        if running:
            left = business_minutes_between(setup.calendar, now, getattr(ticket, due))
        else:
            left = getattr(ticket, left_field)
        left += new.minutes(target) - old.minutes(target)
        # The new target decides afresh whether it is breached (a lower priority may give
        # back time); notices already sent are not sent again (SlaNotice is unique).
        setattr(ticket, breached, False)
        if running:
            _run(ticket, target, setup=setup, policy=new, now=now, left=left)
        else:
            setattr(ticket, left_field, left)
            setattr(ticket, breached, left < 0)


def sla_pause(ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None = None) -> None:
    """Waiting for the customer: stop the clock, keep the business minutes left."""
    if ticket.paused_at is not None:
        return
    setup = setup or sla_setup_load()
    for target in FIELDS:
        _stop(ticket, target, setup=setup, now=now)
    ticket.paused_at = now


def sla_resume(ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None = None) -> None:
    """The customer answered (or reopened the ticket): restart the stopped clocks from `now`
    with the minutes they had left."""
    stopped = [
        target for target, fields in FIELDS.items() if getattr(ticket, fields[2]) is not None
    ]
    ticket.paused_at = None
    if not stopped:
        return
    setup = setup or sla_setup_load()
    policy = setup.policy(ticket.priority)
    for target in stopped:
        left_field = FIELDS[target][2]
        if policy is None:
            _clear(ticket, target)
        else:
            _run(
                ticket,
                target,
                setup=setup,
                policy=policy,
                now=now,
                left=getattr(ticket, left_field),
            )


def _business_minutes_since_creation(
    ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None
) -> int | None:
    """Business minutes from the ticket's creation to `now` (the dashboard's medians read
    them); None for a ticket not saved yet (no creation time)."""
    if ticket.created_at is None:
        return None
    calendar = setup.calendar if setup is not None else calendar_load()
    return max(0, business_minutes_between(calendar, ticket.created_at, now))


def sla_mark_first_response(
    ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None = None
) -> None:
    """First public reply: freeze whether the first-response target was met, and store the
    business minutes it took."""
    _reach(ticket, Target.FIRST_RESPONSE, now=now)
    ticket.first_response_business_minutes = _business_minutes_since_creation(
        ticket, now=now, setup=setup
    )


def sla_mark_resolved(
    ticket: Ticket, *, now: datetime.datetime, setup: SlaSetup | None = None
) -> None:
    """Resolved: freeze whether the resolution target was met, and store the business minutes
    since creation (a ticket resolved again after a reopening counts them afresh).

    The clocks stop (nothing is due on a resolved ticket) but keep what was left, so that if
    the customer reopens the ticket they restart where they were (sla_resume).
    """
    _due, _warn, left_field, breached = FIELDS[Target.RESOLUTION]
    running = [t for t, fields in FIELDS.items() if getattr(ticket, fields[0]) is not None]
    if running:
        setup = setup or sla_setup_load()
        for target in running:
            _stop(ticket, target, setup=setup, now=now)
    left = getattr(ticket, left_field)
    if left is not None and left < 0:
        setattr(ticket, breached, True)
    ticket.paused_at = None
    ticket.resolution_business_minutes = _business_minutes_since_creation(
        ticket, now=now, setup=setup
    )


# The SLA check (a beat job every five minutes) -----------------------------------------------


def site_url() -> str:
    return getattr(settings, "SITE_URL", "http://localhost:8000").rstrip("/")


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class Recipients:
    """Who hears about a ticket's SLA, loaded once per check.

    A warning goes to the assignee; a breach too, and escalates to the assignee's team manager,
    or to the administrators when the assignee has no team manager. An unassigned ticket has
    nobody to warn: every active support user and administrator hears of it.
    """

    def __init__(self) -> None:
        active = User.objects.filter(is_active=True).exclude(email="").select_related("team")
        self.admins = list(active.filter(Q(role=Role.ADMINISTRADOR) | Q(is_superuser=True)))
        self.support = list(active.filter(role=Role.SOPORTE))

    @staticmethod
    def reachable(user: User | None) -> bool:
        return user is not None and user.is_active and bool(user.email)

    def _unique(self, users: Iterable[User]) -> list[User]:
        seen, found = set(), []
        for user in users:
            if self.reachable(user) and user.pk not in seen:
                seen.add(user.pk)
                found.append(user)
        return found

    def warning(self, ticket: Ticket) -> list[User]:
        if ticket.assignee_id is None:
            return self._unique([*self.support, *self.admins])
        return self._unique([ticket.assignee])

    def escalation(self, ticket: Ticket) -> list[User]:
        """Besides the assignee, who hears of a breach (as an escalation)."""
        if ticket.assignee_id is None:
            return self._unique([*self.support, *self.admins])
        assignee = ticket.assignee
        manager = assignee.team.manager if assignee.team_id and assignee.team else None
        if self.reachable(manager) and manager.pk != assignee.pk:
            return [manager]
        return [user for user in self._unique(self.admins) if user.pk != assignee.pk]


def _message(
    *, template: str, ticket: Ticket, target: str, kind: str, recipient: User, now
) -> EmailMultiAlternatives:
    due_field = FIELDS[target][0]
    with translation.override(settings.LANGUAGE_CODE), timezone.override(_zone(recipient)):
        context = {
            "ticket": ticket,
            "recipient": recipient,
            "target": Target(target).label,
            "target_code": target,
            "kind": kind,
            "due": getattr(ticket, due_field),
            "now": now,
            "assignee": ticket.assignee,
            "customer": ticket.contact or ticket.account,
            "url": site_url() + ticket.get_absolute_url(),
        }
        subject = render_to_string(f"support/emails/sla_{template}_subject.txt", context)
        body = render_to_string(f"support/emails/sla_{template}.txt", context)
        html = render_to_string(f"support/emails/sla_{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=body, to=[recipient.email]
    )
    message.attach_alternative(html, "text/html")
    return message


def _claim(ticket: Ticket, target: str, kind: str, sent_to: User | None) -> SlaNotice | None:
    """The notice row, inserted before anything is sent; None if another run has it already.

    The unique (ticket, target, kind) constraint is the guard: two workers checking at once
    both try the insert, and the loser's IntegrityError is the answer "already sent".
    """
    try:
        with transaction.atomic():
            return SlaNotice.objects.create(
                ticket=ticket, target=target, kind=kind, sent_to=sent_to
            )
    except IntegrityError:
        return None


def _notify(
    ticket: Ticket, target: str, kind: str, *, recipients: Recipients, now, connection
) -> bool:
    if kind == Kind.WARNING:
        plan = [("warning", user) for user in recipients.warning(ticket)]
        sent_to = ticket.assignee if ticket.assignee_id else None
    else:
        escalate = recipients.escalation(ticket)
        plan = []
        if ticket.assignee_id and recipients.reachable(ticket.assignee):
            plan.append(("breach", ticket.assignee))
        plan += [("escalation", user) for user in escalate if user.pk != ticket.assignee_id]
        sent_to = escalate[0] if len(escalate) == 1 else ticket.assignee
    notice = _claim(ticket, target, kind, sent_to)
    if notice is None:
        return False
    if not plan:
        logger.warning("SLA %s of ticket %s (%s): nobody to tell", kind, ticket.pk, target)
    try:
        messages = [
            _message(
                template=template, ticket=ticket, target=target, kind=kind, recipient=user, now=now
            )
            for template, user in plan
        ]
        if messages:
            connection.send_messages(messages)
    except Exception:
        # Not sent: release the claim so that the next run tries again.
        logger.exception("SLA %s of ticket %s (%s) not sent", kind, ticket.pk, target)
        SlaNotice.objects.filter(pk=notice.pk).delete()
        return False
    return True


def _candidates(now: datetime.datetime, target: str, kind: str):
    due, warn, _left, _breached = FIELDS[target]
    if kind == Kind.BREACH:
        condition = Q(**{f"{due}__lt": now})
    else:
        condition = Q(**{f"{warn}__lte": now, f"{due}__gte": now})
    already = SlaNotice.objects.filter(ticket=OuterRef("pk"), target=target, kind=kind)
    return (
        Ticket.objects.filter(open_running_q(), condition)
        .filter(~Exists(already))
        .order_by(due, "pk")
        .values_list("pk", flat=True)
    )


def _batches(ids: list[int]) -> Iterable[list[Ticket]]:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        tickets = Ticket.objects.select_related(
            "account", "contact", "assignee__team__manager"
        ).in_bulk(chunk)
        yield [tickets[pk] for pk in chunk if pk in tickets]


def sla_flag_breaches(*, now: datetime.datetime) -> int:
    """Mark breached the running targets whose due time has passed (queues and reports read
    the flag). Two conditional UPDATEs, harmless to repeat."""
    flagged = 0
    for due, _warn, _left, breached in FIELDS.values():
        flagged += Ticket.objects.filter(
            open_running_q(), **{f"{due}__lt": now, breached: False}
        ).update(**{breached: True})
    return flagged


def _stuck():
    """Tickets being worked (not waiting, not resolved) whose clock is nevertheless stopped."""
    return Ticket.objects.filter(open_running_q()).filter(
        Q(first_response_left__isnull=False) | Q(resolution_left__isnull=False)
    )


def sla_restart_stopped(*, now: datetime.datetime, setup: SlaSetup) -> int:
    """Restart the clocks of tickets being worked whose clock is stopped.

    Only a reopening that forgot to call sla_resume leaves a ticket like that; its clocks
    restart from now (with the minutes they had left) rather than never running out again.
    """
    restarted = 0
    for pk in list(_stuck().values_list("pk", flat=True)[:MAX_NOTICES]):
        with transaction.atomic():
            ticket = _stuck().select_for_update().filter(pk=pk).first()
            if ticket is None:
                continue
            sla_resume(ticket, now=now, setup=setup)
            ticket.save(update_fields=[*SLA_FIELDS, "paused_at"])
            restarted += 1
    return restarted


def sla_check(*, now: datetime.datetime) -> dict[str, int]:
    """Warn and escalate, each ticket, target and kind exactly once; flag the breaches.

    Breaches are handled before warnings, and a target seen for the first time already
    overdue gets only the breach. Each notice is claimed (SlaNotice) before its emails go out,
    in its own transaction; a failed send releases it for the next run. At most MAX_NOTICES
    per run: a backlog drains over the next runs.
    """
    summary = {"restarted": 0, "flagged": 0, "warnings": 0, "breaches": 0}
    if _stuck().exists():
        summary["restarted"] = sla_restart_stopped(now=now, setup=sla_setup_load())
    summary["flagged"] = sla_flag_breaches(now=now)
    recipients: Recipients | None = None
    connection = get_connection()
    budget = MAX_NOTICES
    for kind, key in ((Kind.BREACH, "breaches"), (Kind.WARNING, "warnings")):
        for target in FIELDS:
            if budget <= 0:
                return summary
            ids = list(_candidates(now, target, kind)[:budget])
            if not ids:
                continue
            recipients = recipients or Recipients()
            for tickets in _batches(ids):
                for ticket in tickets:
                    sent = _notify(
                        ticket, target, kind, recipients=recipients, now=now, connection=connection
                    )
                    summary[key] += sent
                    budget -= 1
    return summary
