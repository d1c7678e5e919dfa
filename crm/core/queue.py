"""Queue a Celery task from a service: after the commit, by the task's name.

The one pattern of the project (README "Arquitectura"): a task takes ids and calls a service; a
service that needs work done in the background names the task (the `name=` of its `@shared_task`)
and this module queues it once the transaction commits. The service module never imports the
task module, so the two never import each other (`.importlinter` holds it), and a rolled-back
transaction queues nothing: the worker only ever reads rows that exist.
"""

from collections.abc import Sequence

from celery import current_app
from celery.app.task import Task
from django.db import transaction


def registered_task(name: str) -> Task:
    """The task registered under `name`, discovering every app's `tasks` package if need be.

    A worker imports them all when it starts; a web process only has those its code imported.
    An unknown name raises KeyError at once (a test checks every name the services use).
    """
    tasks = current_app.tasks
    if name not in tasks:
        current_app.autodiscover_tasks(force=True)
    return tasks[name]


def enqueue_on_commit(
    name: str,
    args: Sequence = (),
    *,
    countdown: float | None = None,
    copies: int = 1,
    robust: bool = False,
) -> None:
    """Queue `copies` runs of the task `name` with `args` when the current transaction commits.

    Outside a transaction it is queued at once (Django runs on-commit callbacks immediately in
    autocommit). `robust=True` keeps a broker error from failing the request that committed.
    """
    task = registered_task(name)

    def send() -> None:
        for _copy in range(copies):
            task.apply_async(args=list(args), countdown=countdown)

    transaction.on_commit(send, robust=robust)
