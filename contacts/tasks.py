"""Celery tasks of contacts: take ids, call one service."""

from celery import shared_task

from contacts import import_drafts
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
    """Run a pending import, or resume one a killed worker left en curso
    (contacts.imports.runner.import_execute; a second run is a no-op)."""
    runner.import_execute(run_id)


@shared_task(
    name="contacts.imports_recover", ignore_result=True, time_limit=120, soft_time_limit=100
)
def imports_recover() -> int:
    """The beat job: queue again the imports a lost worker or message left behind."""
    return runner.import_recover()


@shared_task(name="contacts.import_drafts_clear", ignore_result=True, time_limit=300)
def import_drafts_clear() -> int:
    """The nightly job: remove the uploads whose import was never started (a day old)."""
    return import_drafts.import_drafts_clear()
