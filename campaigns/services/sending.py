"""Sending a campaign exactly once: the state machine, the ledger, the workers' batches.

The ledger (`Send`, one row per campaign and contact) is the truth; Celery only wakes workers
up. Every step is safe to run twice or concurrently:

- A campaign moves between states by conditional UPDATEs on a locked row, so pressing Send
  twice, or two beat processes starting the same scheduled campaign, start it once.
- The recipients are written once, by the one transaction that finds `materialized_at` empty
  (and the ledger's unique constraints refuse a duplicate anyway).
- A worker claims a batch (pending rows → `enviando`, with one `claimed_at` per batch, unique
  among the campaign's live claims), re-checks consent and suppression, then sends the batch in
  id order over one connection, writing the accepted rows `enviado` every `MARK_EVERY` messages
  (or `MARK_SECONDS`, whichever comes first; one commit per message was half the worker's time).
  A worker killed mid-batch leaves at most `MARK_EVERY` rows it may have handed to the server:
  the first rows of its batch still `enviando`. The reconciler marks those `en_duda` (a person
  decides) and puts the rest of the batch back to pending: they were never sent.
- Lost Celery messages (Redis restarted or flushed) are found by the reconciler: a sending
  campaign with work to do and no claim for a while gets its batches queued again.
"""

import logging
import random
import smtplib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Max, Min
from django.db.models.functions import Greatest, Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import content, links, mail
from campaigns.eligibility import eligible_contact_ids, eligible_q
from campaigns.models import Campaign, Send, Suppression
from campaigns.segments import segment_queryset
from contacts.models import Contact
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

Status = Campaign.Status
Row = Send.Status

# Parallel chains of batches a campaign gets when it starts (each a task that claims batch
# after batch, then queues its successor); a rate-limited campaign gets one.
LANES = getattr(settings, "CAMPAIGN_SEND_LANES", 4)
# A chain hands over to a fresh task after this long (well inside the task's time limit).
LANE_SECONDS = 50
# Accepted messages are written `enviado` together, at most this many at a time and never
# older than MARK_SECONDS (see _Accepted): the most rows a killed worker can leave en duda.
MARK_EVERY = 20
MARK_SECONDS = 1.0
# A ledger this large gets fresh planner statistics right after it is written (PostgreSQL).
ANALYZE_AFTER_ROWS = 10_000
RETRY_BASE_SECONDS = getattr(settings, "CAMPAIGN_RETRY_BASE_SECONDS", 60)
RETRY_MAX_SECONDS = 3600
OPEN_ROWS = (Row.PENDING, Row.SENDING, Row.RETRY)
# States in which claimed rows may still go out: sending, and a sent campaign whose doubtful
# row a person chose to resend.
CLAIMABLE_STATES = (Status.SENDING, Status.SENT)


def _audit(*, actor, campaign: Campaign, event: str, **detail) -> None:
    audit(
        actor=actor,
        action=AuditEvent.Action.SEND,
        target=campaign,
        detail={"event": event, "campaign": campaign.name, **detail},
    )


_TASKS = {
    "materialize": "campaigns.campaign_materialize",
    "batch": "campaigns.campaign_send_batch",
    "ab_decide": "campaigns.campaign_ab_decide",
}


def _on_commit_enqueue(task: str, campaign_id: int, *, count: int = 1, countdown=None):
    """Queue `count` runs of a campaign task after the commit (a rollback queues nothing)."""
    enqueue_on_commit(_TASKS[task], [campaign_id], copies=count, countdown=countdown)


def _claim_timeout() -> int:
    return settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS


def stall_seconds() -> int:
    """No claim for this long while work is due: the campaign's tasks were lost."""
    return max(1, min(120, _claim_timeout()))


# The state machine ------------------------------------------------------------------------


