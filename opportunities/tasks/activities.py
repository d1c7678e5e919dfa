"""Celery tasks: activities (reminders and the weekly visit plan). Thin: one service each."""

from celery import shared_task

from opportunities.services import activities as services

__all__ = ["activity_reminders_send_task", "visits_plan_weekly_task"]


@shared_task(
    name="opportunities.activity_reminders_send",
    ignore_result=True,
    time_limit=240,
    soft_time_limit=200,
)
def activity_reminders_send_task() -> int:
    """Every few minutes: the reminders of activities starting soon, each sent once."""
    return services.activity_reminders_send()


@shared_task(
    name="opportunities.visits_plan_weekly",
    ignore_result=True,
    time_limit=1800,
    soft_time_limit=1700,
)
def visits_plan_weekly_task() -> int:
    """Weekly: plan the visits the cadence asks for in the coming week (idempotent)."""
    return services.visits_plan_weekly()
