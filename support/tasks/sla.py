"""Celery task of the SLA: the beat job that warns, escalates and flags breaches."""

from celery import shared_task
from django.utils import timezone

from support.services import sla as services

__all__ = ["sla_check_task"]


@shared_task(name="support.sla_check", ignore_result=True, time_limit=240, soft_time_limit=200)
def sla_check_task() -> dict[str, int]:
    """Every five minutes: "vence pronto" warnings, breaches and escalations, each sent once."""
    return services.sla_check(now=timezone.now())