def send_errors(campaign: Campaign) -> list[str]:
    """Why this campaign cannot be sent or scheduled (empty: it can)."""
    errors = []
    if campaign.segment_id is None:
        errors.append(_("Elige un segmento de destinatarios antes de enviar."))
    if campaign.topic_id is None:
        errors.append(_("Elige el tema de la campaña antes de enviar."))
    if not (settings.COMPANY.get("address") or "").strip():
        # The footer of every commercial email must give the sender's postal address (LFPDPPP
        # and PROFECO's rules in Mexico, LSSI in Spain).
        errors.append(
            _(
                "Falta la dirección postal de la empresa (COMPANY_ADDRESS): la ley exige "
                "mostrarla en el pie de cada correo comercial."
            )
        )
    for field_errors in content.content_errors(campaign).values():
        errors.extend(field_errors)
    return errors


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _refuse(campaign: Campaign, allowed: Iterable[str], message: str) -> None:
    if campaign.status not in allowed:
        raise ValidationError(
            message % {"status": campaign.get_status_display()},
            code="wrong_state",
        )


def _mark_started(
    campaign_id: int, *, from_states: Iterable[str], user: User | None, now: datetime | None = None
) -> bool:
    """The one conditional UPDATE that starts a campaign (True only for its winner)."""
    now = now or timezone.now()
    changes = {"status": Status.SENDING, "started_at": now, "scheduled_at": None}
    if user is not None:
        changes["sent_by"] = user
    started = Campaign.objects.filter(pk=campaign_id, status__in=list(from_states)).update(
        **changes
    )
    if started:
        _on_commit_enqueue("materialize", campaign_id)
    return bool(started)


