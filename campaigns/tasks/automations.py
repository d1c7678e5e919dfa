"""Celery tasks of automations: two beat jobs, each safe to run twice or at once (the ledger's
UNIQUE key refuses a second materialisation; SKIP LOCKED claims keep two senders apart)."""

from celery import shared_task

from campaigns.services import automations_run

__all__ = ["automations_materialise", "automations_send"]


@shared_task(name="campaigns.automations_materialise", soft_time_limit=540, time_limit=600)
def automations_materialise() -> dict:
    """Hourly: write the deliveries due (birthdays and holidays of today, new subscribers,
    the inactive) and suppress those still silent after a re-engagement."""
    report = automations_run.automations_materialise()
    return {"offered": report.offered, "inserted": report.inserted, "suppressed": report.suppressed}


@shared_task(name="campaigns.automations_send", soft_time_limit=240, time_limit=300)
def automations_send() -> dict:
    """Every few minutes: send the due deliveries (outside the quiet hours)."""
    result = automations_run.automations_send()
    return {"sent": result.sent, "failed": result.failed, "skipped": result.skipped}
