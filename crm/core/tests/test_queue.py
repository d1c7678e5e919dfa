"""The outbox of crm.core.queue: a task is queued with the transaction that asked for it, sent
after the commit, kept when the broker cannot be reached and sent by the dispatcher later."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from crm.core import queue
from crm.core.models import QueuedTask
from crm.core.queue import enqueue_on_commit, queued_tasks_dispatch
from crm.core.tasks import sessions_clear

NAME = "crm.tasks.sessions_clear"


class Broker:
    """Stands in for the broker at the task's `apply_async`: records what was published, or
    fails as kombu does when Redis is stopped."""

    def __init__(self):
        self.published = []
        self.down = False

    def apply_async(self, args, **options):
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.append((args, options))


@pytest.fixture
def broker(monkeypatch):
    broker = Broker()
    monkeypatch.setattr(sessions_clear, "apply_async", broker.apply_async)
    return broker


def _age(seconds: int) -> None:
    QueuedTask.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))


@pytest.mark.django_db
def test_the_task_is_written_with_the_transaction_and_sent_after_the_commit(
    broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(NAME, [7], countdown=30, copies=2)
        assert broker.published == []  # not before the commit
        assert QueuedTask.objects.get().args == [7]  # but written with the change
    assert [args for args, _options in broker.published] == [[7], [7]]
    assert all(25 < options["countdown"] <= 30 for _args, options in broker.published)
    assert all(options["retry"] is False for _args, options in broker.published)
    assert not QueuedTask.objects.exists()  # sent: the outbox is empty


@pytest.mark.django_db
def test_with_the_broker_down_the_row_stays_and_the_dispatcher_sends_it_once_back(
    broker, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(NAME, [1])
    row = QueuedTask.objects.get()
    assert (row.attempts, row.copies) == (1, 1)
    assert "Connection refused" in row.last_error
    assert queued_tasks_dispatch() == 0  # too young: its own request may still be sending it
    _age(60)
    assert queued_tasks_dispatch() == 0  # still down: kept, tried again
    assert QueuedTask.objects.get().attempts == 2
    broker.down = False
    assert queued_tasks_dispatch() == 1
    assert queued_tasks_dispatch() == 0
    assert broker.published == [([1], {"countdown": None, "retry": False})]
    assert not QueuedTask.objects.exists()


@pytest.mark.django_db
def test_a_countdown_that_passed_while_the_broker_was_down_runs_at_once(
    broker, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(NAME, [3], countdown=10)
    assert QueuedTask.objects.get().attempts == 1
    _age(60)
    QueuedTask.objects.update(not_before=timezone.now() - timedelta(seconds=50))
    broker.down = False
    assert queued_tasks_dispatch() == 1
    assert broker.published == [([3], {"countdown": None, "retry": False})]


@pytest.mark.django_db
def test_copies_sent_before_the_broker_fell_are_not_sent_again(
    broker, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []

    def second_copy_fails(args, **options):
        calls.append(args)
        if len(calls) == 2:
            raise OperationalError("Connection reset by peer")

    monkeypatch.setattr(sessions_clear, "apply_async", second_copy_fails)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(NAME, [5], copies=3)
    assert QueuedTask.objects.get().copies == 2  # one went out; two still to send
    monkeypatch.setattr(sessions_clear, "apply_async", broker.apply_async)
    _age(60)
    assert queued_tasks_dispatch() == 1
    assert [args for args, _options in broker.published] == [[5], [5]]


@pytest.mark.django_db
def test_the_dispatcher_works_in_batches_in_order(
    broker, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(queue, "DISPATCH_BATCH", 2)
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            enqueue_on_commit(NAME, [n])
    assert QueuedTask.objects.filter(attempts=1).count() == 5
    _age(60)
    broker.down = False
    assert queued_tasks_dispatch() == 5
    assert [args for args, _options in broker.published] == [[0], [1], [2], [3], [4]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.transactional
def test_a_rolled_back_transaction_queues_nothing(broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(NAME, [1])
        raise RuntimeError("the service refused")
    assert broker.published == []
    assert not QueuedTask.objects.exists()
    enqueue_on_commit(NAME, [2])  # autocommit: written and sent at once
    assert broker.published == [([2], {"countdown": None, "retry": False})]
    assert not QueuedTask.objects.exists()


@pytest.mark.django_db
def test_an_unknown_task_name_fails_in_the_request_and_writes_nothing():
    with pytest.raises(KeyError):
        enqueue_on_commit("crm.no_such_task", [1])
    assert not QueuedTask.objects.exists()