@transaction.atomic
def campaign_send_now(*, campaign: Campaign, user: User) -> Campaign:
    """Start sending now; a second press (or a second tab) finds it started and is refused."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED),
        _("La campaña ya no se puede enviar: está «%(status)s»."),
    )
    if errors := send_errors(campaign):
        raise ValidationError(errors)
    _mark_started(campaign.pk, from_states=(Status.DRAFT, Status.SCHEDULED), user=user)
    campaign.refresh_from_db()
    _audit(actor=user, campaign=campaign, event="send_now")
    return campaign


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, user: User, when: datetime) -> Campaign:
    """Program the send for `when` (the reconciler starts it on time); rescheduling is allowed."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED),
        _("La campaña ya no se puede programar: está «%(status)s»."),
    )
    if when is None or timezone.is_naive(when):
        raise ValidationError(_("Indica la fecha y la hora del envío."), code="invalid")
    if when <= timezone.now():
        raise ValidationError(_("La fecha del envío debe ser futura."), code="past")
    if errors := send_errors(campaign):
        raise ValidationError(errors)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.SCHEDULED, scheduled_at=when, sent_by=user
    )
    campaign.refresh_from_db()
    _audit(actor=user, campaign=campaign, event="schedule", scheduled_at=when.isoformat())
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign, user: User) -> Campaign:
    """Back to draft (the schedule dropped), for an edit before it goes."""
    campaign = _locked(campaign)
    _refuse(campaign, (Status.SCHEDULED,), _("Solo una campaña programada vuelve a borrador."))
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.DRAFT, scheduled_at=None)
    campaign.refresh_from_db()
    _audit(actor=user, campaign=campaign, event="unschedule")
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user: User) -> Campaign:
    """Stop claiming batches; the messages of batches already claimed still go out."""
    campaign = _locked(campaign)
    _refuse(campaign, (Status.SENDING,), _("Solo se pausa una campaña que se está enviando."))
    Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(status=Status.PAUSED)
    campaign.refresh_from_db()
    _audit(actor=user, campaign=campaign, event="pause")
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user: User) -> Campaign:
    campaign = _locked(campaign)
    _refuse(campaign, (Status.PAUSED,), _("Solo se reanuda una campaña pausada."))
    Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(status=Status.SENDING)
    campaign.refresh_from_db()
    if campaign.materialized_at is None:
        _on_commit_enqueue("materialize", campaign.pk)
    else:
        _on_commit_enqueue("batch", campaign.pk, count=_lanes(campaign))
    _audit(actor=user, campaign=campaign, event="resume")
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, user: User) -> Campaign:
    """Cancel: nothing more goes out (rows already claimed finish; pending rows are cancelled)."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED),
        _("La campaña ya no se puede cancelar: está «%(status)s»."),
    )
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.CANCELLED, scheduled_at=None, finished_at=now
    )
    cancelled = Send.objects.filter(campaign=campaign, status__in=(Row.PENDING, Row.RETRY)).update(
        status=Row.CANCELLED, next_attempt_at=None
    )
    campaign.refresh_from_db()
    _audit(actor=user, campaign=campaign, event="cancel", cancelled_rows=cancelled)
    return campaign


# Recipients --------------------------------------------------------------------------------


def recipients_queryset(campaign: Campaign):
    """One row per address: (lower-case email, the lowest contact id with it), eligible now."""
    contacts = (
        segment_queryset(campaign.segment)
        .filter(eligible_q(campaign.topic_id))
        .exclude(email="")
        .order_by()
    )
    return contacts.annotate(addr=Lower("email")).values("addr").annotate(contact_id=Min("id"))


def recipient_count(campaign: Campaign) -> int:
    """How many messages a send would write now (the confirmation step shows it)."""
    if campaign.segment_id is None:
        return 0
    return recipients_queryset(campaign).count()


def campaign_materialize(*, campaign_id: int) -> int:
    """Write the campaign's ledger once (INSERT … SELECT), then wake the workers up.

    Returns the rows written (0 when another run did it already).
    """
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.materialized_at is not None:
            return 0
        if campaign.status not in (Status.SENDING, Status.PAUSED):
            return 0
        written = _insert_recipients(campaign)
        if campaign.has_ab_test:
            _assign_sample(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(materialized_at=timezone.now())
        if campaign.status == Status.SENDING:
            _on_commit_enqueue("batch", campaign.pk, count=_lanes(campaign))
    logger.info("campaign %s: %s recipients", campaign_id, written)
    return written


def _insert_recipients(campaign: Campaign) -> int:
    select_sql, params = recipients_queryset(campaign).query.sql_with_params()
    table = Send._meta.db_table
    columns = "campaign_id, contact_id, email, variant, status, attempts, message_id, error"
    if db_connection.vendor == "postgresql":
        verb, tail = "INSERT INTO", "ON CONFLICT DO NOTHING"
    else:
        verb, tail = "INSERT OR IGNORE INTO", ""
    sql = (
        f"{verb} {table} ({columns}) "
        f"SELECT %s, r.contact_id, r.addr, '', %s, 0, '', '' "
        f"FROM ({select_sql}) r ORDER BY r.contact_id {tail}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, Row.PENDING, *params])
        written = cursor.rowcount
        if db_connection.vendor == "postgresql" and written >= ANALYZE_AFTER_ROWS:
            # The workers start claiming at once, long before autovacuum notices the new rows:
            # planned on stale statistics the claim's queries can go from milliseconds to
            # seconds (and each holds the campaign's lock). A sampled ANALYZE is ~0.1 s.
            cursor.execute(f"ANALYZE {table}")
        return written


def _assign_sample(campaign: Campaign) -> None:
    """An A/B test: a random sample split evenly a/b; the rest wait (variant "") for the winner."""
    ids = list(Send.objects.filter(campaign=campaign).values_list("id", flat=True))
    sample = round(len(ids) * campaign.ab_sample_pct / 100)
    sample = max(2, sample - sample % 2) if len(ids) >= 2 else len(ids)
    chosen = random.SystemRandom().sample(ids, sample)
    half = (sample + 1) // 2
    for variant, part in (("a", chosen[:half]), ("b", chosen[half:])):
        for start in range(0, len(part), 5000):
            Send.objects.filter(pk__in=part[start : start + 5000]).update(variant=variant)


def _lanes(campaign: Campaign) -> int:
    return 1 if campaign.rate_per_minute else LANES


# A/B ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbScore:
    variant: str
    sent: int
    hits: int

    @property
    def rate(self) -> float:
        return self.hits / self.sent if self.sent else 0.0


def ab_scores(campaign: Campaign) -> list[AbScore]:
    """Sent messages and opens (or clicks, by the campaign's metric) per variant of the sample."""
    hit = "first_opened_at" if campaign.ab_metric == Campaign.AbMetric.OPENS else "first_clicked_at"
    rows = (
        Send.objects.filter(campaign=campaign, variant__in=("a", "b"), status=Row.SENT)
        .values("variant")
        .annotate(sent=Count("id"), hits=Count(hit))
    )
    found = {row["variant"]: row for row in rows}
    return [
        AbScore(
            variant=v, sent=found.get(v, {}).get("sent", 0), hits=found.get(v, {}).get("hits", 0)
        )
        for v in ("a", "b")
    ]


def campaign_ab_decide(
    *, campaign_id: int, now: datetime | None = None, force: bool = False
) -> str:
    """Pick the winning subject once the wait is over and give it to the rest ("" if not yet)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or not campaign.has_ab_test or campaign.ab_winner:
            return campaign.ab_winner if campaign else ""
        if campaign.materialized_at is None or campaign.status not in (
            Status.SENDING,
            Status.PAUSED,
        ):
            return ""
        due = campaign.started_at + timedelta(hours=campaign.ab_wait_hours)
        if not force and now < due:
            return ""
        a, b = ab_scores(campaign)
        winner = "b" if b.rate > a.rate else "a"
        Campaign.objects.filter(pk=campaign.pk).update(ab_winner=winner, ab_decided_at=now)
        Send.objects.filter(campaign=campaign, variant="").update(variant=winner)
        _audit(
            actor=None,
            campaign=campaign,
            event="ab_decide",
            winner=winner,
            a=[a.sent, a.hits],
            b=[b.sent, b.hits],
        )
        if campaign.status == Status.SENDING:
            _on_commit_enqueue("batch", campaign.pk, count=_lanes(campaign))
    return winner


# The workers' batches -----------------------------------------------------------------------


class _Failure(Exception):
    """A classified send error: `permanent` (5xx: suppress) or temporary; `connection` when
    the connection itself is gone (the rest of the batch waits for a retry)."""

    def __init__(self, message: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection


def _classify(exc: Exception) -> _Failure:
    text = str(exc)[:450]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return _Failure(text, permanent=bool(codes) and all(500 <= c < 600 for c in codes))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _Failure(text)  # our sender, not the recipient: retry, never suppress
    if isinstance(exc, smtplib.SMTPResponseException):
        return _Failure(text, permanent=500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | TimeoutError | OSError):
        return _Failure(text or exc.__class__.__name__, connection=True)
    if isinstance(exc, AnymailRecipientsRefused):
        return _Failure(text, permanent=True)
    if isinstance(exc, AnymailError):
        return _Failure(text)
    logger.exception("campaign send: unexpected error", exc_info=exc)
    return _Failure(text or exc.__class__.__name__)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped at an hour."""
    return timedelta(seconds=min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)))


