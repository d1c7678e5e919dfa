"""The house of README "Arquitectura", held by tests rather than by memory.

- `.importlinter`'s contracts: each floor imports only the floors below it (crm.core, accounts,
  contacts, opportunities, support, campaigns, crm.top), nothing imports the root URLconf or the
  settings module, and no service imports a task module.
- Every task a service queues by name (crm.core.queue) and every beat job is a registered task,
  so a typo fails here and not in a worker at night.
"""

import ast
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from importlinter.cli import lint_imports

from crm.core.queue import registered_task

ROOT = Path(__file__).resolve().parents[2]
APPS = ("crm", "accounts", "contacts", "opportunities", "campaigns", "support")


def test_the_import_contracts_hold(capsys):
    code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "3 kept, 0 broken" in report


def _queued_task_names() -> set[tuple[str, str]]:
    """(file, name) of every literal task name given to enqueue_on_commit or kept in a
    service's table of task names."""
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "enqueue_on_commit"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.add((str(path.relative_to(ROOT)), node.args[0].value))
                if isinstance(node, ast.Assign) and any(
                    getattr(target, "id", "") == "_TASKS" for target in node.targets
                ):
                    for value in node.value.values:
                        found.add((str(path.relative_to(ROOT)), value.value))
    return found


def test_every_task_a_service_queues_by_name_is_registered():
    names = _queued_task_names()
    assert len(names) >= 9  # quotes, comments, surveys (3), campaigns (4)
    unknown = []
    for path, name in sorted(names):
        try:
            registered_task(name)
        except KeyError:
            unknown.append(f"{path}: {name}")
    assert not unknown


def test_every_beat_job_is_a_registered_task():
    current_app.autodiscover_tasks(force=True)
    jobs = {job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()}
    assert jobs
    assert not jobs - set(current_app.tasks)


def test_an_unknown_task_name_fails_at_once():
    with pytest.raises(KeyError):
        registered_task("campaigns.no_such_task")


def test_the_ground_keeps_the_label_its_data_and_migrations_were_stored_under():
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.db.migrations.loader import MigrationLoader

    assert apps.get_app_config("crm").name == "crm.core"
    assert get_user_model()._meta.label == "crm.User"
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert ("crm", "0001_initial") in loader.disk_migrations
    assert loader.disk_migrations["crm", "0001_initial"].__module__.startswith(
        "crm.core.migrations"
    )
