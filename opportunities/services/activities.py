"""Every write to activities: logging, planning, the state machine, reminders and the visit plan.

An activity is planned (a date in the agenda) or done (when, with its outcome); a planned one
becomes done or cancelled, never back. Logging a done contact moves the customer's "last
contacted" forward in the same transaction. Who may do what comes from
opportunities.permissions, in one place.
"""

import logging
import secrets
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.concurrency import check_version
from crm.core.models import User
from crm.core.permissions import sales_users
from crm.core.text import digits
from opportunities.models import Activity, ActivityKind, CalendarFeed, Opportunity
from opportunities.permissions import (
    activity_editable_q,
    can_log_calls,
    can_sell,
    opportunity_visible_q,
    team_members,
)
from opportunities.selectors.activities import user_zone, visits_due

logger = logging.getLogger(__name__)

# A done activity may carry a time a little ahead of the server's clock (a phone's clock).
FUTURE_TOLERANCE = timedelta(minutes=5)
# Kinds that are a contact with the customer (a task is not): they move "last contacted".
CONTACT_KINDS = frozenset(ActivityKind.values) - {ActivityKind.TASK}
EDITABLE_FIELDS = (
    "kind",
    "subject",
    "planned_at",
    "duration_minutes",
    "place",
    "notes",
    "outcome",
    "done_at",
)
# What an activity's version holds (the API's ETag): the details and the status.
VERSION_FIELDS = (*EDITABLE_FIELDS, "status")
PLAN_HOURS = (9, 10, 11, 12, 13, 16, 17, 18)  # local start times the weekly plan spreads over


