"""Queue a Celery task from a service: in the same transaction, by the task's name.

The one pattern of the project (README "Arquitectura"): a task takes ids and calls a service; a
service that needs work done in the background names the task (the `name=` of its `@shared_task`)
and calls `enqueue_on_commit`. The service module never imports the task module, so the two never
import each other (`.importlinter` holds it).

It is an outbox: the request is written as a `QueuedTask` row in the caller's transaction, so it
commits or rolls back with the change it belongs to, and is sent to the broker after the commit
(a worker only ever reads rows that exist), then deleted. If the broker cannot be reached (Redis
stopped or restarting) the page still answers and saves: the row stays, and the beat job
`crm.queued_tasks_dispatch` sends it when the broker is back. Tasks are idempotent (STYLE.md), so
the rare double send (the process dies between the send and the delete) is harmless.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from celery import current_app
from celery.app.task import Task
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError

from crm.core.models import QueuedTask

logger = logging.getLogger(__name__)

# What a broker that cannot be reached raises when publishing without retries: kombu wraps the
# transport's connection errors in OperationalError; the filesystem transport raises OSError.
BROKER_DOWN = (OperationalError, OSError)
# Rows younger than this are left to the on-commit send of the request that wrote them.
DISPATCH_AFTER = timedelta(seconds=30)
DISPATCH_BATCH = 200


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
    robust: bool = True,
) -> QueuedTask:
    """Queue `copies` runs of the task `name` with `args` once the current transaction commits.

    Outside a transaction the row is written and the task sent at once (autocommit). With the
    broker down the row waits for `queued_tasks_dispatch`; `robust=False` lets other errors of
    the send (not a broker outage) propagate to the caller, as tests of eager tasks want.
    """
    registered_task(name)  # a typo fails here, in the request, not in a worker at night
    not_before = timezone.now() + timedelta(seconds=countdown) if countdown else None
    row = QueuedTask.objects.create(
        name=name, args=list(args), copies=copies, not_before=not_before
    )
    transaction.on_commit(lambda: _send(row), robust=robust)
    return row


def _send(row: QueuedTask) -> bool:
    """Send one outbox row to the broker and delete it: False (the row kept) if the broker
    cannot be reached."""
    task = registered_task(row.name)
    countdown = None
    if row.not_before is not None:
        countdown = max(0.0, (row.not_before - timezone.now()).total_seconds()) or None
    sent = 0
    try:
        for _copy in range(row.copies):
            # No publish retries: a stopped broker answers at once and the request goes on.
            task.apply_async(args=list(row.args), countdown=countdown, retry=False)
            sent += 1
    except BROKER_DOWN as error:
        logger.warning("broker unreachable, %s kept in the outbox: %s", row.name, error)
        QueuedTask.objects.filter(pk=row.pk).update(
            copies=row.copies - sent, attempts=F("attempts") + 1, last_error=str(error)[:300]
        )
        return False
    QueuedTask.objects.filter(pk=row.pk).delete()
    return True


def queued_tasks_dispatch(*, now=None) -> int:
    """Send what the outbox still holds (the broker was down when its request committed).

    Rows are claimed with SKIP LOCKED on PostgreSQL, so two dispatchers never send one twice;
    the batch stops at the first broker failure (it is still down). Returns the rows sent.
    """
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                QueuedTask.objects.select_for_update(skip_locked=True)
                .filter(created_at__lt=now - DISPATCH_AFTER)
                .order_by("created_at", "pk")[:DISPATCH_BATCH]
            )
            for row in rows:
                if not _send(row):
                    return sent
                sent += 1
        if len(rows) < DISPATCH_BATCH:
            return sent
