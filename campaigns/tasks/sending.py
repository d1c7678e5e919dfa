"""Celery tasks of sending. Thin: take a campaign id, call one service. Each is safe to run
twice or concurrently (the ledger and the state machine refuse double work), and a lost one is
found again by `campaigns_reconcile`, which the beat runs every minute."""

from celery import shared_task

from campaigns.services import batches, recipients, reconcile

__all__ = [
    "campaign_ab_decide",
    "campaign_materialize",
    "campaign_send_batch",
    "campaigns_reconcile",
]


@shared_task(
    name="campaigns.campaign_materialize", acks_late=True, soft_time_limit=240, time_limit=300
)
def campaign_materialize(campaign_id: int) -> int:
    """Write the campaign's recipients once, then queue its batches."""
    return recipients.campaign_materialize(campaign_id=campaign_id)


@shared_task(
    name="campaigns.campaign_send_batch", acks_late=True, soft_time_limit=240, time_limit=300
)
def campaign_send_batch(campaign_id: int) -> int:
    """Send batches for a while, then hand over to a fresh task while work is left (a retry
    not yet due is waited for with a countdown)."""
    sent, again_in = batches.campaign_send_lane(campaign_id=campaign_id)
    if again_in is not None:
        campaign_send_batch.apply_async(args=[campaign_id], countdown=again_in or None)
    return sent


@shared_task(name="campaigns.campaign_ab_decide", acks_late=True, soft_time_limit=60, time_limit=90)
def campaign_ab_decide(campaign_id: int) -> str:
    return recipients.campaign_ab_decide(campaign_id=campaign_id)


@shared_task(name="campaigns.campaigns_reconcile", soft_time_limit=120, time_limit=150)
def campaigns_reconcile() -> dict:
    """Periodic: start due schedules, settle dead workers' claims, requeue lost batches,
    decide due A/B tests."""
    report = reconcile.campaigns_reconcile()
    return {
        "started": report.started,
        "doubtful": report.doubtful,
        "released": report.released,
        "requeued": report.requeued,
        "decided": report.decided,
    }