def iso_week_period(day: date) -> str:
    """The visit plan's period: the ISO week of `day`, as "2026-W48"."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


# Checks ---------------------------------------------------------------------------------------


def _check_can_sell(actor: User) -> None:
    if not can_sell(actor):
        raise PermissionDenied(_("Tu rol no puede registrar ni planificar actividades."))


def _check_can_log(
    actor: User, *, kind: str, opportunity: Opportunity | None, next_kind: str
) -> None:
    """Sellers log any activity. Support logs the calls it answers (¿Quién llama?): a done call
    of its own, with no deal (it sees none) and no next step (its agenda is the ticket queue)."""
    if can_sell(actor):
        return
    if can_log_calls(actor) and kind == ActivityKind.CALL and opportunity is None and not next_kind:
        return
    _check_can_sell(actor)


def _resolve_owner(*, actor: User, owner: User | None) -> User:
    """The actor, or (for a manager or an administrator) one of the reps they lead."""
    if owner is None or owner.pk == actor.pk:
        return actor
    if not team_members(actor).filter(pk=owner.pk).exists():
        raise PermissionDenied(
            _("No puedes registrar actividades en nombre de %(user)s.") % {"user": owner}
        )
    return owner


def _resolve_customer(
    *,
    actor: User,
    account: Account | None,
    contact: Contact | None,
    opportunity: Opportunity | None,
) -> tuple[Account | None, Contact | None, Opportunity | None]:
    """The account follows from the contact or the deal; they must all agree."""
    if opportunity is not None:
        if not Opportunity.objects.filter(opportunity_visible_q(actor), pk=opportunity.pk).exists():
            raise PermissionDenied(_("No puedes registrar actividades en esta oportunidad."))
        if account is None:
            account = opportunity.account
        elif opportunity.account_id != account.pk:
            raise ValidationError(
                {"opportunity": _("La oportunidad es de otra cuenta.")}, code="mismatch"
            )
    if contact is not None and contact.account_id:
        if account is None:
            account = contact.account
        elif contact.account_id != account.pk:
            raise ValidationError(
                {"contact": _("El contacto pertenece a otra cuenta.")}, code="mismatch"
            )
    if account is None and contact is None:
        raise ValidationError(
            _("Indica la cuenta o el contacto de la actividad."), code="no_customer"
        )
    return account, contact, opportunity


def _editable(*, actor: User, activity: Activity) -> Activity:
    """The activity, locked for the change, if the actor may change it; else PermissionDenied."""
    try:
        return (
            Activity.objects.select_for_update(of=("self",))
            .filter(activity_editable_q(actor))
            .get(pk=activity.pk)
        )
    except Activity.DoesNotExist as exc:
        raise PermissionDenied(_("No puedes modificar esta actividad.")) from exc


def _touch_last_contacted(activity: Activity) -> None:
    """Move the customer's "last contacted" forward to this activity, never backwards.

    One conditional UPDATE per record: two activities logged at once cannot move it back.
    """
    if activity.status != Activity.Status.DONE or activity.kind not in CONTACT_KINDS:
        return
    when = activity.done_at
    newer = Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=when)
    if activity.account_id:
        Account.objects.filter(newer, pk=activity.account_id).update(last_contacted_at=when)
    if activity.contact_id:
        Contact.objects.filter(newer, pk=activity.contact_id).update(last_contacted_at=when)


def _save(activity: Activity) -> Activity:
    activity.full_clean()
    activity.save()
    return activity


# Logging and planning -------------------------------------------------------------------------


def activities_plan_many(activities: list[Activity]) -> list[Activity]:
    """Planned activities that a job puts in agendas (a birthday automation's calls), written
    in bulk: the job chose the owners and customers, and the database's constraints hold."""
    for activity in activities:
        activity.status = Activity.Status.PLANNED
    return Activity.objects.bulk_create(activities, batch_size=1000)


@transaction.atomic
def activity_plan(
    *,
    actor: User,
    kind: str,
    planned_at: datetime,
    account: Account | None = None,
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    subject: str = "",
    duration_minutes: int = 30,
    place: str = "",
    notes: str = "",
    owner: User | None = None,
) -> Activity:
    """A planned activity in the owner's agenda."""
    _check_can_sell(actor)
    owner = _resolve_owner(actor=actor, owner=owner)
    account, contact, opportunity = _resolve_customer(
        actor=actor, account=account, contact=contact, opportunity=opportunity
    )
    if planned_at is None:
        raise ValidationError({"planned_at": _("Indica la fecha prevista.")}, code="required")
    return _save(
        Activity(
            kind=kind,
            status=Activity.Status.PLANNED,
            owner=owner,
            account=account,
            contact=contact,
            opportunity=opportunity,
            subject=subject,
            planned_at=planned_at,
            duration_minutes=duration_minutes,
            place=place,
            notes=notes,
        )
    )


@transaction.atomic
def activity_log(
    *,
    actor: User,
    kind: str,
    outcome: str,
    account: Account | None = None,
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    when: datetime | None = None,
    notes: str = "",
    subject: str = "",
    duration_minutes: int = 30,
    place: str = "",
    next_kind: str = "",
    next_at: datetime | None = None,
    next_subject: str = "",
    owner: User | None = None,
) -> Activity:
    """A done activity (what happened, when), and optionally the next step, planned.

    Moves the account's and the contact's "last contacted" forward in the same transaction.
    """
    _check_can_log(actor, kind=kind, opportunity=opportunity, next_kind=next_kind)
    owner = _resolve_owner(actor=actor, owner=owner)
    account, contact, opportunity = _resolve_customer(
        actor=actor, account=account, contact=contact, opportunity=opportunity
    )
    now = timezone.now()
    when = when or now
    errors: dict[str, list[str]] = {}
    if not (outcome or "").strip():
        errors["outcome"] = [_("Indica el resultado de la actividad.")]
    if when > now + FUTURE_TOLERANCE:
        errors["when"] = [_("Una actividad hecha no puede tener fecha futura; planifícala.")]
    if bool(next_kind) != bool(next_at):
        errors["next_at" if next_kind else "next_kind"] = [
            _("Para el siguiente paso indica el tipo y la fecha.")
        ]
    elif next_at is not None and next_at <= when:
        errors["next_at"] = [_("El siguiente paso debe ser posterior a la actividad.")]
    if errors:
        raise ValidationError(errors)
    activity = _save(
        Activity(
            kind=kind,
            status=Activity.Status.DONE,
            owner=owner,
            account=account,
            contact=contact,
            opportunity=opportunity,
            subject=subject,
            planned_at=when,
            done_at=when,
            duration_minutes=duration_minutes,
            place=place,
            outcome=outcome.strip(),
            notes=notes,
        )
    )
    _touch_last_contacted(activity)
    if next_kind:
        activity.next_step = activity_plan(
            actor=actor,
            kind=next_kind,
            planned_at=next_at,
            account=account,
            contact=contact,
            opportunity=opportunity,
            subject=next_subject,
            owner=owner,
        )
    else:
        activity.next_step = None
    return activity


def contact_link(*, contact: Contact, channel: str, sender: User) -> str:
    """The tel: or wa.me address for the contact's mobile (or phone), "" when it has none."""
    number = contact.mobile or contact.phone
    if not number:
        return ""
    if channel == ActivityKind.CALL:
        return f"tel:{number}"
    greeting = _("Hola, %(name)s. Le escribe %(me)s.") % {
        "name": contact.first_name,
        "me": sender.get_full_name() or sender.get_username(),
    }
    return f"https://wa.me/{digits(number)}?text={quote(greeting)}"


@transaction.atomic
def contact_attempt_log(*, actor: User, contact: Contact, channel: str) -> tuple[Activity, str]:
    """Log that the rep is calling or writing on WhatsApp to the contact, and return the link."""
    if channel not in (ActivityKind.CALL, ActivityKind.WHATSAPP):
        raise ValidationError(_("Canal de contacto no válido."), code="channel")
    link = contact_link(contact=contact, channel=channel, sender=actor)
    if not link:
        raise ValidationError(_("Este contacto no tiene teléfono."), code="no_phone")
    outcome = (
        _("Llamada iniciada desde el CRM.")
        if channel == ActivityKind.CALL
        else _("Mensaje de WhatsApp iniciado desde el CRM.")
    )
    activity = activity_log(actor=actor, kind=channel, contact=contact, outcome=outcome)
    return activity, link


# The state machine ----------------------------------------------------------------------------


@transaction.atomic
def activity_complete(
    *,
    actor: User,
    activity: Activity,
    outcome: str,
    done_at: datetime | None = None,
    notes: str | None = None,
) -> Activity:
    """Planned → done: asks for the outcome."""
    activity = _editable(actor=actor, activity=activity)
    if activity.status != Activity.Status.PLANNED:
        raise ValidationError(
            _("Solo una actividad planificada puede marcarse como hecha."), code="state"
        )
    if not (outcome or "").strip():
        raise ValidationError({"outcome": _("Indica el resultado de la actividad.")})
    now = timezone.now()
    done_at = done_at or now
    if done_at > now + FUTURE_TOLERANCE:
        raise ValidationError({"done_at": _("La fecha de realización no puede ser futura.")})
    activity.status = Activity.Status.DONE
    activity.done_at = done_at
    activity.outcome = outcome.strip()
    if notes is not None:
        activity.notes = notes
    _save(activity)
    _touch_last_contacted(activity)
    return activity


@transaction.atomic
def activity_cancel(*, actor: User, activity: Activity) -> Activity:
    """Planned → cancelled (kept in the history, gone from the agenda and the calendar)."""
    activity = _editable(actor=actor, activity=activity)
    if activity.status != Activity.Status.PLANNED:
        raise ValidationError(_("Solo una actividad planificada puede cancelarse."), code="state")
    activity.status = Activity.Status.CANCELLED
    return _save(activity)


@transaction.atomic
def activity_update(
    *, actor: User, activity: Activity, data: dict, version: str | None = None
) -> Activity:
    """Change the details; a planned one may be moved (its reminder is then sent again).

    `version`: the activity as the caller read it; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    activity = _editable(actor=actor, activity=activity)
    check_version(activity, version, fields=VERSION_FIELDS)
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("Una actividad cancelada no se puede modificar."), code="state")
    old_planned_at, old_done_at = activity.planned_at, activity.done_at
    for field, value in data.items():
        if field not in EDITABLE_FIELDS:
            continue
        if field == "planned_at" and activity.status != Activity.Status.PLANNED:
            continue
        if field in ("outcome", "done_at") and activity.status != Activity.Status.DONE:
            continue
        setattr(activity, field, value)
    if activity.status == Activity.Status.DONE:
        if not (activity.outcome or "").strip():
            raise ValidationError({"outcome": _("Indica el resultado de la actividad.")})
        if activity.done_at and activity.done_at > timezone.now() + FUTURE_TOLERANCE:
            raise ValidationError({"done_at": _("La fecha de realización no puede ser futura.")})
    if activity.status == Activity.Status.PLANNED and activity.planned_at != old_planned_at:
        activity.reminder_sent_at = None
    _save(activity)
    if activity.done_at != old_done_at:
        _touch_last_contacted(activity)
    return activity


# The calendar feed ----------------------------------------------------------------------------


def calendar_feed_get_or_create(*, user: User) -> CalendarFeed:
    """The user's feed, made on first use (the agenda shows its address)."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is None:
        with transaction.atomic():
            feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


@transaction.atomic
def calendar_feed_rotate(*, user: User) -> CalendarFeed:
    """A new secret address; the old one answers 404 from now on."""
    feed, _created = CalendarFeed.objects.select_for_update().get_or_create(user=user)
    feed.token = secrets.token_urlsafe()
    feed.save(update_fields=["token"])
    return feed


# Reminders ------------------------------------------------------------------------------------


def reminder_minutes() -> int:
    return int(getattr(settings, "ACTIVITY_REMINDER_MINUTES", 60))


def site_url() -> str:
    return getattr(settings, "SITE_URL", "http://localhost:8000").rstrip("/")


def _reminder_message(activity: Activity) -> EmailMessage:
    owner = activity.owner
    with translation.override(settings.LANGUAGE_CODE), timezone.override(user_zone(owner)):
        context = {
            "activity": activity,
            "owner": owner,
            "customer": activity.contact or activity.account,
            "url": site_url() + activity.get_absolute_url(),
        }
        subject = render_to_string(
            "opportunities/activities/email/reminder_subject.txt", context
        ).strip()
        body = render_to_string("opportunities/activities/email/reminder.txt", context)
    return EmailMessage(subject=" ".join(subject.split()), body=body, to=[owner.email])


def activity_reminders_send(*, now: datetime | None = None, minutes: int | None = None) -> int:
    """Email the owner of each planned activity that starts soon; each reminder once.

    Every row is claimed with a conditional UPDATE (… WHERE reminder_sent_at IS NULL) in its own
    transaction before the message goes out, so two workers never both send it. A message that
    fails to go out releases its claim, to be tried on the next run.
    """
    now = now or timezone.now()
    horizon = now + timedelta(minutes=reminder_minutes() if minutes is None else minutes)
    due = Activity.objects.filter(
        status=Activity.Status.PLANNED,
        reminder_sent_at__isnull=True,
        planned_at__gte=now,
        planned_at__lte=horizon,
    ).order_by("planned_at")
    sent = 0
    for pk in list(due.values_list("pk", flat=True)[:1000]):
        claimed = Activity.objects.filter(
            pk=pk, status=Activity.Status.PLANNED, reminder_sent_at__isnull=True
        ).update(reminder_sent_at=now)
        if not claimed:
            continue  # another worker has it
        activity = Activity.objects.select_related("owner", "account", "contact").get(pk=pk)
        if not activity.owner.email or not activity.owner.is_active:
            continue
        try:
            _reminder_message(activity).send()
        except Exception:
            logger.exception("Reminder for activity %s not sent", pk)
            Activity.objects.filter(pk=pk, reminder_sent_at=now).update(reminder_sent_at=None)
            continue
        sent += 1
    return sent


# The visit plan -------------------------------------------------------------------------------


def _plan_visit(*, account: Account, period: str, planned_at: datetime) -> Activity | None:
    """The plan's visit for the account and period, unless one exists (then None).

    The unique (account, cadence_period) constraint is the guard: a concurrent run that
    inserted it first makes this insert fail, and that failure is the answer "already planned".
    """
    activity = Activity(
        kind=ActivityKind.VISIT,
        status=Activity.Status.PLANNED,
        owner_id=account.owner_id,
        account=account,
        planned_at=planned_at,
        duration_minutes=60,
        place=account.address_line[:200],
        subject=_("Visita según plan (%(period)s)") % {"period": period},
        cadence_period=period,
    )
    try:
        with transaction.atomic():
            activity.full_clean(validate_constraints=False)
            activity.save()
    except IntegrityError:
        return None
    return activity


def visits_plan_weekly(*, today: date | None = None) -> int:
    """Plan, for every rep, a visit in the coming week to each account due by its end.

    An account that already has a planned visit is left alone, and the plan never makes two
    visits for the same account and week, however often it runs. Returns the visits planned.
    """
    today = today or timezone.localdate()
    week_start = today if today.weekday() == 0 else today + timedelta(days=7 - today.weekday())
    period = iso_week_period(week_start)
    created = 0
    for rep in sales_users().order_by("pk"):
        zone = user_zone(rep)
        week_end = datetime.combine(week_start + timedelta(days=7), time.min, tzinfo=zone)
        accounts = visits_due(owner=rep, at=week_end, unplanned_only=True, period=period)
        with translation.override(settings.LANGUAGE_CODE):
            for i, account in enumerate(accounts):
                day = week_start + timedelta(days=i % 5)  # Monday to Friday
                hour = PLAN_HOURS[(i // 5) % len(PLAN_HOURS)]
                planned_at = datetime.combine(day, time(hour), tzinfo=zone)
                if _plan_visit(account=account, period=period, planned_at=planned_at):
                    created += 1
    return created
