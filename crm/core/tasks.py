from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from crm.core import exports, queue, submit_once, webhooks


# The name it had before crm/ was split: stored beat entries and queued messages use it.
@shared_task(
    name="crm.tasks.sessions_clear", ignore_result=True, time_limit=120, soft_time_limit=100
)
def sessions_clear() -> int:
    """Delete expired sessions (a nightly beat job on the database session store)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(
    name="crm.queued_tasks_dispatch", ignore_result=True, time_limit=120, soft_time_limit=100
)
def queued_tasks_dispatch() -> int:
    """Send what the outbox kept while the broker was down (crm.core.queue; a beat job)."""
    return queue.queued_tasks_dispatch()


@shared_task(
    name="crm.submitted_forms_clear", ignore_result=True, time_limit=120, soft_time_limit=100
)
def submitted_forms_clear() -> int:
    """Forget the one-time tokens of forms sent more than a day ago (crm.core.submit_once)."""
    return submit_once.submitted_forms_clear()


@shared_task(name="crm.export_build", ignore_result=True, time_limit=1800, soft_time_limit=1700)
def export_build(
    user_id: int, name: str, query: str, fmt: str, job: str | None = None
) -> str | None:
    """Write a large list export to a file and email its link, once per job (crm.core.exports)."""
    return exports.export_build(user_id=user_id, name=name, query=query, fmt=fmt, job=job)


# A minute is enough for one POST (a 10 s timeout per step); webhooks.LEASE is longer than this.
@shared_task(name="crm.webhook_deliver", ignore_result=True, time_limit=60, soft_time_limit=50)
def webhook_deliver(delivery_id: int) -> bool:
    """One attempt at a webhook delivery, if it is due and nobody else is sending it."""
    return webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="crm.webhooks_due", ignore_result=True, time_limit=120, soft_time_limit=100)
def webhooks_due() -> int:
    """Queue the webhook deliveries due for a retry or left by a lost task (a beat job)."""
    return webhooks.webhooks_due()


@shared_task(
    name="crm.webhook_events_prune", ignore_result=True, time_limit=900, soft_time_limit=840
)
def webhook_events_prune() -> int:
    """Forget the webhook events past their retention whose deliveries are over (nightly)."""
    return webhooks.webhook_events_prune()
