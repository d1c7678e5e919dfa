from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from crm.celery import app
from crm.core.tasks import sessions_clear

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_sessions_clear_deletes_expired_sessions_once(eager):
    Session.objects.create(
        session_key="caducada", session_data="", expire_date=timezone.now() - timedelta(days=1)
    )
    Session.objects.create(
        session_key="vigente", session_data="", expire_date=timezone.now() + timedelta(days=1)
    )
    # Sent as the worker would receive it (apply_async checks the time limits), and twice.
    sessions_clear.delay()
    sessions_clear.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["vigente"]


def test_every_periodic_job_names_a_registered_task():
    from django.conf import settings

    app.loader.import_default_modules()
    for job in settings.CELERY_BEAT_SCHEDULE.values():
        assert job["task"] in app.tasks, job["task"]
