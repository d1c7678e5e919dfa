"""Celery tasks of the lead score (campaigns.scoring). Thin: take ids, call one service. Running
one twice is harmless: a score equal to the stored one writes nothing."""

from celery import shared_task

from campaigns import scoring
from contacts.models import ScoreChange

__all__ = ["contact_score_recompute", "contacts_score_nightly"]


@shared_task(
    name="campaigns.contact_score_recompute",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
)
def contact_score_recompute(contact_id: int) -> None:
    """After an open, a click or a form: the contact's score now."""
    scoring.contact_score_recompute(contact_id)


@shared_task(
    name="campaigns.contacts_score_nightly",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=1700,
    time_limit=1800,
)
def contacts_score_nightly(reason: str = ScoreChange.Reason.NIGHTLY) -> int:
    """The beat job (and "Recalcular ahora", with reason "reglas"): every contact's score."""
    if reason not in ScoreChange.Reason.values:
        reason = ScoreChange.Reason.NIGHTLY
    return scoring.contacts_score_nightly(reason=reason)
