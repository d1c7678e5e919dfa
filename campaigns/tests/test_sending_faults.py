"""Exactly once, with real workers: `celery -A crm worker` processes on PostgreSQL and Redis
(db 5, or SENDING_FAULTS_REDIS_URL), sending to an SMTP sink that counts what really arrived
per recipient.

Faults: a worker SIGKILLed mid-batch, Redis flushed mid-send, Send pressed twice (and two beats
starting one schedule), an unsubscribe mid-send. After each, every eligible contact has exactly
one message, except rows marked en duda (at most `batches.MARK_EVERY` per killed worker: its
rows accepted but not yet written; never delivered twice), and the unsubscribed none.

The workers reach the test database through DATABASE_URL (its name read from the live
connection, so it works under xdist's per-worker databases); the test publishes its tasks to
the same Redis database. A short claim timeout (seconds) lets the reconciler act in time; the
test plays the beat by queueing `campaigns.campaigns_reconcile` every second.
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Send
from campaigns.selectors.sending import OPEN_ROWS
from campaigns.services import batches, sending
from campaigns.tests.factories import CampaignFactory, SegmentFactory
from campaigns.tests.smtp_sink import SmtpSink
from campaigns.tests.workers import (
    CELERY,
    broker_app,
    enqueue_through,
    redis_database,
)
from contacts.models import Consent, Contact
from contacts.services import consent_latest_rebuild, consent_record
from crm.core.models import AuditEvent, Role
from crm.core.tests.factories import UserFactory
from crm.core.tests.processes import database_url

# Its own Redis database (flushed by the tests); SENDING_FAULTS_REDIS_URL picks another one.
REDIS_URL = os.environ.get("SENDING_FAULTS_REDIS_URL", "redis://127.0.0.1:6379/5")
BASE_DIR = Path(settings.BASE_DIR)
CLAIM_TIMEOUT = 4
BATCH_SIZE = 10
RECIPIENTS = 240
DEADLINE = 25
Row = Send.Status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_db():
    yield from redis_database(REDIS_URL, "sending faults")


@pytest.fixture
def broker(redis_db):
    """A Celery app of this test that publishes by task name to the workers' Redis."""
    app = broker_app("sending-faults", REDIS_URL)
    yield app
    app.close()


@pytest.fixture
def enqueue_to_workers(broker, monkeypatch):
    """This process's services queue their tasks for the real workers (after the commit)."""
    enqueue_through(broker, monkeypatch)
    return broker


@pytest.fixture
def sink():
    with SmtpSink(delay=0.02) as server:
        yield server


