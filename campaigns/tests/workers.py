"""What the tests with real Celery workers share (campaigns/tests/test_sending_faults.py and
the marketing journey in crm/top/tests/browser/): whether they can run here, and the sending
services queueing their tasks, by name, to the workers' own Redis database. The workers'
database URL is crm.core.tests.processes.database_url."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection, transaction

from campaigns.services import sending

CELERY = Path(sys.executable).with_name("celery")
# The names of the tasks the sending services queue, by their short key.
TASKS = sending._TASKS


def skip_reason(redis_url: str) -> str:
    """Why real workers cannot run here ("" when they can)."""
    if connection.vendor != "postgresql":
        return "los workers reales necesitan PostgreSQL (DATABASE_URL)"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis to send through
        return f"Redis no responde en {redis_url}: {exc}"
    if not CELERY.exists():
        return f"no se encuentra el ejecutable de Celery en {CELERY}"
    return ""


def broker_app(name: str, redis_url: str) -> Celery:
    """A Celery app of the test that publishes by task name to the workers' Redis."""
    app = Celery(name, broker=redis_url, set_as_current=False)
    app.conf.task_serializer = "json"
    app.conf.accept_content = ["json"]
    return app


def enqueue_through(app: Celery, monkeypatch) -> None:
    """The services of this process queue their tasks to `app`'s broker, after the commit."""

    def enqueue(task_name, campaign_id, *, count=1, countdown=None):
        def send():
            for _i in range(count):
                app.send_task(TASKS[task_name], args=[campaign_id], countdown=countdown)

        transaction.on_commit(send)

    monkeypatch.setattr(sending, "_on_commit_enqueue", enqueue)


def redis_database(redis_url: str, label: str) -> Iterator:
    """The workers' own Redis database, emptied before and after (a fixture's body); skips,
    printing why, where real workers cannot run."""
    reason = skip_reason(redis_url)
    if reason:
        print(f"SKIP {label}: {reason}")
        pytest.skip(reason)
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
