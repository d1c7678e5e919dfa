from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def sessions_clear() -> int:
    """Delete expired sessions (a nightly beat job on the database session store)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
