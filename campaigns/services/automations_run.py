"""Running the automations: materialise the due deliveries (set-based, once per occurrence) and
send them through the campaigns engine (content, mail headers, eligibility at claim time).

- Materialising writes ledger rows (AutomationDelivery) with ON CONFLICT DO NOTHING: the same
  occurrence materialised twice, or by two beat processes at once, inserts nothing new.
- Sending claims due pending rows with SELECT … FOR UPDATE SKIP LOCKED, re-checks consent,
  topic and suppression for each, refuses a paused automation's rows, and waits through the
  quiet hours (no automated email between AUTOMATION_QUIET_HOURS in the company's zone: the
  rows stay pending and go at the next allowed time).
- A worker that dies with rows claimed leaves them `enviando`; the next run marks those older
  than the claim timeout `en_duda` (maybe delivered: never resent by themselves).

The quiet hours and a birthday's or holiday's day are the recipient's (crm.core.zones). A
birthday automation may also put a call in the owner's agenda on the working day before.

Messages carry no open pixel and no rewritten links (tracking is per campaign ledger row); the
unsubscribe link and the RFC 8058 headers point at the automation's own one-click endpoint.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from campaigns import content, links, mail
from campaigns.eligibility import eligible_contact_ids, eligible_q, ineligible_reason
from campaigns.models import (
    Automation,
    AutomationDelivery,
    AutomationStep,
    FormSubmission,
    Suppression,
    TrackingEvent,
)
from campaigns.services import automations as defs
from campaigns.services.batches import _classify, retry_delay
from contacts.models import Consent, Contact
from crm.core import zones
from crm.core.audit import audit
from crm.core.models import AuditEvent
from opportunities.models import Activity, ActivityKind
from opportunities.permissions import can_sell
from opportunities.selectors.activities import user_zone
from opportunities.services.activities import activities_plan_many

logger = logging.getLogger(__name__)

Kind = Automation.Kind
Row = AutomationDelivery.Status
ACTIVE = Automation.Status.ACTIVE
INSERT_BATCH = 5000


def welcome_lookback_days() -> int:
    """How far back the welcome series looks for new grants (a missed run is caught up)."""
    return getattr(settings, "AUTOMATION_WELCOME_LOOKBACK_DAYS", 7)


def stale_hours() -> int:
    """A birthday's or holiday's message not sent this long after its time is dropped."""
    return getattr(settings, "AUTOMATION_STALE_HOURS", 24)


def batch_size() -> int:
    return getattr(settings, "AUTOMATION_BATCH_SIZE", 200)


# --- Materialising --------------------------------------------------------------------------


def _insert(automation: Automation, steps: list[AutomationStep], rows, occurrence, due, now) -> int:
    """Insert one delivery per (contact, step), skipping any already there; returns the rows
    offered (the database keeps the first of each key)."""
    objects = []
    for contact_id, email, trigger in rows:
        for step in steps:
            objects.append(
                AutomationDelivery(
                    automation=automation,
                    step=step,
                    contact_id=contact_id,
                    occurrence=occurrence(trigger),
                    email=email,
                    due_at=due(trigger) + timedelta(days=step.delay_days, hours=step.delay_hours),
                    created_at=now,
                )
            )
    AutomationDelivery.objects.bulk_create(objects, ignore_conflicts=True, batch_size=INSERT_BATCH)
    return len(objects)


def _insert_select(
    automation: Automation, steps, contacts, occurrence: str, at: datetime, now: datetime
) -> int:
    """One INSERT … SELECT per step of the contacts' (id, email), when every row shares its
    occurrence and time: the rows never travel to Python (a holiday writes one per eligible
    contact). ON CONFLICT DO NOTHING keeps the first row of each key; returns rows inserted."""
    table = AutomationDelivery._meta.db_table
    select = contacts.order_by().values(auto_cid=F("pk"), auto_email=F("email"))
    select_sql, select_params = select.query.sql_with_params()
    adapt = connection.ops.adapt_datetimefield_value
    inserted = 0
    with connection.cursor() as cursor:
        for step in steps:
            due = at + timedelta(days=step.delay_days, hours=step.delay_hours)
            cursor.execute(
                f"INSERT INTO {table} (automation_id, step_id, contact_id, occurrence, email, "
                "status, reason, due_at, attempts, message_id, created_at) "
                "SELECT %s, %s, c.auto_cid, %s, c.auto_email, %s, '', %s, 0, '', %s "
                f"FROM ({select_sql}) c WHERE true ON CONFLICT DO NOTHING",
                [
                    automation.pk,
                    step.pk,
                    occurrence,
                    Row.PENDING,
                    adapt(due),
                    adapt(now),
                    *select_params,
                ],
            )
            inserted += max(cursor.rowcount, 0)
    return inserted


def _on_days(days) -> Q:
    """Contacts whose birthday falls on one of `days` (a Feb 29 birthday on Feb 28 of a common
    year): month and day compared in SQL."""
    q = Q()
    for day in days:
        q |= Q(birthday__month=day.month, birthday__day=day.day)
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            q |= Q(birthday__month=2, birthday__day=29)
    return q


def _by_zone(contacts):
    """[(zone name, ZoneInfo)] of the effective zones of `contacts` (one DISTINCT query)."""
    return [(name, zones.zone(name)) for name in sorted(zones.zones_in_use(contacts))]


def _birthday(automation: Automation, steps, now: datetime) -> int:
    """Today's birthdays in each contact's own zone, at the send hour of that zone: one
    INSERT … SELECT per zone in use and step; occurrence: the year."""
    people = Contact.objects.filter(birthday__isnull=False, archived_at__isnull=True)
    inserted = 0
    for name, zone in _by_zone(people):
        today = timezone.localdate(now, zone)
        contacts = (
            Contact.objects.filter(birthday__isnull=False)
            .filter(_on_days([today]), zones.zone_q(name))
            .filter(eligible_q(automation.topic_id))
        )
        at = defs.local_moment(today, automation.send_hour, zone)
        inserted += _insert_select(automation, steps, contacts, str(today.year), at, now)
    return inserted


def _birthday_reminders(automation: Automation, now: datetime) -> int:
    """On a working day of the company, a call in the owner's agenda for each birthday up to
    the next working day (Friday: Saturday's, Sunday's and Monday's). Not an email: it needs
    no consent. Once per contact and birthday (the ledger's row without a step, occurrence
    the year); an owner who no longer sells leaves a skipped row with the reason."""
    company = defs.company_zone()
    today = timezone.localdate(now, company)
    if not defs.is_working_day(today):
        return 0
    last = defs.next_working_day(today)
    days = [today + timedelta(days=n) for n in range(1, (last - today).days + 1)]
    # Two runs at once: the second waits here and then finds the first one's rows.
    Automation.objects.select_for_update().filter(pk=automation.pk).first()
    found = list(
        Contact.objects.filter(
            _on_days(days),
            birthday__isnull=False,
            archived_at__isnull=True,
            merged_into__isnull=True,
            erased_at__isnull=True,
        )
        .select_related("owner")
        .only(
            "id",
            "first_name",
            "last_name",
            "email",
            "birthday",
            "account_id",
            "owner__id",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
            "owner__is_active",
            "owner__role",
            "owner__time_zone",
        )
    )
    if not found:
        return 0
    wanted = {}
    for contact in found:
        day = next(d for d in days if _birthday_in(contact.birthday, d.year) == d)
        wanted[contact.pk] = (contact, day)
    done = set(
        AutomationDelivery.objects.filter(
            automation=automation, step__isnull=True, contact_id__in=list(wanted)
        ).values_list("contact_id", "occurrence")
    )
    ledger, calls = [], []
    with translation.override(settings.LANGUAGE_CODE):
        for contact, day in wanted.values():
            occurrence = str(day.year)
            if (contact.pk, occurrence) in done:
                continue
            owner = contact.owner
            row = AutomationDelivery(
                automation=automation,
                step=None,
                contact=contact,
                occurrence=occurrence,
                email=contact.email,
                due_at=now,
                sent_at=now,
                created_at=now,
            )
            if not (owner.is_active and can_sell(owner)):
                row.status = Row.SKIPPED
                row.reason = _("%(rep)s ya no vende: nadie recibe el aviso del cumpleaños.") % {
                    "rep": owner
                }
                ledger.append(row)
                continue
            zone = user_zone(owner)
            planned = max(datetime.combine(today, time(9), tzinfo=zone), now)
            when = date_format(day, "l j \\d\\e F")
            row.status = Row.REMINDED
            row.reason = _("Llamada en la agenda de %(rep)s: cumple el %(day)s.") % {
                "rep": owner,
                "day": when,
            }
            ledger.append(row)
            calls.append(
                Activity(
                    kind=ActivityKind.CALL,
                    status=Activity.Status.PLANNED,
                    owner=owner,
                    contact=contact,
                    account_id=contact.account_id,
                    subject=(
                        _("Felicitar a %(name)s por su cumpleaños (%(day)s)")
                        % {"name": contact.full_name, "day": when}
                    )[:200],
                    planned_at=planned,
                    duration_minutes=10,
                    notes=_("Aviso de la automatización «%(name)s».") % {"name": automation.name},
                )
            )
    AutomationDelivery.objects.bulk_create(ledger, batch_size=INSERT_BATCH)
    activities_plan_many(calls)
    return len(calls)


def _holiday(automation: Automation, steps, now: datetime) -> int:
    """On a chosen holiday of the automation's calendar, in each contact's own zone: every
    eligible contact of that zone, at its send hour; occurrence: the date."""
    if not automation.holiday_country:
        return 0
    chosen = set(automation.holiday_names or [])
    inserted = 0
    for name, zone in _by_zone(Contact.objects.filter(archived_at__isnull=True)):
        today = timezone.localdate(now, zone)
        if not defs.holiday_names_on(automation.holiday_country, today) & chosen:
            continue
        contacts = Contact.objects.filter(zones.zone_q(name), eligible_q(automation.topic_id))
        at = defs.local_moment(today, automation.send_hour, zone)
        inserted += _insert_select(automation, steps, contacts, today.isoformat(), at, now)
    return inserted


def _welcome(automation: Automation, steps, now: datetime) -> int:
    """New subscribers: a grant in the consent ledger for the automation's topic (or for all
    email) since the automation exists, within the look-back window, from a contact this
    automation never wrote to. Occurrence: the date of their first such grant; the steps'
    delays count from the grant itself."""
    since = max(automation.created_at, now - timedelta(days=welcome_lookback_days()))
    grants = Consent.objects.filter(
        channel=Consent.Channel.EMAIL,
        action=Consent.Action.GRANT,
        at__gte=since,
        at__lte=now,
    )
    grants = (
        grants.filter(topic__isnull=True)
        if automation.topic_id is None
        else grants.filter(topic_id=automation.topic_id)
    )
    first_grant = Subquery(
        grants.filter(contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(first=Min("at"))
        .values("first")[:1]
    )
    contacts = (
        Contact.objects.filter(pk__in=grants.values("contact_id"))
        .filter(eligible_q(automation.topic_id))
        .exclude(
            Exists(AutomationDelivery.objects.filter(automation=automation, contact=OuterRef("pk")))
        )
        .annotate(first_grant=first_grant)
        .values_list("pk", "email", "first_grant")
    )
    zone = defs.company_zone()
    return _insert(
        automation,
        steps,
        contacts.iterator(chunk_size=INSERT_BATCH),
        lambda at: timezone.localtime(at, zone).date().isoformat(),
        lambda at: at,
        now,
    )


def last_activity():
    """A contact's last sign of life: created, contacted by a rep (activities keep
    `last_contacted_at`), an open or a click of a campaign, a form sent."""
    events = TrackingEvent.objects.filter(
        contact=OuterRef("pk"),
        kind__in=(TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK),
        is_machine=False,
    )
    forms = FormSubmission.objects.filter(contact=OuterRef("pk"))
    created = F("created_at")
    return Greatest(
        created,
        Coalesce(F("last_contacted_at"), created),
        Coalesce(Subquery(events.order_by("-at").values("at")[:1]), created),
        Coalesce(Subquery(forms.order_by("-created_at").values("created_at")[:1]), created),
    )


def _reengagement(automation: Automation, steps, now: datetime) -> int:
    """Consenting contacts silent for N days get the steps; occurrence: the date their
    silence began (the same while they stay silent, a new one after they wake up)."""
    cutoff = now - timedelta(days=automation.inactive_days)
    contacts = (
        Contact.objects.filter(eligible_q(automation.topic_id), created_at__lt=cutoff)
        .filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=cutoff))
        .annotate(silent_since=last_activity())
        .filter(silent_since__lt=cutoff)
        .values_list("pk", "email", "silent_since")
    )
    zone = defs.company_zone()
    return _insert(
        automation,
        steps,
        contacts.iterator(chunk_size=INSERT_BATCH),
        lambda at: timezone.localtime(at, zone).date().isoformat(),
        lambda _at: now,
        now,
    )


def _reengagement_suppress(automation: Automation, now: datetime) -> int:
    """Those still silent M days after the re-engagement's first message went out: their
    address goes on the suppression list, with a note, an audit entry and a ledger row."""
    first = (
        AutomationDelivery.objects.filter(
            automation=automation,
            step__order=1,
            status=Row.SENT,
            sent_at__lte=now - timedelta(days=automation.suppress_after_days),
        )
        .exclude(
            Exists(
                AutomationDelivery.objects.filter(
                    automation=automation,
                    step__isnull=True,
                    contact=OuterRef("contact_id"),
                    occurrence=OuterRef("occurrence"),
                )
            )
        )
        .values_list("contact_id", "occurrence", "sent_at", "email")
    )
    found = {contact_id: (occ, sent_at, email) for contact_id, occ, sent_at, email in first}
    if not found:
        return 0
    seen = dict(
        Contact.objects.filter(pk__in=list(found))
        .annotate(last_seen=last_activity())
        .values_list("pk", "last_seen")
    )
    done = 0
    with translation.override(settings.LANGUAGE_CODE):
        for contact_id, (occurrence, sent_at, email) in found.items():
            if seen.get(contact_id) is None or seen[contact_id] >= sent_at:
                continue  # woke up (or was deleted)
            note = _(
                "Sin actividad %(days)s días después de la reactivación «%(name)s» "
                "(inactivo desde %(since)s)."
            ) % {
                "days": automation.suppress_after_days,
                "name": automation.name,
                "since": occurrence,
            }
            with transaction.atomic():
                created = AutomationDelivery.objects.bulk_create(
                    [
                        AutomationDelivery(
                            automation=automation,
                            step=None,
                            contact_id=contact_id,
                            occurrence=occurrence,
                            email=email,
                            status=Row.SUPPRESSED,
                            reason=note[:300],
                            due_at=now,
                            sent_at=now,
                            created_at=now,
                        )
                    ],
                    ignore_conflicts=True,
                )
                if not created or not email:
                    continue
                _row, added = Suppression.objects.get_or_create(
                    email=email.lower(),
                    defaults={"reason": Suppression.Reason.MANUAL, "note": note[:300]},
                )
                audit(
                    actor=None,
                    action=AuditEvent.Action.SEND,
                    target=automation,
                    detail={
                        "event": "reengagement_suppress",
                        "contact": contact_id,
                        "email": email,
                        "already_suppressed": not added,
                    },
                )
            done += 1
    return done


MATERIALISERS = {
    Kind.BIRTHDAY: _birthday,
    Kind.HOLIDAY: _holiday,
    Kind.WELCOME: _welcome,
    Kind.REENGAGEMENT: _reengagement,
}


@dataclass
class MaterialiseReport:
    offered: int = 0
    inserted: int = 0
    suppressed: int = 0
    reminded: int = 0


def automations_materialise(*, now: datetime | None = None) -> MaterialiseReport:
    """Write the due deliveries of every active automation (idempotent: run it twice, or
    twice at once, and the second inserts nothing)."""
    now = now or timezone.now()
    report = MaterialiseReport()
    before = AutomationDelivery.objects.filter(step__isnull=False).count()
    for automation in Automation.objects.filter(status=ACTIVE).select_related("topic"):
        steps = list(automation.steps.order_by("order"))
        if steps:
            with transaction.atomic():
                report.offered += MATERIALISERS[automation.kind](automation, steps, now)
        if automation.kind == Kind.REENGAGEMENT:
            report.suppressed += _reengagement_suppress(automation, now)
        if automation.kind == Kind.BIRTHDAY and automation.remind_owner:
            with transaction.atomic():
                report.reminded += _birthday_reminders(automation, now)
    report.inserted = AutomationDelivery.objects.filter(step__isnull=False).count() - before
    return report


def automation_materialise_one(*, automation: Automation, now: datetime | None = None) -> int:
    """One automation's materialisation (the bench, and tests of a single trigger): the
    email rows offered or inserted, and the owners' reminders of a birthday one."""
    now = now or timezone.now()
    steps = list(automation.steps.order_by("order"))
    with transaction.atomic():
        count = MATERIALISERS[automation.kind](automation, steps, now) if steps else 0
        if automation.kind == Kind.BIRTHDAY and automation.remind_owner:
            count += _birthday_reminders(automation, now)
    return count


