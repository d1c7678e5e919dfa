"""The delivery log's retention: old events go once every delivery of theirs is over."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from crm.core import tasks
from crm.core.models import Role, WebhookDelivery, WebhookEndpoint, WebhookEvent
from crm.core.tests.factories import UserFactory
from crm.core.webhooks import webhook_events_prune

Status = WebhookDelivery.Status


@pytest.fixture
def endpoints(db):
    admin = UserFactory(role=Role.ADMINISTRADOR)
    return [
        WebhookEndpoint.objects.create(
            url=f"https://erp{n}.ejemplo.mx/hooks", events=["contact.created"], created_by=admin
        )
        for n in (1, 2)
    ]


def _event(endpoints, *, days_ago: int, statuses: list[str]) -> WebhookEvent:
    event = WebhookEvent.objects.create(type="contact.created", payload={"contact_id": 7})
    WebhookEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    for endpoint, status in zip(endpoints, statuses, strict=False):
        WebhookDelivery.objects.create(endpoint=endpoint, event=event, status=status)
    return event


def test_old_events_whose_deliveries_are_over_are_removed_with_their_deliveries(endpoints):
    delivered = _event(endpoints, days_ago=31, statuses=[Status.DELIVERED, Status.DELIVERED])
    abandoned = _event(endpoints, days_ago=45, statuses=[Status.DELIVERED, Status.ABANDONED])

    assert webhook_events_prune() == 2

    assert not WebhookEvent.objects.filter(pk__in=[delivered.pk, abandoned.pk]).exists()
    assert not WebhookDelivery.objects.exists()


def test_an_event_with_a_delivery_still_open_is_kept_whatever_its_age(endpoints):
    pending = _event(endpoints, days_ago=90, statuses=[Status.DELIVERED, Status.PENDING])
    retrying = _event(endpoints, days_ago=90, statuses=[Status.FAILED, Status.DELIVERED])
    endpoints[1].active = False  # a disabled endpoint's deliveries wait for it to come back
    endpoints[1].save()

    assert webhook_events_prune() == 0

    assert WebhookEvent.objects.filter(pk__in=[pending.pk, retrying.pk]).count() == 2
    assert WebhookDelivery.objects.count() == 4


def test_events_younger_than_the_retention_stay_in_the_log(endpoints):
    young = _event(endpoints, days_ago=29, statuses=[Status.DELIVERED])

    assert webhook_events_prune() == 0
    assert WebhookEvent.objects.filter(pk=young.pk).exists()

    with override_settings(WEBHOOK_RETENTION_DAYS=7):
        assert webhook_events_prune() == 1
    assert not WebhookEvent.objects.filter(pk=young.pk).exists()


def test_pruning_runs_in_batches_and_twice_is_harmless(endpoints):
    for _ in range(5):
        _event(endpoints, days_ago=40, statuses=[Status.DELIVERED, Status.ABANDONED])
    kept = _event(endpoints, days_ago=40, statuses=[Status.PENDING])

    assert webhook_events_prune(batch=2) == 5
    assert tasks.webhook_events_prune() == 0

    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [kept.pk]