@dataclass
class Batch:
    campaign: Campaign
    claimed_at: datetime
    rows: list[Send]
    skipped: int = 0


def _claim_limit(campaign: Campaign, now: datetime, batch_size: int) -> tuple[int, float | None]:
    """How many rows may be claimed now under the campaign's rate, and when to look again."""
    if not campaign.rate_per_minute:
        return batch_size, None
    window = now - timedelta(seconds=60)
    recent = Send.objects.filter(campaign=campaign, status=Row.SENT, sent_at__gte=window)
    allowed = campaign.rate_per_minute - recent.count()
    if allowed <= 0:
        oldest = recent.aggregate(first=Min("sent_at"))["first"] or now
        return 0, max(1.0, (oldest + timedelta(seconds=60) - now).total_seconds())
    # The paced batch must end well inside the claim timeout.
    fits = int(_claim_timeout() / 2 * campaign.rate_per_minute / 60)
    return max(1, min(batch_size, allowed, fits)), None


def _claimable(campaign: Campaign, now: datetime):
    rows = Send.objects.filter(campaign=campaign)
    if campaign.has_ab_test and not campaign.ab_winner:
        rows = rows.exclude(variant="")
    return rows


def campaign_claim(
    *, campaign_id: int, batch_size: int | None = None, now: datetime | None = None
) -> Batch | None:
    """Claim the next batch (None: nothing to do now). Ineligible rows become `omitido`."""
    batch_size = batch_size or settings.CAMPAIGN_BATCH_SIZE
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status__in=CLAIMABLE_STATES, materialized_at__isnull=False)
            .first()
        )
        if campaign is None:
            return None
        now = now or timezone.now()
        limit, _wait = _claim_limit(campaign, now, batch_size)
        if limit <= 0:
            return None
        base = _claimable(campaign, now).select_for_update(skip_locked=True).order_by("id")
        base = base.only("id", "contact_id", "email", "variant", "attempts")
        rows = list(base.filter(status=Row.PENDING)[:limit])
        if len(rows) < limit:
            due = base.filter(status=Row.RETRY, next_attempt_at__lte=now)
            rows += list(due[: limit - len(rows)])
        if not rows:
            return None
        rows.sort(key=lambda r: r.id)
        eligible = eligible_contact_ids((r.contact_id for r in rows), campaign.topic_id)
        skipped = [r.id for r in rows if r.contact_id not in eligible]
        rows = [r for r in rows if r.contact_id in eligible]
        if skipped:
            Send.objects.filter(pk__in=skipped).update(
                status=Row.SKIPPED,
                next_attempt_at=None,
                error=_("Sin consentimiento o en la lista de supresión al enviar."),
            )
        # One claimed_at per batch, distinct from every other live claim of the campaign (the
        # reconciler tells batches apart by it).
        latest = Send.objects.filter(campaign=campaign, status=Row.SENDING).aggregate(
            last=Max("claimed_at")
        )["last"]
        claimed_at = now if latest is None or latest < now else latest + timedelta(microseconds=1)
        if rows:
            Send.objects.filter(pk__in=[r.id for r in rows]).update(
                status=Row.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
            )
        for row in rows:
            row.attempts += 1
    return Batch(campaign=campaign, claimed_at=claimed_at, rows=rows, skipped=len(skipped))