class Workers:
    """`celery -A crm worker` processes (solo pool: one process each, killed as one)."""

    def __init__(self, sink: SmtpSink, logs: Path):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
            "CAMPAIGN_BATCH_SIZE": str(BATCH_SIZE),
            "CAMPAIGN_CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT),
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.logs = logs
        self.procs: list[subprocess.Popen] = []

    def start(self, n: int = 2) -> None:
        for _i in range(n):
            index = len(self.procs)
            log = (self.logs / f"worker{index}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        str(CELERY),
                        "-A",
                        "crm",
                        "worker",
                        "--pool=solo",
                        f"--hostname=faults{index}-{os.getpid()}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel=WARNING",
                    ],
                    cwd=BASE_DIR,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def kill(self, index: int) -> None:
        os.killpg(self.procs[index].pid, signal.SIGKILL)
        self.procs[index].wait(5)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def log_tail(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def workers(sink, tmp_path, enqueue_to_workers):
    pool = Workers(sink, tmp_path)
    yield pool
    pool.stop()


def _people(n: int, owner) -> list[Contact]:
    contacts = Contact.objects.bulk_create(
        Contact(
            first_name="Cliente",
            last_name=f"{i:04d}",
            email=f"cliente{i:04d}@faults.example.com",
            owner=owner,
        )
        for i in range(n)
    )
    now = timezone.now()
    Consent.objects.bulk_create(
        Consent(
            contact=c,
            channel=Consent.Channel.EMAIL,
            action=Consent.Action.GRANT,
            at=now,
            source=Consent.Source.FORM,
            legal_basis=Consent.LegalBasis.CONSENT,
        )
        for c in contacts
    )
    consent_latest_rebuild()
    return contacts


@pytest.fixture
def marketing_user():
    return UserFactory(username="marketing_faults", role=Role.MARKETING)


@pytest.fixture
def campaign(marketing_user):
    _people(RECIPIENTS, marketing_user)
    segment = SegmentFactory(created_by=marketing_user)
    return CampaignFactory(created_by=marketing_user, segment=segment)


def _open_rows(campaign_id: int) -> int:
    return Send.objects.filter(campaign_id=campaign_id, status__in=OPEN_ROWS).count()


def _wait_for(predicate, workers: Workers, *, beat=None, timeout: float = DEADLINE) -> None:
    """Wait until `predicate()`, queueing the reconciler every second (the beat)."""
    ends = time.monotonic() + timeout
    next_beat = time.monotonic() + 1
    while time.monotonic() < ends:
        if predicate():
            return
        if beat is not None and time.monotonic() >= next_beat:
            beat.send_task("campaigns.campaigns_reconcile")
            next_beat = time.monotonic() + 1
        time.sleep(0.1)
    pytest.fail(f"timed out; worker logs:\n{workers.log_tail()}")


def _done(campaign: Campaign):
    def check() -> bool:
        if _open_rows(campaign.pk):
            return False
        campaign.refresh_from_db()
        return campaign.materialized_at is not None and campaign.status == Campaign.Status.SENT

    return check


def _assert_exactly_once(
    campaign: Campaign, sink: SmtpSink, *, killed: int = 0, excluded: set[str] = frozenset()
):
    time.sleep(0.3)  # a message accepted by the sink a moment ago is counted
    counts = sink.snapshot()
    rows = list(Send.objects.filter(campaign=campaign).values_list("email", "status"))
    assert len(rows) == RECIPIENTS
    assert max(counts.values()) == 1, "a recipient got two messages"
    doubt = [email for email, status in rows if status == Row.DOUBT]
    # A killed worker leaves in doubt at most its rows accepted but not yet written (plus the
    # one in flight): the first MARK_EVERY of its batch still enviando.
    assert len(doubt) <= killed * min(batches.MARK_EVERY, BATCH_SIZE)
    for email, status in rows:
        if email in excluded:
            assert counts[email] == 0 and status == Row.SKIPPED, email
        elif status == Row.SENT:
            assert counts[email] == 1, email
        else:
            assert status == Row.DOUBT, (email, status)
    assert sum(counts.values()) == sum(1 for _e, s in rows if s == Row.SENT) + sum(
        counts[e] for e in doubt
    )


def _start(campaign: Campaign, user) -> None:
    sending.campaign_send_now(campaign=campaign, user=user)


def test_worker_killed_mid_batch(campaign, marketing_user, workers, sink, broker):
    workers.start(2)
    _start(campaign, marketing_user)
    _wait_for(lambda: sink.total >= 60, workers)
    workers.kill(0)
    killed_at = sink.total
    assert killed_at < RECIPIENTS, "the send ended before the kill; slow the sink down"
    _wait_for(_done(campaign), workers, beat=broker)
    _assert_exactly_once(campaign, sink, killed=1)


def test_redis_flushed_mid_send(campaign, marketing_user, workers, sink, broker, redis_db):
    workers.start(2)
    _start(campaign, marketing_user)
    _wait_for(lambda: sink.total >= 60, workers)
    redis_db.flushdb()  # every queued task is lost
    assert sink.total < RECIPIENTS
    _wait_for(_done(campaign), workers, beat=broker)
    _assert_exactly_once(campaign, sink)


def test_send_pressed_twice_and_two_beats(campaign, marketing_user, workers, sink, broker):
    workers.start(2)
    results = []
    barrier = threading.Barrier(2)

    def press():
        barrier.wait()
        try:
            _start(Campaign.objects.get(pk=campaign.pk), marketing_user)
            results.append("sent")
        except ValidationError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused", "sent"]
    _wait_for(_done(campaign), workers, beat=broker)
    _assert_exactly_once(campaign, sink)
    assert AuditEvent.objects.filter(detail__event="send_now").count() == 1
    # Two beats at once start a due schedule once (both workers run one each); it starts after
    # the first campaign ended, so the sink's counts stay readable per campaign.
    scheduled = CampaignFactory(
        created_by=marketing_user, segment=campaign.segment, topic=campaign.topic
    )
    Campaign.objects.filter(pk=scheduled.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now()
    )
    broker.send_task("campaigns.campaigns_reconcile")
    broker.send_task("campaigns.campaigns_reconcile")
    _wait_for(_done(scheduled), workers, beat=broker)
    assert AuditEvent.objects.filter(detail__event="scheduled_start").count() == 1
    sink_counts = sink.snapshot()
    assert max(sink_counts.values()) == 2  # one per campaign
    assert Send.objects.filter(campaign=scheduled, status=Row.SENT).count() == RECIPIENTS


def test_unsubscribe_mid_send(campaign, marketing_user, workers, sink, broker):
    workers.start(2)
    _start(campaign, marketing_user)
    _wait_for(lambda: sink.total >= 40, workers)
    with transaction.atomic():
        # The last rows, locked so no worker claims them while the withdrawals are written.
        rows = list(
            Send.objects.select_for_update(skip_locked=True)
            .filter(campaign=campaign, status=Row.PENDING)
            .order_by("-id")[:20]
        )
        for row in rows:
            consent_record(
                contact=row.contact,
                action=Consent.Action.WITHDRAW,
                source=Consent.Source.UNSUBSCRIBE,
            )
    assert len(rows) == 20
    _wait_for(_done(campaign), workers, beat=broker)
    _assert_exactly_once(campaign, sink, excluded={r.email for r in rows})
