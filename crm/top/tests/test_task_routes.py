"""Queues per kind of work (README "Producción"): every task of the project lands on a queue that
the workers of Procfile and Procfile.dev consume, and each kind where it was meant to go.

A task routed to a queue no worker reads is never run, and nothing says so: these tests are the
alarm. Routing is Celery's own (CELERY_TASK_ROUTES), asked as a publisher asks it."""

import re
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _project_tasks() -> list[str]:
    current_app.loader.import_default_modules()  # every app's tasks, as a worker loads them
    apps = ("crm.", "accounts.", "contacts.", "opportunities.", "campaigns.", "support.")
    return sorted(name for name in current_app.tasks if name.startswith(apps))


def _queue_of(name: str) -> str:
    return current_app.amqp.router.route({}, name)["queue"].name


def _consumed(procfile: str) -> set[str]:
    """The queues the `worker:` line of a Procfile names with -Q (all declared ones without)."""
    line = next(
        line for line in (ROOT / procfile).read_text().splitlines() if line.startswith("worker:")
    )
    found = re.search(r"(?:-Q|--queues)[ =](\S+)", line)
    if found is None:
        return {queue.name for queue in settings.CELERY_TASK_QUEUES}
    return set(found.group(1).split(","))


def test_the_project_has_tasks_to_route():
    assert len(_project_tasks()) > 20


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev"])
def test_every_task_lands_on_a_queue_the_worker_consumes(procfile):
    consumed = _consumed(procfile)
    lost = {name: _queue_of(name) for name in _project_tasks() if _queue_of(name) not in consumed}
    assert lost == {}, f"{procfile}: its worker reads {sorted(consumed)}"


def test_the_workers_consume_every_declared_queue_and_the_default_one():
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert declared == {"celery", "mail", "reports", "imports"}
    assert current_app.conf.task_default_queue == "celery"
    assert _consumed("Procfile") == declared
    assert _consumed("Procfile.dev") == declared


def test_every_route_names_a_task_that_exists():
    """A renamed task would silently fall back to the default queue."""
    assert set(settings.CELERY_TASK_ROUTES) - set(_project_tasks()) == set()


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("campaigns.campaign_send_batch", "mail"),
        ("campaigns.automations_send", "mail"),
        ("support.comment_reply_send", "mail"),
        ("support.survey_send", "mail"),
        ("opportunities.activity_reminders_send", "mail"),
        ("campaigns.campaign_stats_refresh", "reports"),
        ("opportunities.account_tiers_compute", "reports"),
        ("campaigns.contacts_score_nightly", "reports"),
        ("crm.export_build", "reports"),
        ("contacts.import_run", "imports"),
        ("contacts.imports_recover", "imports"),
        ("crm.queued_tasks_dispatch", "celery"),
        ("campaigns.campaigns_reconcile", "celery"),
        ("support.sla_check", "celery"),
        ("opportunities.leads_route", "celery"),
    ],
)
def test_each_kind_of_work_lands_on_its_queue(name, queue):
    assert name in _project_tasks()
    assert _queue_of(name) == queue


def test_a_message_published_for_a_mail_task_carries_the_mail_routing_key():
    """What the broker is given, not only what the router says (the Redis list is the key)."""
    task = current_app.tasks["support.comment_reply_send"]
    options = current_app.amqp.router.route({}, task.name, (1,), {})
    assert options["queue"].routing_key == "mail"
    assert options["queue"].exchange.name == "mail"


def _refused(name: str) -> bool:
    task = current_app.tasks[name]
    return bool(task.soft_time_limit and task.time_limit and task.soft_time_limit > task.time_limit)


def test_every_task_can_be_published():
    """Celery refuses to publish a task whose soft time limit passes its hard one (the global
    CELERY_TASK_SOFT_TIME_LIMIT under a task's own smaller time_limit): its beat job would
    never run. contacts.imports_recover was such a task."""
    assert {name for name in _project_tasks() if _refused(name)} == set()