_compiled_cache: dict[tuple[int, datetime], content.CompiledMessage] = {}


def _compiled(campaign: Campaign) -> content.CompiledMessage:
    """The campaign's message compiled once per process (css inlining is the costly part)."""
    key = (campaign.pk, campaign.updated_at)
    found = _compiled_cache.get(key)
    if found is None:
        if len(_compiled_cache) > 20:
            _compiled_cache.clear()
        found = _compiled_cache[key] = content.compile_message(campaign)
    return found


@dataclass
class BatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    released: int = 0


def _finish_row(row: Send, claimed_at: datetime, **changes) -> None:
    Send.objects.filter(pk=row.id, status=Row.SENDING, claimed_at=claimed_at).update(**changes)


class _Accepted:
    """Rows whose message the server accepted, written `enviado` together every few messages.

    Why not one UPDATE per message: each is a commit, and a commit waits for the WAL to reach
    the disk (a few ms); it was half of a worker's time per message. Why not once per batch:
    rows accepted but not yet written are the ones a crash leaves in doubt, so the window is
    kept small and bounded: at most `MARK_EVERY` rows (the marks waiting plus the one message
    in flight), and never older than `MARK_SECONDS`. Messages go out in id order and the marks
    are written in that order, so after a crash the rows that may have reached the server are
    exactly the first `MARK_EVERY` rows of the batch still `enviando`; `release_stale_claims`
    marks those `en_duda` (never resent by themselves) and gives the rest back (never sent).
    """

    def __init__(self, batch: Batch, *, every: int = 0):
        self.batch = batch
        self.every = max(1, min(every or MARK_EVERY, MARK_EVERY))
        self.marks: list[tuple[int, str, datetime]] = []
        self.since = 0.0

    def add(self, row: Send, message_id: str) -> None:
        if not self.marks:
            self.since = time.monotonic()
        self.marks.append((row.id, message_id, timezone.now()))
        if len(self.marks) >= self.every or time.monotonic() - self.since >= MARK_SECONDS:
            self.flush()

    def flush(self) -> None:
        """One UPDATE (autocommit: one commit) for the rows waiting, guarded like a row's own:
        a claim the reconciler already settled is left alone."""
        if not self.marks:
            return
        marks, self.marks = self.marks, []
        ops = db_connection.ops
        ids = [pk for pk, _mid, _at in marks]
        sent_at = " ".join("WHEN %s THEN %s" for _mark in marks)
        message_id = " ".join("WHEN %s THEN %s" for _mark in marks)
        # Raw SQL: the ORM's Case/When for a few dozen rows cost more than the UPDATE itself.
        sql = (
            f"UPDATE {Send._meta.db_table} SET status = %s, error = '', next_attempt_at = NULL, "
            f"sent_at = CASE id {sent_at} END, message_id = CASE id {message_id} END "
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND status = %s AND claimed_at = %s"
        )
        params = [Row.SENT]
        for pk, _mid, at in marks:
            params += [pk, ops.adapt_datetimefield_value(at)]
        for pk, mid, _at in marks:
            params += [pk, mid]
        params += [*ids, Row.SENDING, ops.adapt_datetimefield_value(self.batch.claimed_at)]
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params)


