"""Celery task of sign-up forms: email a submission's confirmation link, once."""

from celery import shared_task

from campaigns.services import signup

__all__ = ["signup_confirmation_send"]


@shared_task(
    name="campaigns.signup_confirmation_send",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=60,
)
def signup_confirmation_send(submission_id: int) -> bool:
    return signup.signup_confirmation_send(submission_id=submission_id)
