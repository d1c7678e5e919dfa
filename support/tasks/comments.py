"""Celery tasks of the conversation. Thin: take an id, call one service; running twice sends
once (the comment's emailed_at is the ledger)."""

from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from support.services.comments import comment_replies_pending, comment_reply_email

__all__ = ["comment_replies_requeue", "comment_reply_send"]


@shared_task(
    name="support.comment_reply_send",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def comment_reply_send(comment_id: int) -> bool:
    """Email the public reply `comment_id` to the ticket's contact, unless already sent."""
    return comment_reply_email(comment_id=comment_id)


@shared_task(name="support.comment_replies_requeue", soft_time_limit=60, time_limit=90)
def comment_replies_requeue() -> int:
    """Periodic: wake a worker up for every recent reply a lost task left unsent."""
    pending = comment_replies_pending(now=timezone.now())
    for comment_id in pending:
        comment_reply_send.delay(comment_id)
    return len(pending)