def _temporary(row: Send, batch: Batch, error: str, result: BatchResult) -> None:
    if row.attempts >= settings.CAMPAIGN_MAX_ATTEMPTS:
        _finish_row(row, batch.claimed_at, status=Row.FAILED, error=error, next_attempt_at=None)
        result.failed += 1
    else:
        _finish_row(
            row,
            batch.claimed_at,
            status=Row.RETRY,
            error=error,
            next_attempt_at=timezone.now() + retry_delay(row.attempts),
        )
        result.retried += 1


def _permanent(row: Send, batch: Batch, error: str, result: BatchResult) -> None:
    _finish_row(row, batch.claimed_at, status=Row.FAILED, error=error, next_attempt_at=None)
    Suppression.objects.get_or_create(
        email=row.email.lower(),
        defaults={
            "reason": Suppression.Reason.BOUNCE,
            "note": (
                _("Rebote permanente al enviar la campaña «%(name)s»: %(error)s")
                % {"name": batch.campaign.name, "error": error}
            )[:300],
        },
    )
    result.failed += 1


def _release(rows: list[Send], batch: Batch, *, wait: timedelta | None) -> int:
    """Give back rows of the batch that were never handed to the server (not an attempt)."""
    if not rows:
        return 0
    changes = {"attempts": Greatest(F("attempts") - 1, 0), "claimed_at": None}
    if wait is None:
        changes.update(status=Row.PENDING)
    else:
        changes.update(status=Row.RETRY, next_attempt_at=timezone.now() + wait)
    return Send.objects.filter(
        pk__in=[r.id for r in rows], status=Row.SENDING, claimed_at=batch.claimed_at
    ).update(**changes)


def campaign_send_claimed(*, batch: Batch, connection=None) -> BatchResult:
    """Send a claimed batch over one connection in id order, recording the accepted rows every
    few messages (`_Accepted`) and each failure at once."""
    campaign = batch.campaign
    result = BatchResult(skipped=batch.skipped)
    if not batch.rows:
        return result
    compiled = _compiled(campaign)
    domain = mail.message_domain(campaign)
    contacts = Contact.objects.select_related("account", "owner").in_bulk(
        [r.contact_id for r in batch.rows]
    )
    connection = connection or get_connection(settings.CAMPAIGN_EMAIL_BACKEND)
    try:
        connection.open()
    except Exception as exc:  # the server is unreachable: every row waits for a retry
        failure = _classify(exc)
        for row in batch.rows:
            _temporary(row, batch, str(failure), result)
        return result
    interval = 60 / campaign.rate_per_minute if campaign.rate_per_minute else 0
    # A paced send has time for a commit per message (and its rate counts written rows).
    accepted = _Accepted(batch, every=1 if interval else MARK_EVERY)
    deliver = mail.sender_for(connection)
    deadline = time.monotonic() + _claim_timeout() / 2
    started = time.monotonic()
    try:
        for index, row in enumerate(batch.rows):
            if time.monotonic() > deadline:
                accepted.flush()
                result.released += _release(batch.rows[index:], batch, wait=None)
                break
            if interval:
                pause = started + index * interval - time.monotonic()
                if pause > 0:
                    accepted.flush()
                    time.sleep(pause)
            contact = contacts.get(row.contact_id)
            values = {
                **content.merge_data(contact),
                **links.link_values(send_id=row.id, contact_id=row.contact_id),
            }
            rendered = compiled.render(values, variant=row.variant or "a")
            message = mail.build_message(
                campaign=campaign,
                send_id=row.id,
                to=row.email,
                rendered=rendered,
                connection=connection,
                domain=domain,
                unsubscribe_url=values["url_baja"],
            )
            try:
                deliver(message)
            except Exception as exc:
                failure = _classify(exc)
                accepted.flush()
                if failure.permanent:
                    _permanent(row, batch, str(failure), result)
                    continue
                _temporary(row, batch, str(failure), result)
                if failure.connection:
                    result.released += _release(batch.rows[index + 1 :], batch, wait=retry_delay(1))
                    break
                continue
            status = getattr(message, "anymail_status", None)
            message_id = getattr(status, "message_id", None) or message.extra_headers["Message-ID"]
            accepted.add(row, str(message_id)[:250])
            result.sent += 1
    finally:
        try:
            # A mark that cannot be written leaves its row enviando: in doubt, never resent.
            accepted.flush()
        finally:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection changes nothing
                logger.warning("campaign %s: closing the mail connection failed", campaign.pk)
    return result


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """A sending campaign with every row final becomes `enviada` (once)."""
    if Send.objects.filter(campaign_id=campaign_id, status__in=OPEN_ROWS).exists():
        return False
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status=Status.SENDING, materialized_at__isnull=False
        ).update(status=Status.SENT, finished_at=timezone.now())
    )


