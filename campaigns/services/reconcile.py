"""The reconciler, the minute's housekeeping: start due schedules, settle dead workers' claims,
queue lost work again, decide due A/B tests."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Min
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Send
from campaigns.services import sending as services  # its _on_commit_enqueue queues the tasks
from campaigns.services.batches import (
    MARK_EVERY,
    _claim_timeout,
    campaign_finish_if_done,
    lanes,
    next_due_in,
)
from campaigns.services.recipients import campaign_ab_decide
from campaigns.services.sending import mark_started, send_audit

Status = Campaign.Status
Row = Send.Status


def stall_seconds() -> int:
    """No claim for this long while work is due: the campaign's tasks were lost."""
    return max(1, min(120, _claim_timeout()))


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
            if mark_started(campaign_id, from_states=(Status.SCHEDULED,), user=None, now=now):
                campaign = Campaign.objects.get(pk=campaign_id)
                send_audit(actor=None, campaign=campaign, event="scheduled_start")
                started.append(campaign_id)
    doubt, released = release_stale_claims(now=now)
    quiet = now - timedelta(seconds=stall_seconds())
    requeued = []
    sending = Campaign.objects.filter(status=Status.SENDING)
    lost = sending.filter(materialized_at__isnull=True, started_at__lt=quiet)
    for campaign in lost.exclude(pk__in=started):
        with transaction.atomic():
            services._on_commit_enqueue("materialize", campaign.pk)
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
            services._on_commit_enqueue("batch", campaign.pk, count=lanes(campaign))
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