# --- Sending ----------------------------------------------------------------------------------


def _claim_timeout() -> int:
    return settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS


def automations_settle(*, now: datetime | None = None) -> dict:
    """Before claiming: dead workers' claims → en duda; a birthday's or holiday's message
    past its day → skipped as expired (a paused automation's too)."""
    now = now or timezone.now()
    doubt = AutomationDelivery.objects.filter(
        status=Row.SENDING, claimed_at__lt=now - timedelta(seconds=_claim_timeout())
    ).update(
        status=Row.DOUBT,
        reason=_("El proceso que lo enviaba se detuvo: puede haber llegado o no."),
    )
    expired = AutomationDelivery.objects.filter(
        status=Row.PENDING,
        automation__kind__in=(Kind.BIRTHDAY, Kind.HOLIDAY),
        due_at__lt=now - timedelta(hours=stale_hours()),
    ).update(status=Row.SKIPPED, reason=_("Vencido: no se envió a tiempo (pausa o parada)."))
    return {"doubt": doubt, "expired": expired}


@dataclass
class Claimed:
    claimed_at: datetime
    rows: list[AutomationDelivery]
    skipped: int = 0


def automation_claim(*, now: datetime | None = None, limit: int | None = None) -> Claimed | None:
    """Claim the next due rows of active automations (None: nothing to do, or quiet hours).
    Rows whose contact is no longer eligible become `omitido` with the reason."""
    now = now or timezone.now()
    known = zones.known_zone_names()
    quiet = {name for name in known if defs.is_quiet(now, zones.zone(name))}
    if quiet == known:
        return None
    limit = limit or batch_size()
    with transaction.atomic():
        due = AutomationDelivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status=Row.PENDING,
            due_at__lte=now,
            step__isnull=False,
            automation__status=ACTIVE,
        )
        if quiet:  # night where the recipient lives: their rows wait for the morning
            due = due.exclude(zones.zones_q(quiet, prefix="contact__"))
        rows = list(
            due.order_by("due_at", "id").only(
                "id", "automation_id", "step_id", "contact_id", "email", "attempts"
            )[:limit]
        )
        if not rows:
            return None
        topics = dict(
            Automation.objects.filter(pk__in={r.automation_id for r in rows}).values_list(
                "pk", "topic_id"
            )
        )
        eligible: set[tuple[int, int]] = set()
        for automation_id, topic_id in topics.items():
            ids = [r.contact_id for r in rows if r.automation_id == automation_id]
            eligible |= {(automation_id, pk) for pk in eligible_contact_ids(ids, topic_id)}
        keep, skip = [], []
        for row in rows:
            (keep if (row.automation_id, row.contact_id) in eligible else skip).append(row)
        if skip:
            contacts = Contact.objects.in_bulk([r.contact_id for r in skip])
            with translation.override(settings.LANGUAGE_CODE):
                for row in skip:
                    contact = contacts.get(row.contact_id)
                    reason = (
                        ineligible_reason(contact, topics[row.automation_id]) if contact else ""
                    ) or _("Sin consentimiento o en la lista de supresión al enviar.")
                    AutomationDelivery.objects.filter(pk=row.pk).update(
                        status=Row.SKIPPED, reason=reason[:300]
                    )
        if keep:
            AutomationDelivery.objects.filter(pk__in=[r.pk for r in keep]).update(
                status=Row.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
        for row in keep:
            row.attempts += 1
    return Claimed(claimed_at=now, rows=keep, skipped=len(skip))


@dataclass
class _Source:
    """What the engine's layout and headers read of a campaign, for an automation's step."""

    pk: str
    subject: str
    subject_b: str
    preheader: str
    html_body: str
    text_body: str
    topic: object
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""


class _NoTopic:
    """The footer names the topic subscribed to; without one, all email."""

    @property
    def name(self) -> str:
        return _("nuestros correos")


def _source(step: AutomationStep, automation: Automation) -> _Source:
    return _Source(
        pk=f"a{automation.pk}.p{step.order}",
        subject=step.subject,
        subject_b="",
        preheader=step.preheader,
        html_body=step.html_body,
        text_body=step.text_body,
        topic=automation.topic or _NoTopic(),
    )


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    released: int = 0


def _finish(row: AutomationDelivery, claimed: Claimed, **changes) -> None:
    AutomationDelivery.objects.filter(
        pk=row.pk, status=Row.SENDING, claimed_at=claimed.claimed_at
    ).update(**changes)


def automation_send_claimed(*, claimed: Claimed, connection=None) -> SendResult:
    """Render each claimed row with its step's message (the engine's layout and merge
    fields), send it over one connection, and record its outcome."""
    result = SendResult(skipped=claimed.skipped)
    if not claimed.rows:
        return result
    steps = AutomationStep.objects.select_related("automation__topic").in_bulk(
        {r.step_id for r in claimed.rows}
    )
    # Paused between the claim and now: give its rows back untouched (pausing stops at once).
    paused = set(
        Automation.objects.filter(
            pk__in={r.automation_id for r in claimed.rows}, status=Automation.Status.PAUSED
        ).values_list("pk", flat=True)
    )
    if paused:
        back = [r.pk for r in claimed.rows if r.automation_id in paused]
        result.released += AutomationDelivery.objects.filter(
            pk__in=back, status=Row.SENDING, claimed_at=claimed.claimed_at
        ).update(status=Row.PENDING, claimed_at=None, attempts=F("attempts") - 1)
    rows = [r for r in claimed.rows if r.automation_id not in paused]
    if not rows:
        return result
    contacts = Contact.objects.select_related("account", "owner").in_bulk(
        [r.contact_id for r in rows]
    )
    compiled: dict[int, tuple[content.CompiledMessage, _Source]] = {}
    connection = connection or get_connection(settings.CAMPAIGN_EMAIL_BACKEND)
    deliver = mail.sender_for(connection)
    try:
        connection.open()
    except Exception as exc:  # unreachable server: every row waits for a retry
        failure = _classify(exc)
        for row in rows:
            _temporary(row, claimed, str(failure), result)
        return result
    try:
        with translation.override(settings.LANGUAGE_CODE):
            for row in rows:
                step = steps[row.step_id]
                if row.step_id not in compiled:
                    source = _source(step, step.automation)
                    compiled[row.step_id] = (
                        content.compile_message(source, tracking=False),
                        source,
                    )
                message_source, source = compiled[row.step_id]
                url = defs.unsubscribe_url(row.pk)
                values = {
                    **content.merge_data(contacts[row.contact_id]),
                    "url_baja": url,
                    "url_preferencias": links.preferences_url(row.contact_id),
                }
                message = mail.build_message(
                    campaign=source,
                    send_id=row.pk,
                    to=row.email,
                    rendered=message_source.render(values),
                    connection=connection,
                    domain=mail.message_domain(source),
                    unsubscribe_url=url,
                )
                # Not a campaign ledger row: the ESP's webhooks must not take it for one.
                message.metadata = {"automation_delivery_id": str(row.pk)}
                message.tags = ["automatizacion"]
                try:
                    deliver(message)
                except Exception as exc:
                    failure = _classify(exc)
                    if failure.permanent:
                        _finish(row, claimed, status=Row.FAILED, reason=str(failure)[:300])
                        Suppression.objects.get_or_create(
                            email=row.email.lower(),
                            defaults={
                                "reason": Suppression.Reason.BOUNCE,
                                "note": (
                                    _("Rebote permanente en la automatización «%(name)s».")
                                    % {"name": step.automation.name}
                                )[:300],
                            },
                        )
                        result.failed += 1
                    else:
                        _temporary(row, claimed, str(failure), result)
                    continue
                status = getattr(message, "anymail_status", None)
                message_id = (
                    getattr(status, "message_id", None) or message.extra_headers["Message-ID"]
                )
                _finish(
                    row,
                    claimed,
                    status=Row.SENT,
                    sent_at=timezone.now(),
                    message_id=str(message_id)[:250],
                    reason="",
                )
                result.sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection changes nothing
            logger.warning("automations: closing the mail connection failed")
    return result


def _temporary(row: AutomationDelivery, claimed: Claimed, error: str, result: SendResult) -> None:
    if row.attempts >= settings.CAMPAIGN_MAX_ATTEMPTS:
        _finish(row, claimed, status=Row.FAILED, reason=error[:300])
        result.failed += 1
    else:
        _finish(
            row,
            claimed,
            status=Row.PENDING,
            claimed_at=None,
            reason=error[:300],
            due_at=timezone.now() + retry_delay(row.attempts),
        )
        result.retried += 1


def automations_send(
    *, now: datetime | None = None, max_batches: int = 50, connection=None
) -> SendResult:
    """Settle old claims, then claim and send batch after batch until nothing is due."""
    total = SendResult()
    automations_settle(now=now)
    for _i in range(max_batches):
        claimed = automation_claim(now=now)
        if claimed is None:
            break
        result = automation_send_claimed(claimed=claimed, connection=connection)
        for field in ("sent", "failed", "retried", "skipped", "released"):
            setattr(total, field, getattr(total, field) + getattr(result, field))
        if not claimed.rows and not claimed.skipped:
            break
    return total


def next_birthdays(*, automation: Automation, today: date | None = None, count: int = 10):
    """The next `count` eligible contacts whose birthday comes (today included): [(date,
    contact)], two small queries ordered by month and day in SQL."""
    today = today or timezone.localdate(timezone=defs.company_zone())
    base = (
        Contact.objects.filter(birthday__isnull=False)
        .filter(eligible_q(automation.topic_id))
        .only("id", "first_name", "last_name", "email", "birthday")
        .order_by("birthday__month", "birthday__day", "id")
    )
    later = Q(birthday__month__gt=today.month) | Q(
        birthday__month=today.month, birthday__day__gte=today.day
    )
    found = list(base.filter(later)[:count])
    if len(found) < count:
        found += list(base.exclude(later)[: count - len(found)])
    result = []
    for contact in found:
        year = today.year
        day = _birthday_in(contact.birthday, year)
        if day < today:
            day = _birthday_in(contact.birthday, year + 1)
        result.append((day, contact))
    return result


def _birthday_in(birthday: date, year: int) -> date:
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)
