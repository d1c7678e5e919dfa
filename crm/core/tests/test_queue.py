import pytest
from django.db import transaction

from crm.core.queue import enqueue_on_commit
from crm.core.tasks import sessions_clear


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(
        sessions_clear, "apply_async", lambda args, **options: calls.append((args, options))
    )
    return calls


@pytest.mark.django_db
def test_the_task_is_queued_after_the_commit_only(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("crm.tasks.sessions_clear", [7], countdown=30, copies=2)
        assert queued == []  # not before the commit
    assert queued == [([7], {"countdown": 30})] * 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.transactional
def test_a_rolled_back_transaction_queues_nothing(queued):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("crm.tasks.sessions_clear", [1])
        raise RuntimeError("the service refused")
    assert queued == []
    enqueue_on_commit("crm.tasks.sessions_clear", [2])  # autocommit: at once
    assert queued == [([2], {"countdown": None})]
