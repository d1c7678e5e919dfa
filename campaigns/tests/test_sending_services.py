"""Sending: the state machine, the ledger's materialisation, claims, retries and suppression."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign, Send, Suppression
from campaigns.services import batches, recipients, reconcile, sending
from campaigns.tests.factories import (
    CampaignFactory,
    SuppressionFactory,
    consenting_contact,
)
from contacts.models import Consent
from contacts.services import consent_record
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db
Status = Campaign.Status
Row = Send.Status


class FakeConnection:
    """An email connection that accepts everything but the addresses told to fail."""

    def __init__(self, failures: dict[str, Exception] | None = None):
        self.failures = failures or {}
        self.sent: list = []
        self.opened = self.closed = 0

    def open(self):
        self.opened += 1
        return True

    def close(self):
        self.closed += 1

    def send_messages(self, messages):
        for message in messages:
            failure = self.failures.get(message.to[0])
            if failure is not None:
                raise failure
            self.sent.append(message)
        return len(messages)


@pytest.fixture
def campaign(marketing):
    return CampaignFactory(created_by=marketing)


def contacts(n: int) -> list:
    return [consenting_contact() for _i in range(n)]


def started(campaign, user, django_capture_on_commit_callbacks) -> Campaign:
    """Send now and materialise, as the first task would (without queueing the batches)."""
    with django_capture_on_commit_callbacks(execute=False):
        campaign = sending.campaign_send_now(campaign=campaign, user=user)
        recipients.campaign_materialize(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


# The state machine ---------------------------------------------------------------------------


def test_send_now_starts_once_and_is_audited(
    campaign, marketing, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        sending.campaign_send_now(campaign=campaign, user=marketing)
    assert len(callbacks) == 1
    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING
    assert campaign.sent_by == marketing
    assert campaign.started_at is not None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.SEND, detail__event="send_now"
    ).exists()
    with pytest.raises(ValidationError, match="ya no se puede enviar"):
        sending.campaign_send_now(campaign=campaign, user=marketing)


def test_send_refused_with_content_errors_or_no_segment(marketing):
    broken = CampaignFactory(created_by=marketing, subject="Hola {{ apodo }}")
    with pytest.raises(ValidationError, match="apodo"):
        sending.campaign_send_now(campaign=broken, user=marketing)
    no_segment = CampaignFactory(created_by=marketing, segment=None)
    with pytest.raises(ValidationError, match="segmento"):
        sending.campaign_send_now(campaign=no_segment, user=marketing)
    for campaign in (broken, no_segment):
        campaign.refresh_from_db()
        assert campaign.status == Status.DRAFT


def test_send_refused_without_the_company_postal_address(campaign, marketing, settings):
    settings.COMPANY = {**settings.COMPANY, "address": "  "}
    consenting_contact()
    assert any("COMPANY_ADDRESS" in error for error in sending.send_errors(campaign))
    with pytest.raises(ValidationError, match="dirección postal"):
        sending.campaign_send_now(campaign=campaign, user=marketing)
    with pytest.raises(ValidationError, match="dirección postal"):
        sending.campaign_schedule(
            campaign=campaign, user=marketing, when=timezone.now() + timedelta(days=1)
        )
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not campaign.sends.exists()


def test_schedule_needs_a_future_time(campaign, marketing):
    with pytest.raises(ValidationError, match="futura"):
        sending.campaign_schedule(
            campaign=campaign, user=marketing, when=timezone.now() - timedelta(minutes=1)
        )
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    when = timezone.now() + timedelta(hours=2)
    sending.campaign_schedule(campaign=campaign, user=marketing, when=when)
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert campaign.scheduled_at == when


def test_reconciler_starts_a_due_schedule_once(
    campaign, marketing, django_capture_on_commit_callbacks
):
    sending.campaign_schedule(
        campaign=campaign, user=marketing, when=timezone.now() + timedelta(minutes=5)
    )
    later = timezone.now() + timedelta(minutes=6)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = reconcile.campaigns_reconcile(now=later)
        second = reconcile.campaigns_reconcile(now=later - timedelta(seconds=30))
    assert first.started == [campaign.pk]
    assert second.started == []
    assert len(callbacks) == 1  # one materialisation queued by the first (the second waits)
    assert AuditEvent.objects.filter(detail__event="scheduled_start").count() == 1
    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING


def test_pause_resume_cancel(campaign, marketing, django_capture_on_commit_callbacks):
    contacts(3)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError):
        sending.campaign_resume(campaign=campaign, user=marketing)
    sending.campaign_pause(campaign=campaign, user=marketing)
    assert batches.campaign_claim(campaign_id=campaign.pk) is None  # paused: nothing claimed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sending.campaign_resume(campaign=campaign, user=marketing)
    assert len(callbacks) == 1
    sending.campaign_cancel(campaign=campaign, user=marketing)
    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    assert set(campaign.sends.values_list("status", flat=True)) == {Row.CANCELLED}
    with pytest.raises(ValidationError, match="cancelar"):
        sending.campaign_cancel(campaign=campaign, user=marketing)
    assert batches.campaign_claim(campaign_id=campaign.pk) is None


# Materialisation ------------------------------------------------------------------------------


def test_materialise_only_eligible_once_lower_case(
    campaign, marketing, django_capture_on_commit_callbacks
):
    ok = contacts(3)
    ContactFactory()  # no consent
    archived = consenting_contact()
    archived.archived_at = timezone.now()
    archived.save()
    suppressed = consenting_contact()
    SuppressionFactory(email=suppressed.email)
    withdrawn = consenting_contact()
    consent_record(
        contact=withdrawn,
        action=Consent.Action.WITHDRAW,
        topic=campaign.topic,
        source=Consent.Source.FORM,
    )
    type(ok[0]).objects.filter(pk=ok[0].pk).update(email=ok[0].email.upper())
    assert recipients.recipient_count(campaign) == 3
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    rows = list(campaign.sends.order_by("contact_id"))
    assert [r.contact_id for r in rows] == [c.pk for c in ok]
    assert rows[0].email == ok[0].email.lower()
    assert {r.status for r in rows} == {Row.PENDING}
    assert {r.variant for r in rows} == {""}
    # Twice, or with the guard gone: the unique ledger adds nothing.
    assert recipients.campaign_materialize(campaign_id=campaign.pk) == 0
    Campaign.objects.filter(pk=campaign.pk).update(materialized_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        recipients.campaign_materialize(campaign_id=campaign.pk)
    assert campaign.sends.count() == 3


def test_ab_split_and_decision(marketing, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(
        created_by=marketing, subject_b="Otra cosa", ab_sample_pct=40, ab_wait_hours=2
    )
    contacts(20)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    variants = list(campaign.sends.values_list("variant", flat=True))
    assert variants.count("a") == 4 and variants.count("b") == 4 and variants.count("") == 12
    # Only the sample goes before the winner is known.
    batch = batches.campaign_claim(campaign_id=campaign.pk)
    assert {r.variant for r in batch.rows} == {"a", "b"}
    batches.campaign_send_claimed(batch=batch, connection=FakeConnection())
    assert batches.campaign_claim(campaign_id=campaign.pk) is None
    # B is opened more.
    b_rows = campaign.sends.filter(variant="b")
    b_rows.filter(pk__in=list(b_rows.values_list("pk", flat=True)[:3])).update(
        first_opened_at=timezone.now()
    )
    assert recipients.campaign_ab_decide(campaign_id=campaign.pk) == ""  # too early
    later = timezone.now() + timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert recipients.campaign_ab_decide(campaign_id=campaign.pk, now=later) == "b"
    assert len(callbacks) == 1
    campaign.refresh_from_db()
    assert campaign.ab_winner == "b"
    assert not campaign.sends.filter(variant="").exists()
    connection = FakeConnection()
    batch = batches.campaign_claim(campaign_id=campaign.pk)
    batches.campaign_send_claimed(batch=batch, connection=connection)
    assert {m.subject for m in connection.sent} == {"Otra cosa"}


# Claims, sending, retries, suppression --------------------------------------------------------


def test_batch_sends_once_over_one_connection_and_finishes(
    campaign, marketing, django_capture_on_commit_callbacks
):
    people = contacts(5)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    connection = FakeConnection()
    sent, again = batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    assert sent == 5 and again is None
    assert connection.opened == 1
    assert sorted(m.to[0] for m in connection.sent) == sorted(c.email for c in people)
    rows = list(campaign.sends.all())
    assert {r.status for r in rows} == {Row.SENT}
    assert {r.message_id for r in rows} == {m.extra_headers["Message-ID"] for m in connection.sent}
    assert all(r.attempts == 1 and r.sent_at for r in rows)
    campaign.refresh_from_db()
    assert campaign.status == Status.SENT and campaign.finished_at
    # Running again sends nothing.
    assert batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)[0] == 0
    assert len(connection.sent) == 5


def test_unsubscribe_before_claim_is_honoured(
    campaign, marketing, django_capture_on_commit_callbacks
):
    stays, leaves = contacts(2)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    consent_record(
        contact=leaves, action=Consent.Action.WITHDRAW, source=Consent.Source.UNSUBSCRIBE
    )
    connection = FakeConnection()
    batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    assert [m.to[0] for m in connection.sent] == [stays.email]
    assert campaign.sends.get(contact=leaves).status == Row.SKIPPED


def test_temporary_failure_backs_off_then_fails(
    campaign, marketing, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_MAX_ATTEMPTS = 2
    ok, flaky = contacts(2)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    busy = smtplib.SMTPRecipientsRefused({flaky.email: (451, b"try later")})
    connection = FakeConnection({flaky.email: busy})
    sent, again = batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    assert sent == 1
    row = campaign.sends.get(contact=flaky)
    assert row.status == Row.RETRY and row.attempts == 1
    delay = (row.next_attempt_at - timezone.now()).total_seconds()
    assert batches.RETRY_BASE_SECONDS - 5 < delay <= batches.RETRY_BASE_SECONDS
    assert again == pytest.approx(delay, abs=5)
    assert batches.campaign_claim(campaign_id=campaign.pk) is None  # not due yet
    later = timezone.now() + timedelta(hours=1)
    batch = batches.campaign_claim(campaign_id=campaign.pk, now=later)
    assert [r.contact_id for r in batch.rows] == [flaky.pk]
    batches.campaign_send_claimed(batch=batch, connection=connection)
    row.refresh_from_db()
    assert row.status == Row.FAILED and row.attempts == 2 and "451" in row.error
    assert not Suppression.objects.exists()
    assert batches.campaign_finish_if_done(campaign_id=campaign.pk)


def test_backoff_is_exponential():
    base = batches.RETRY_BASE_SECONDS
    assert [batches.retry_delay(n).total_seconds() for n in (1, 2, 3)] == [base, 2 * base, 4 * base]
    assert batches.retry_delay(30).total_seconds() == batches.RETRY_MAX_SECONDS


def test_permanent_failure_suppresses_the_address(
    campaign, marketing, django_capture_on_commit_callbacks
):
    ok, gone = contacts(2)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    refused = smtplib.SMTPRecipientsRefused({gone.email: (550, b"no such user")})
    batches.campaign_send_lane(
        campaign_id=campaign.pk, connection=FakeConnection({gone.email: refused})
    )
    row = campaign.sends.get(contact=gone)
    assert row.status == Row.FAILED
    assert Suppression.objects.get(email=gone.email).reason == Suppression.Reason.BOUNCE
    assert campaign.sends.get(contact=ok).status == Row.SENT


def test_lost_connection_keeps_the_rest_for_later(
    campaign, marketing, django_capture_on_commit_callbacks
):
    people = contacts(4)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    gone = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    connection = FakeConnection({people[1].email: gone})
    batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    statuses = dict(campaign.sends.values_list("contact_id", "status"))
    assert statuses[people[0].pk] == Row.SENT
    assert {statuses[c.pk] for c in people[1:]} == {Row.RETRY}
    attempts = dict(campaign.sends.values_list("contact_id", "attempts"))
    assert attempts[people[1].pk] == 1 and attempts[people[2].pk] == 0  # never tried


def test_dead_worker_claim_leaves_only_the_unwritten_window_in_doubt(
    campaign, marketing, django_capture_on_commit_callbacks
):
    contacts(batches.MARK_EVERY + 5)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    batch = batches.campaign_claim(campaign_id=campaign.pk)
    # The worker wrote the first two as sent, then died: of the rows still enviando, only the
    # first MARK_EVERY (accepted but not yet written, or in flight) may have reached the server.
    for row in batch.rows[:2]:
        Send.objects.filter(pk=row.id).update(status=Row.SENT, sent_at=timezone.now())
    assert reconcile.release_stale_claims() == (0, 0)  # not stale yet
    later = timezone.now() + timedelta(seconds=batches._claim_timeout() + 1)
    assert reconcile.release_stale_claims(now=later) == (batches.MARK_EVERY, 3)
    window = batch.rows[2 : 2 + batches.MARK_EVERY]
    assert set(campaign.sends.filter(status=Row.DOUBT).values_list("id", flat=True)) == {
        r.id for r in window
    }
    never_sent = batch.rows[2 + batches.MARK_EVERY :]
    pending = campaign.sends.filter(status=Row.PENDING)
    assert set(pending.values_list("id", flat=True)) == {r.id for r in never_sent}
    assert {r.attempts for r in pending} == {0}
    connection = FakeConnection()
    batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    assert sorted(m.to[0] for m in connection.sent) == sorted(r.email for r in never_sent)
    # En duda counts as final: the campaign is over, the doubt stays visible.
    campaign.refresh_from_db()
    assert campaign.status == Status.SENT


def test_accepted_rows_are_written_every_few_messages(
    campaign, marketing, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """A batch of 3×MARK_EVERY messages writes its sent rows in a few UPDATEs (not one per
    message), each row with its own Message-ID and time."""
    contacts(3 * batches.MARK_EVERY)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    batch = batches.campaign_claim(campaign_id=campaign.pk)
    connection = FakeConnection()
    # The message compiled (topic, links: once per process), the contacts, 3 UPDATEs of marks,
    # and a spare for a flush by time on a slow machine.
    with django_assert_max_num_queries(7):
        result = batches.campaign_send_claimed(batch=batch, connection=connection)
    assert result.sent == 3 * batches.MARK_EVERY
    rows = {r.id: r for r in campaign.sends.all()}
    assert {r.status for r in rows.values()} == {Row.SENT}
    for message in connection.sent:
        row = rows[int(message.metadata["send_id"])]
        assert row.message_id == message.extra_headers["Message-ID"]
        assert row.sent_at is not None and row.error == ""


def test_a_failure_writes_the_accepted_rows_before_it(
    campaign, marketing, django_capture_on_commit_callbacks
):
    people = contacts(4)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    refused = smtplib.SMTPRecipientsRefused({people[2].email: (550, b"no such user")})
    batches.campaign_send_lane(
        campaign_id=campaign.pk, connection=FakeConnection({people[2].email: refused})
    )
    statuses = dict(campaign.sends.values_list("contact_id", "status"))
    assert [statuses[c.pk] for c in people] == [Row.SENT, Row.SENT, Row.FAILED, Row.SENT]


def test_resolve_doubt(campaign, marketing, django_capture_on_commit_callbacks):
    a, b = contacts(2)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    campaign.sends.update(status=Row.DOUBT, claimed_at=timezone.now())
    first, second = campaign.sends.order_by("id")
    sending.campaign_send_resolve(send=first, user=marketing, action=sending.RESOLVE_SENT)
    first.refresh_from_db()
    assert first.status == Row.SENT
    with pytest.raises(ValidationError, match="ya no está en duda"):
        sending.campaign_send_resolve(send=first, user=marketing, action=sending.RESOLVE_RESEND)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sending.campaign_send_resolve(send=second, user=marketing, action=sending.RESOLVE_RESEND)
    assert len(callbacks) == 1
    second.refresh_from_db()
    assert second.status == Row.PENDING
    assert AuditEvent.objects.filter(detail__event="resolve_reenviar").exists()


def test_reconciler_requeues_a_stalled_campaign(
    campaign, marketing, django_capture_on_commit_callbacks
):
    contacts(2)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = reconcile.campaigns_reconcile()
    assert report.requeued == [campaign.pk]
    assert len(callbacks) == 1
    # A worker on it (a recent claim): left alone.
    batches.campaign_claim(campaign_id=campaign.pk, batch_size=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reconcile.campaigns_reconcile().requeued == []


def test_rate_limit_caps_a_minute(marketing, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(batches.time, "sleep", lambda seconds: None)
    campaign = CampaignFactory(created_by=marketing, rate_per_minute=2)
    contacts(5)
    campaign = started(campaign, marketing, django_capture_on_commit_callbacks)
    connection = FakeConnection()
    sent, again = batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    assert sent == 2
    assert 50 < again <= 60


def test_send_now_through_the_tasks_writes_files(
    campaign, marketing, settings, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    """The embedded default (make run): the file backend writes the messages to EMAIL_FILE_PATH."""
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    from crm.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    people = contacts(3)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_send_now(campaign=campaign, user=marketing)
    campaign.refresh_from_db()
    assert campaign.status == Status.SENT
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    for person in people:
        assert f"To: {person.email}" in text
    assert text.count("List-Unsubscribe-Post: List-Unsubscribe=One-Click") == 3
    assert len(django_mail.outbox) == 0
