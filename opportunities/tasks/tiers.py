"""Celery tasks: tiers (the nightly A/B/C/D classification)."""

from celery import shared_task

from opportunities.services import tiers as tier_services

__all__: list[str] = ["account_tiers_compute"]


@shared_task(
    name="opportunities.account_tiers_compute",
    ignore_result=True,
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def account_tiers_compute() -> dict:
    """Nightly (e.g. 02:30): rank the accounts and store the tiers that changed."""
    return tier_services.account_tiers_compute()