def next_due_in(*, campaign_id: int, now: datetime | None = None) -> float | None:
    """Seconds until this campaign has claimable work (0: now; None: none left)."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id, status__in=CLAIMABLE_STATES).first()
    if campaign is None or campaign.materialized_at is None:
        return None
    rows = _claimable(campaign, now)
    if rows.filter(status=Row.PENDING).exists():
        if campaign.rate_per_minute:
            _limit, wait = _claim_limit(campaign, now, 1)
            return wait or 0.0
        return 0.0
    first = rows.filter(status=Row.RETRY).aggregate(first=Min("next_attempt_at"))["first"]
    if first is None:
        return None
    return max(0.0, (first - now).total_seconds())


def campaign_send_lane(
    *, campaign_id: int, seconds: float = LANE_SECONDS, connection=None
) -> tuple[int, float | None]:
    """Claim and send batch after batch for a while; returns (sent, when to run again)."""
    ends = time.monotonic() + seconds
    sent = 0
    while True:
        batch = campaign_claim(campaign_id=campaign_id)
        if batch is None:
            break
        sent += campaign_send_claimed(batch=batch, connection=connection).sent
        if time.monotonic() >= ends:
            break
    campaign_finish_if_done(campaign_id=campaign_id)
    return sent, next_due_in(campaign_id=campaign_id)


# The reconciler ------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    started: list[int]
    doubtful: int
    released: int
    requeued: list[int]
    decided: list[int]


def release_stale_claims(
    *, now: datetime | None = None, timeout: int | None = None
) -> tuple[int, int]:
    """Claims older than the timeout belonged to a dead worker. Its messages went in id order
    and were written `enviado` at most `MARK_EVERY` at a time, so of each such batch only the
    first `MARK_EVERY` rows still `enviando` may have reached the server: they become `en_duda`
    (a person decides); the rest were never handed over and go back to pending.
    Returns (doubt, released).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=timeout if timeout is not None else _claim_timeout())
    stale = (
        Send.objects.filter(status=Row.SENDING, claimed_at__lt=cutoff)
        .values("campaign_id", "claimed_at")
        .annotate(first=Min("id"))
    )
    doubt = released = 0
    for group in stale:
        with transaction.atomic():
            claim = Send.objects.select_for_update().filter(
                campaign_id=group["campaign_id"],
                status=Row.SENDING,
                claimed_at=group["claimed_at"],
            )
            maybe_sent = list(claim.order_by("id").values_list("id", flat=True)[:MARK_EVERY])
            doubt += Send.objects.filter(pk__in=maybe_sent, status=Row.SENDING).update(
                status=Row.DOUBT,
                error=_(
                    "El proceso de envío se interrumpió con este mensaje en curso: "
                    "pudo llegar o no."
                ),
            )
            released += claim.exclude(pk__in=maybe_sent).update(
                status=Row.PENDING,
                claimed_at=None,
                attempts=Greatest(F("attempts") - 1, 0),
            )
    return doubt, released


