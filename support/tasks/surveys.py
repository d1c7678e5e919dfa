"""Celery tasks: satisfaction surveys. Thin: take ids, call one service; running twice is
harmless (a survey is stamped sent_at under a row lock and never sent again)."""

from smtplib import SMTPException

from celery import shared_task

from support.services import surveys as services

__all__ = [
    "nps_round_dispatch_task",
    "satisfaction_refresh_aged_task",
    "survey_send_task",
    "surveys_send_batch_task",
    "surveys_send_pending_task",
]

TRANSIENT = (SMTPException, ConnectionError, TimeoutError)


@shared_task(
    name="support.survey_send",
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def survey_send_task(survey_id: int) -> bool:
    """Email one survey (the CSAT after a ticket is resolved), unless already sent."""
    return services.survey_send(survey_id=survey_id)


@shared_task(
    name="support.surveys_send_batch",
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def surveys_send_batch_task(survey_ids: list[int]) -> int:
    """Email a batch of an NPS round's surveys; those already sent are skipped."""
    return services.surveys_send_batch(survey_ids=survey_ids)


@shared_task(
    name="support.nps_round_dispatch",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=180,
)
def nps_round_dispatch_task(round_id: int) -> int:
    """Split the round's unsent surveys into batches and queue them."""
    return services.nps_round_dispatch(round_id=round_id)


@shared_task(
    name="support.surveys_send_pending",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=180,
)
def surveys_send_pending_task() -> int:
    """Every few minutes: re-queue the surveys a lost task left unsent."""
    return services.surveys_send_pending()


@shared_task(
    name="support.satisfaction_refresh_aged",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=540,
    time_limit=600,
)
def satisfaction_refresh_aged_task() -> int:
    """Nightly: recompute the class of contacts whose CSAT answers left the 12 months."""
    return services.satisfaction_refresh_aged()
