"""A campaign's recipients: its ledger written once when it starts (INSERT … SELECT), and the
A/B test's sample and, once the wait is over, its winner for the rest."""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Min
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.eligibility import eligible_q
from campaigns.models import Campaign, Send
from campaigns.segments import segment_queryset
from campaigns.services import sending as services  # its _on_commit_enqueue queues the tasks
from campaigns.services.batches import lanes
from campaigns.services.sending import send_audit

logger = logging.getLogger(__name__)

Status = Campaign.Status
Row = Send.Status

# A ledger this large gets fresh planner statistics right after it is written (PostgreSQL).
ANALYZE_AFTER_ROWS = 10_000


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
            services._on_commit_enqueue("batch", campaign.pk, count=lanes(campaign))
    logger.info("campaign %s: %s recipients", campaign_id, written)
    return written


def _insert_recipients(campaign: Campaign) -> int:
    """Write the ledger: one row per address (the lowest contact id with it).

    The SELECT gives each address once (grouped by it) and each contact once (a contact has
    one address; addresses are unique among contacts, whatever their case), and this runs
    under the campaign's lock, the only writer of its ledger. So into an empty ledger nothing
    can conflict, and a plain INSERT writes it: PostgreSQL's ON CONFLICT checks both unique
    indexes before each row and logs a confirmation after it, which cost 1 s more for 100,000
    recipients (the statement in 2.8 s against 1.85 s, EXPLAIN ANALYZE on the benchmark's
    campaign). A ledger that holds rows already (the `materialized_at` guard cleared by hand)
    keeps them and gets only the missing ones (ON CONFLICT DO NOTHING; INSERT OR IGNORE on
    SQLite).
    """
    select_sql, params = recipients_queryset(campaign).query.sql_with_params()
    table = Send._meta.db_table
    columns = "campaign_id, contact_id, email, variant, status, attempts, message_id, error"
    if not Send.objects.filter(campaign=campaign).exists():
        verb, tail = "INSERT INTO", ""
    elif db_connection.vendor == "postgresql":
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
        send_audit(
            actor=None,
            campaign=campaign,
            event="ab_decide",
            winner=winner,
            a=[a.sent, a.hits],
            b=[b.sent, b.hits],
        )
        if campaign.status == Status.SENDING:
            services._on_commit_enqueue("batch", campaign.pk, count=lanes(campaign))
    return winner
