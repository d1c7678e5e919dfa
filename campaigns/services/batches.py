"""The workers' batches: claim the next rows of a campaign's ledger, send them in id order over
one connection, and record each row's outcome (sent, retried, failed, given back)."""

import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Max, Min
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import content, links, mail
from campaigns.eligibility import eligible_contact_ids
from campaigns.models import Campaign, Send, Suppression
from campaigns.selectors.sending import OPEN_ROWS
from contacts.models import Contact

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
RETRY_BASE_SECONDS = getattr(settings, "CAMPAIGN_RETRY_BASE_SECONDS", 60)
RETRY_MAX_SECONDS = 3600
# States in which claimed rows may still go out: sending, and a sent campaign whose doubtful
# row a person chose to resend.
CLAIMABLE_STATES = (Status.SENDING, Status.SENT)


def _claim_timeout() -> int:
    return settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS


def lanes(campaign: Campaign) -> int:
    return 1 if campaign.rate_per_minute else LANES


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
