"""A run whose worker died (left en curso) is resumed from its last committed batch, exactly; a
worker taken for dead writes nothing more; the beat job finds the abandoned and the lost."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from contacts.imports import runner
from contacts.imports.models import ImportedRecord, ImportRun
from contacts.imports.rows import DUPLICATE, ImportOptions
from contacts.models import Contact
from contacts.tests.imports import media  # noqa: F401
from crm.core.models import QueuedTask
from crm.core.queue import registered_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

MAPPING = {"Nombre": "first_name", "Correo": "email"}


class Killed(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, not even `except`."""


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _file() -> bytes:
    lines = [f"N{i},n{i}@x.mx" for i in range(7)]
    lines[5] = "Otra vez,N0@X.MX"  # row 7 repeats row 2, in another batch
    return _csv("Nombre,Correo", *lines)


def _create(rep, data=None) -> ImportRun:
    return runner.import_create(
        actor=rep,
        file_name="a.csv",
        data=_file() if data is None else data,
        options=ImportOptions(owner_id=rep.pk),
        mapping=MAPPING,
    )


def _kill_after(monkeypatch, batches: int) -> None:
    real = runner._Writer.write
    written = []

    def write(self, rows):
        if len(written) == batches:
            raise Killed
        real(self, rows)
        written.append(rows)

    monkeypatch.setattr(runner._Writer, "write", write)


def _age(run: ImportRun, minutes: int = 11) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        progress_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_killed_run_is_resumed_from_its_last_batch_exactly(rep, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    run = _create(rep)
    _kill_after(monkeypatch, 2)
    with pytest.raises(Killed):
        runner.import_execute(run.pk)
    run.refresh_from_db()
    assert (run.status, run.rows_done, run.created, run.attempts) == ("en_curso", 4, 4, 1)
    monkeypatch.undo()
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)

    # Still fresh: a second delivery of the task leaves it to the worker thought alive.
    assert runner.import_execute(run.pk).rows_done == 4
    _age(run)
    run = runner.import_execute(run.pk)

    assert run.status == ImportRun.Status.DONE
    assert run.attempts == 2
    assert run.counts_line == "creados 6, actualizados 0, duplicados 1, errores 0"
    assert (run.rows_done, run.rows_total) == (7, 7)
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        f"n{i}@x.mx" for i in (0, 1, 2, 3, 4, 6)
    ]
    # Undone as one run, whatever the number of workers that wrote it.
    runner.import_undo(actor=rep, run=run)
    assert not Contact.objects.exists()


def test_a_resumed_run_still_names_the_repeated_row_of_an_earlier_batch(rep, monkeypatch):
    """The batches written before the crash are read again (not written) so that a later row
    repeating one of them is "Repite la fila 2", as in an uninterrupted run."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    run = _create(rep)
    _kill_after(monkeypatch, 2)
    with pytest.raises(Killed):
        runner.import_execute(run.pk)
    monkeypatch.undo()
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    seen = []
    real = runner.Classifier.classify

    def classify(self, batch):
        rows = real(self, batch)
        seen.extend(rows)
        return rows

    monkeypatch.setattr(runner.Classifier, "classify", classify)
    _age(run)
    runner.import_execute(run.pk)
    assert [row.line for row in seen] == [6, 7, 8]  # only the rows not written before
    repeated = next(row for row in seen if row.line == 7)
    assert (repeated.status, repeated.duplicate_of_line) == (DUPLICATE, 2)


def test_a_worker_taken_for_dead_writes_nothing_more(rep, monkeypatch):
    """It wakes up after another worker resumed its run: its batch is rolled back and it stops;
    the run belongs to the other."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    run = _create(rep)
    real = runner.Classifier.classify

    def classify_slowly(self, batch):
        rows = real(self, batch)
        if batch[0][0] == 4:  # the second batch: meanwhile another worker claimed the run
            ImportRun.objects.filter(pk=run.pk).update(attempts=2)
        return rows

    monkeypatch.setattr(runner.Classifier, "classify", classify_slowly)
    run = runner.import_execute(run.pk)
    assert (run.status, run.rows_done, run.created) == ("en_curso", 2, 2)
    assert Contact.objects.count() == 2


def test_a_run_that_keeps_dying_is_given_up(rep):
    run = _create(rep)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, attempts=runner.MAX_ATTEMPTS
    )
    _age(run)
    run = runner.import_execute(run.pk)
    assert run.status == ImportRun.Status.FAILED
    assert "se interrumpió" in run.error_message
    assert not Contact.objects.exists()


def test_the_beat_job_queues_the_abandoned_and_the_lost(rep):
    fresh_running, stale_running, fresh_pending, lost_pending, done = (
        _create(rep, _csv("Nombre", "Ana")) for _ in range(5)
    )
    now = timezone.now()
    ImportRun.objects.filter(pk__in=[fresh_running.pk, stale_running.pk]).update(
        status=ImportRun.Status.RUNNING, progress_at=now
    )
    _age(stale_running)
    ImportRun.objects.filter(pk=lost_pending.pk).update(created_at=now - timedelta(minutes=30))
    ImportRun.objects.filter(pk=done.pk).update(
        status=ImportRun.Status.DONE, progress_at=now - timedelta(days=1)
    )
    QueuedTask.objects.all().delete()

    assert runner.import_recover() == 2
    queued = sorted(task.args[0] for task in QueuedTask.objects.filter(name="contacts.import_run"))
    assert queued == sorted([stale_running.pk, lost_pending.pk])


def test_the_recovery_task_is_registered_and_scheduled(rep):
    run = _create(rep, _csv("Nombre", "Ana"))
    ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.RUNNING)
    _age(run)
    registered_task("contacts.imports_recover").apply()
    assert QueuedTask.objects.filter(name="contacts.import_run", args=[run.pk]).exists()
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert any(job["task"] == "contacts.imports_recover" for job in schedule.values())


def test_a_batch_is_one_record_of_what_it_created(rep, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 3)
    run = runner.import_execute(_create(rep).pk)
    created = ImportedRecord.objects.filter(run=run, action=ImportedRecord.Action.CREATED)
    assert created.count() == 3  # batches of 3, 3 and 1 rows, one of them a repeat
    assert sorted(pk for record in created for pk in record.ids) == sorted(
        Contact.objects.values_list("pk", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_batches_are_looked_up_ahead_alike(rep, monkeypatch):
    """On PostgreSQL, outside a transaction, a thread looks the next batches up while the run
    writes: an existing contact is still a duplicate, a row repeating a row of a batch not yet
    written is still "Repite la fila"."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    existing = Contact.objects.create(owner=rep, first_name="Ya", email="n3@x.mx")
    run = runner.import_execute(_create(rep).pk)
    assert run.counts_line == "creados 5, actualizados 0, duplicados 2, errores 0"
    assert Contact.objects.filter(email="n3@x.mx").get() == existing
