"""Celery tasks: quotes. Thin: take an id, call one service; running twice sends once."""

from smtplib import SMTPException

from celery import shared_task

from opportunities.services.quotes import quote_email

__all__ = ["quote_send"]


@shared_task(
    name="opportunities.quote_send",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def quote_send(quote_id: int) -> bool:
    """Email the quote version `quote_id` to its contact, unless it was already sent."""
    return quote_email(quote_id=quote_id)