def campaigns_reconcile(*, now: datetime | None = None) -> ReconcileReport:
    """The minute's housekeeping: start due schedules, settle dead claims, requeue lost work,
    decide due A/B tests."""
    now = now or timezone.now()
    started = []
    for campaign_id in Campaign.objects.filter(
        status=Status.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if _mark_started(campaign_id, from_states=(Status.SCHEDULED,), user=None, now=now):
                campaign = Campaign.objects.get(pk=campaign_id)
                _audit(actor=None, campaign=campaign, event="scheduled_start")
                started.append(campaign_id)
    doubt, released = release_stale_claims(now=now)
    quiet = now - timedelta(seconds=stall_seconds())
    requeued = []
    sending = Campaign.objects.filter(status=Status.SENDING)
    lost = sending.filter(materialized_at__isnull=True, started_at__lt=quiet)
    for campaign in lost.exclude(pk__in=started):
        with transaction.atomic():
            _on_commit_enqueue("materialize", campaign.pk)
        requeued.append(campaign.pk)
    for campaign in sending.filter(materialized_at__isnull=False):
        if campaign_finish_if_done(campaign_id=campaign.pk):
            continue
        due = next_due_in(campaign_id=campaign.pk, now=now)
        if due is None or due > 0:
            continue
        if Send.objects.filter(campaign=campaign, claimed_at__gte=quiet).exists():
            continue  # a worker is on it
        with transaction.atomic():
            _on_commit_enqueue("batch", campaign.pk, count=_lanes(campaign))
        requeued.append(campaign.pk)
    decided = []
    for campaign in sending.filter(
        materialized_at__isnull=False, ab_winner="", ab_decided_at__isnull=True
    ).exclude(subject_b=""):
        if campaign_ab_decide(campaign_id=campaign.pk, now=now):
            decided.append(campaign.pk)
    return ReconcileReport(
        started=started, doubtful=doubt, released=released, requeued=requeued, decided=decided
    )


# Doubtful rows: a person's decision ---------------------------------------------------------

RESOLVE_SENT = "enviado"
RESOLVE_RESEND = "reenviar"


@transaction.atomic
def campaign_send_resolve(*, send: Send, user: User, action: str) -> Send:
    """Marketing settles a row `en_duda`: it did arrive (marked sent) or send it again."""
    send = Send.objects.select_for_update().select_related("campaign").get(pk=send.pk)
    if send.status != Row.DOUBT:
        raise ValidationError(_("Este envío ya no está en duda."), code="not_doubt")
    campaign = send.campaign
    if action == RESOLVE_SENT:
        Send.objects.filter(pk=send.pk).update(
            status=Row.SENT,
            sent_at=send.claimed_at or timezone.now(),
            error=_("Marcado como enviado por %(user)s.") % {"user": user.get_full_name() or user},
        )
    elif action == RESOLVE_RESEND:
        if campaign.status == Status.CANCELLED:
            raise ValidationError(_("La campaña está cancelada: no se reenvía."), code="cancelled")
        Send.objects.filter(pk=send.pk).update(
            status=Row.PENDING, claimed_at=None, next_attempt_at=None, error=""
        )
        if campaign.status in CLAIMABLE_STATES:
            _on_commit_enqueue("batch", campaign.pk)
    else:
        raise ValidationError(_("Acción desconocida."), code="invalid")
    send.refresh_from_db()
    _audit(actor=user, campaign=campaign, event=f"resolve_{action}", send=send.pk, email=send.email)
    return send


# Reads for the pages -------------------------------------------------------------------------


def status_counts(campaign: Campaign) -> dict[str, int]:
    """Ledger rows by status (one GROUP BY), every status present."""
    counts = dict.fromkeys(Row.values, 0)
    for row in Send.objects.filter(campaign=campaign).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


@dataclass(frozen=True)
class Progress:
    """The ledger of a campaign by status, for the progress bar (one query)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - sum(self.counts[s] for s in OPEN_ROWS)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    def share(self, status: str) -> float:
        """Width of a status's slice of the bar, in percent (two decimals)."""
        return round(100 * self.counts[status] / self.total, 2) if self.total else 0

    @property
    def bars(self) -> list[tuple[str, str, int, float]]:
        """(status, label, count, width) of the slices worth drawing, in the bar's order."""
        order = (Row.SENT, Row.SKIPPED, Row.FAILED, Row.DOUBT, Row.CANCELLED, Row.RETRY)
        labels = dict(Row.choices)
        return [(s, labels[s], self.counts[s], self.share(s)) for s in order if self.counts[s]]


def campaign_progress(campaign: Campaign) -> Progress:
    return Progress(counts=status_counts(campaign))


def campaign_sends(*, campaign: Campaign, status: str = "", query: str = ""):
    """The ledger page's rows: by status and an address search, newest claim last, by id."""
    rows = Send.objects.filter(campaign=campaign)
    if status:
        rows = rows.filter(status=status)
    if query:
        rows = rows.filter(email__icontains=query.strip().lower())
    return rows.order_by("id")
