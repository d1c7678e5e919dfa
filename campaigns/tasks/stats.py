"""Celery tasks of the results' rollup. Thin: take a campaign id, call one service. Running one
twice is harmless (the refresh replaces the campaign's rows; an older one leaves newer alone)."""

from celery import shared_task

from campaigns.services import stats as services

__all__ = ["campaign_stats_refresh", "campaigns_stats_refresh_live"]


@shared_task(
    name="campaigns.campaign_stats_refresh", acks_late=True, soft_time_limit=240, time_limit=300
)
def campaign_stats_refresh(campaign_id: int) -> int:
    """Recompute one campaign's stored figures."""
    return services.campaign_stats_refresh(campaign_id=campaign_id)


@shared_task(name="campaigns.campaigns_stats_refresh_live", soft_time_limit=60, time_limit=90)
def campaigns_stats_refresh_live() -> list[int]:
    """Periodic: queue the refresh of every campaign whose figures can still change."""
    return services.campaigns_stats_refresh_live()
