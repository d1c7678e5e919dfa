"""Celery tasks of contacts: take ids, call one service."""

from celery import shared_task

from contacts.imports import runner


@shared_task(
    name="contacts.import_run",
    ignore_result=True,
    acks_late=True,
    # 100,000 rows take some 20 s; a file of the largest size accepted, a few minutes.
    time_limit=3600,
    soft_time_limit=3500,
)
def import_run(run_id: int) -> None:
    """Run a pending import (contacts.imports.runner.import_execute; a second run is a no-op)."""
    runner.import_execute(run_id)
