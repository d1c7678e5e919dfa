"""Celery tasks: lead routing. Thin: one service; running it twice routes each MQL once."""

from celery import shared_task

from opportunities.services import leads as services

__all__ = ["leads_route_task"]


@shared_task(
    name="opportunities.leads_route",
    ignore_result=True,
    acks_late=True,
    time_limit=120,
    soft_time_limit=100,
)
def leads_route_task() -> int:
    """Every minute: give each new MQL crossing a rep and a call task (idempotent)."""
    return services.leads_route()
