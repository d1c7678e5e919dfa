from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


# The name it had before crm/ was split: stored beat entries and queued messages use it.
@shared_task(
    name="crm.tasks.sessions_clear", ignore_result=True, time_limit=120, soft_time_limit=100
)
def sessions_clear() -> int:
    """Delete expired sessions (a nightly beat job on the database session store)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
