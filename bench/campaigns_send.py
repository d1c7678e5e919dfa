"""Benchmark of DESIGN.md §4 for campaigns: 100,000 recipients materialised in ≤ 5 s, and sent
to a local SMTP sink at ≥ 500 emails/s with 2 worker processes; a plain smtplib loop to the same
sink gives the ratio (how much of the sink's speed the workers reach). The resident size of the
worker's pool processes is read after 10,000 messages and at the end (issue 12): it must not
grow with the recipients.

`measure_campaign_send()` returns bench rows (bench.measure.Row). It builds its own 100,000
consenting contacts (owned by a "bench_envios" user, on a static segment), times the one
INSERT … SELECT of the ledger, starts `celery -A crm worker --concurrency=2` against the same
database and broker as this process (REDIS_URL, or the embedded filesystem broker) with
EMAIL_URL pointing at the sink, and waits for every message to arrive. The rate is the messages
the sink counted over the time from the batches being queued to the last arrival.

The sink runs in a process of its own (campaigns.tests.smtp_sink.SmtpSinkProcess): a server
thread inside this process would share its interpreter lock with the bench and measure it too.
The reference is a plain smtplib loop that sends the bytes of one real message of the campaign
to the same sink over one connection, with the workers gone: the sink's ceiling, so the ratio
says how much of it the workers reach. The run fails if any message arrived twice or any row
did not end `enviado`. Afterwards it deletes everything it wrote, so the other pages are
measured on the usual data.

Alone: `python -m bench.campaigns_send` (after `manage.py migrate`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

import smtplib  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns import content, links, mail  # noqa: E402
from campaigns.models import Campaign, Segment, SegmentMember, Send  # noqa: E402
from campaigns.selectors.sending import OPEN_ROWS, status_counts  # noqa: E402
from campaigns.services import recipients  # noqa: E402
from campaigns.tests.smtp_sink import SmtpSinkProcess  # noqa: E402
from contacts.models import Consent, ConsentLatest, Contact, Topic  # noqa: E402
from crm.core.models import Role, User  # noqa: E402

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
MATERIALIZE_TARGET_S = 5.0
SEND_TARGET_RATE = 500.0
SEND_TIMEOUT_S = float(os.environ.get("BENCH_CAMPAIGN_TIMEOUT", "900"))
SMTPLIB_MESSAGES = int(os.environ.get("BENCH_SMTPLIB_MESSAGES", "5000"))
WORKERS = 2
# The workers' memory is read after this many messages and again at the end.
RSS_EARLY = min(10_000, RECIPIENTS // 10)
RSS_GROWTH_MB = 32
BENCH_USER = "bench_envios"
BUILT_TABLES = (
    "contacts_contact",
    "contacts_consent",
    "contacts_consentlatest",
    "campaigns_segmentmember",
    "campaigns_suppression",
)
DOMAIN = "envios.bench.example.com"
BODY = (
    '<h1>Hola {{ nombre|default:"cliente" }}</h1>'
    '<p>Nuevos precios para {{ empresa|default:"tu empresa" }}: '
    '<a href="https://ejemplo.com.mx/ofertas?utm_source=crm">ver ofertas</a>.</p>'
)
CELERY = Path(sys.executable).with_name("celery")
BASE_DIR = Path(settings.BASE_DIR)


def _row(**kwargs):
    from bench.measure import Row

    return Row(**kwargs)


def _workers_rss_mb(pid: int) -> list[float]:
    from bench.server import _workers_rss_mb as pool_rss

    return pool_rss(pid)


# Data ---------------------------------------------------------------------------------------


def _build(n: int) -> Campaign:
    """n consenting contacts of the bench user on a static segment, and a campaign to them."""
    user, _created = User.objects.get_or_create(
        username=BENCH_USER, defaults={"role": Role.MARKETING, "first_name": "Bench"}
    )
    _cleanup(user)
    topic, _created = Topic.objects.get_or_create(name="Bench envíos")
    now = timezone.now()
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            (
                Contact(
                    first_name=f"Cliente{i}",
                    last_name="Bench",
                    email=f"c{i}@{DOMAIN}",
                    owner=user,
                )
                for i in range(n)
            ),
            batch_size=5000,
        )
        consents = Consent.objects.bulk_create(
            (
                Consent(
                    contact=c,
                    channel=Consent.Channel.EMAIL,
                    action=Consent.Action.GRANT,
                    at=now,
                    source=Consent.Source.FORM,
                    legal_basis=Consent.LegalBasis.CONSENT,
                )
                for c in contacts
            ),
            batch_size=5000,
        )
        ConsentLatest.objects.bulk_create(
            (
                ConsentLatest(
                    contact_id=e.contact_id,
                    channel=e.channel,
                    topic=None,
                    entry=e,
                    action=e.action,
                )
                for e in consents
            ),
            batch_size=5000,
        )
        segment = Segment.objects.create(
            name="Bench envíos", kind=Segment.Kind.STATIC, created_by=user
        )
        SegmentMember.objects.bulk_create(
            (SegmentMember(segment=segment, contact=c) for c in contacts), batch_size=5000
        )
        html = content.sanitize_html(BODY)
        campaign = Campaign.objects.create(
            name="Bench envíos",
            topic=topic,
            segment=segment,
            subject='Novedades para {{ nombre|default:"ti" }}',
            html_body=html,
            text_body=content.html_to_text(html),
            created_by=user,
        )
        for url in content.extract_links(html):
            campaign.links.create(url=url)
    if connection.vendor == "postgresql":
        # 100,000 contacts a moment old: give the planner the statistics autovacuum would have
        # by the time a real campaign to them goes out.
        with connection.cursor() as cursor:
            for table in BUILT_TABLES:
                cursor.execute(f"ANALYZE {table}")
    return campaign


def _cleanup(user: User) -> None:
    """Delete what a bench run wrote (raw SQL: 100,000 contacts through the ORM take minutes)."""
    contact_ids = "SELECT id FROM contacts_contact WHERE owner_id = %s"
    campaign_ids = "SELECT id FROM campaigns_campaign WHERE created_by_id = %s"
    segment_ids = "SELECT id FROM campaigns_segment WHERE created_by_id = %s"
    statements = [
        f"DELETE FROM campaigns_trackingevent WHERE campaign_id IN ({campaign_ids})",
        f"DELETE FROM campaigns_send WHERE campaign_id IN ({campaign_ids})",
        f"DELETE FROM campaigns_campaignlink WHERE campaign_id IN ({campaign_ids})",
        f"DELETE FROM campaigns_campaign WHERE id IN ({campaign_ids})",
        f"DELETE FROM campaigns_segmentmember WHERE segment_id IN ({segment_ids})",
        f"DELETE FROM campaigns_segment WHERE id IN ({segment_ids})",
        f"DELETE FROM contacts_consentlatest WHERE contact_id IN ({contact_ids})",
        f"DELETE FROM contacts_consent WHERE contact_id IN ({contact_ids})",
        f"DELETE FROM contacts_contact WHERE id IN ({contact_ids})",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, [user.pk])
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # 100,000 dead contacts (and their ledger) stay in the tables until autovacuum comes,
        # which it had not 10 minutes later: every scan of contacts read twice the rows (the
        # whole-base segment count, the lists) on the next run. Reclaim them now, and their
        # index pages (bench.imports.restore_tables).
        from bench.imports import restore_tables

        restore_tables([*BUILT_TABLES, "campaigns_send"])


# Measurements -------------------------------------------------------------------------------


def _materialize(campaign: Campaign) -> tuple[float, float]:
    """Seconds of the one INSERT … SELECT, and the instant (monotonic) its batches were queued."""
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, started_at=timezone.now()
    )
    started = time.perf_counter()
    written = recipients.campaign_materialize(campaign_id=campaign.pk)  # queues the batches
    seconds = time.perf_counter() - started
    queued_at = time.monotonic()
    assert written == campaign.sends.count() == RECIPIENTS, "the ledger is not what was written"
    return seconds, queued_at


def _worker(sink: SmtpSinkProcess, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "CAMPAIGN_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return subprocess.Popen(
        [
            str(CELERY),
            "-A",
            "crm",
            "worker",
            f"--concurrency={WORKERS}",
            f"--hostname=bench-envios-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(worker: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until the worker's processes are up (its log says "ready"), so boot is not measured."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker stopped; see {log}")
        if b"ready." in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"the Celery worker did not start in {timeout:g} s; see {log}")


def _sample_message(campaign: Campaign) -> bytes:
    """One real message of the campaign, as the workers put it on the wire."""
    row = campaign.sends.select_related("contact").order_by("id").first()
    values = {
        **content.merge_data(row.contact),
        **links.link_values(send_id=row.id, contact_id=row.contact_id),
    }
    rendered = content.compile_message(campaign).render(values)
    message = mail.build_message(campaign=campaign, send_id=row.id, to=row.email, rendered=rendered)
    return message.message().as_bytes(linesep="\r\n")


def _smtplib_rate(port: int, raw: bytes, n: int) -> float:
    """The same message's bytes down one smtplib connection, nothing else: the sink's ceiling."""
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        started = time.perf_counter()
        for i in range(n):
            smtp.sendmail("bench@" + DOMAIN, [f"directo{i}@{DOMAIN}"], raw)
        return n / (time.perf_counter() - started)


def _ledger_problems(campaign: Campaign) -> dict[str, int]:
    """Rows that did not end `enviado`, by status (the run must leave none)."""
    counts = status_counts(campaign)
    return {status: n for status, n in counts.items() if n and status != Send.Status.SENT}


def measure_campaign_send() -> list:
    """The bench rows: materialising, sending with the workers, and the smtplib reference."""
    target_m = f"≤{MATERIALIZE_TARGET_S * 1000:g} ms ({RECIPIENTS:,} destinatarios)"
    target_s = f"≥{SEND_TARGET_RATE:g} correos/s con {WORKERS} workers"
    if not CELERY.exists():
        return [_row(page="campañas: envío", url=None, target=target_s, problems=["sin celery"])]
    rows = []
    campaign = _build(RECIPIENTS)
    user = campaign.created_by
    log = BASE_DIR / "var" / "bench-campaign-worker.log"
    log.parent.mkdir(exist_ok=True)
    with SmtpSinkProcess() as sink:
        worker = _worker(sink, log)
        try:
            _wait_ready(worker, log)
            seconds, queued_at = _materialize(campaign)
            rows.append(
                _row(
                    page="campañas: materializar destinatarios",
                    url="campaigns.services.recipients.campaign_materialize()",
                    target=target_m,
                    status="200",
                    median_ms=round(seconds * 1000, 1),
                    p95_ms=round(seconds * 1000, 1),
                    passed=seconds <= MATERIALIZE_TARGET_S,
                    problems=[] if seconds <= MATERIALIZE_TARGET_S else ["tiempo"],
                )
            )
            ends = time.monotonic() + SEND_TIMEOUT_S
            early_rss: list[float] = []
            while time.monotonic() < ends and worker.poll() is None:
                if not early_rss and sink.total >= RSS_EARLY:
                    early_rss = _workers_rss_mb(worker.pid)
                if sink.total >= RECIPIENTS and not _open_rows(campaign):
                    break
                time.sleep(0.5)
            rows.append(_memory_row(early_rss, _workers_rss_mb(worker.pid), sink.total))
            stats = sink.stats()
            last_at = stats["last_at"] or time.monotonic()
            elapsed = max(last_at - queued_at, 1e-9)
            rate = stats["total"] / elapsed
            problems = []
            if stats["total"] < RECIPIENTS:
                problems.append(f"llegaron {stats['total']:,} de {RECIPIENTS:,} (ver {log})")
            if stats["repeated"]:
                problems.append(f"{stats['repeated']} repetidos")
            left = _ledger_problems(campaign)
            if left:
                problems.append("en el registro: " + ", ".join(f"{k} {v}" for k, v in left.items()))
            if rate < SEND_TARGET_RATE:
                problems.append("ritmo")
            rows.append(
                _row(
                    page=(
                        f"campañas: envío ({rate:,.0f} correos/s; {stats['repeated']} repetidos, "
                        f"{left.get(Send.Status.FAILED, 0)} fallidos)"
                    ),
                    url=f"celery -A crm worker --concurrency={WORKERS} → sink SMTP",
                    target=target_s,
                    status="200",
                    median_ms=round(elapsed * 1000, 1),
                    p95_ms=round(elapsed * 1000, 1),
                    passed=not problems,
                    problems=problems,
                )
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)
        # The reference, with the workers gone: the same bytes to the same sink.
        direct = _smtplib_rate(sink.port, _sample_message(campaign), SMTPLIB_MESSAGES)
        rows.append(
            _row(
                page=(
                    f"campañas: smtplib directo ({direct:,.0f} correos/s; "
                    f"workers al {100 * rate / direct:.0f} %)"
                ),
                url="smtplib.SMTP.sendmail en un bucle, una conexión",
                target="medido (referencia)",
                status="200",
                median_ms=round(SMTPLIB_MESSAGES / direct * 1000, 1),
                p95_ms=round(SMTPLIB_MESSAGES / direct * 1000, 1),
                passed=True,
            )
        )
    _cleanup(user)
    return rows


def _memory_row(early: list[float], late: list[float], sent: int):
    """The resident size of the worker's pool processes after RSS_EARLY messages and after
    the whole campaign: it must not grow with the recipients."""
    target = f"RSS a {RECIPIENTS:,} ≤ RSS a {RSS_EARLY:,} + {RSS_GROWTH_MB} MB"
    if not early or not late:
        return _row(
            page="campañas: memoria de los workers de Celery",
            url=None,
            target=target,
            problems=["sin medida de /proc"],
        )
    grown = max(late) - max(early)
    return _row(
        page=(
            f"campañas: memoria de los workers de Celery ({max(early):.0f} MB tras "
            f"{RSS_EARLY:,} envíos, {max(late):.0f} MB tras {sent:,}; el mayor de "
            f"{len(late)} procesos)"
        ),
        url=f"celery -A crm worker --concurrency={WORKERS} (VmRSS)",
        target=target,
        status="200",
        passed=grown <= RSS_GROWTH_MB,
        problems=[] if grown <= RSS_GROWTH_MB else [f"creció {grown:.0f} MB"],
    )


def _open_rows(campaign: Campaign) -> int:
    return campaign.sends.filter(status__in=OPEN_ROWS).count()


def main() -> int:
    rows = measure_campaign_send()
    for row in rows:
        verdict = "pass" if row.passed else "FAIL " + ", ".join(row.problems)
        print(f"{row.page}: {row.median_ms} ms — objetivo {row.target} — {verdict}")
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
