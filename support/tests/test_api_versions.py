"""If-Match on a ticket's PATCH: compared under the row lock the request holds, and handed to
the first service that runs, which checks it again under its own lock. A save that slips in
after the comparison answers 412 and nothing of the PATCH is written; a PATCH that edits,
assigns and moves the ticket at once is checked once, against the ticket as the request found
it, so the later services do not trip on the earlier one's change."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from crm.celery import app
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.api import TicketViewSet
from support.models import StatusChange, Ticket
from support.services.tickets import ticket_create

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def api(user) -> APIClient:
    _token, key = token_create(user=user, name="Centralita", scopes=SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def ticket(support, rep):
    return ticket_create(
        actor=support,
        account=AccountFactory(owner=rep),
        subject="La impresora no enciende",
        category=Ticket.Category.WARRANTY,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )


def detail(ticket) -> str:
    return reverse("api:ticket-detail", args=[ticket.pk])


def race(monkeypatch, ticket, **saved) -> None:
    """Another client saves `saved` right after the viewset compared If-Match, before the
    service locks the ticket again."""
    checked = TicketViewSet.checked_version

    def racing(self, instance):
        version = checked(self, instance)
        Ticket.objects.filter(pk=ticket.pk).update(**saved)
        return version

    monkeypatch.setattr(TicketViewSet, "checked_version", racing)


def _is_412(response) -> None:
    assert response.status_code == 412, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "El registro cambió desde que lo leíste"


@pytest.mark.parametrize(
    ("change", "saved"),
    [
        ({"priority": "alta"}, {"priority": "urgente"}),  # ticket_update checks it
        ({"assignee": "me"}, {"status": "abierto"}),  # ticket_assign checks it
        ({"status": "en_espera"}, {"assignee_id": "other"}),  # ticket_transition checks it
    ],
)
def test_a_save_between_the_check_and_the_lock_answers_412_and_writes_nothing(
    monkeypatch, support, ticket, change, saved
):
    other = UserFactory(role=Role.SOPORTE)
    change = {k: support.pk if v == "me" else v for k, v in change.items()}
    saved = {k: other.pk if v == "other" else v for k, v in saved.items()}
    client = api(support)
    etag = client.get(detail(ticket))["ETag"]
    race(monkeypatch, ticket, **saved)

    _is_412(client.patch(detail(ticket), change, format="json", HTTP_IF_MATCH=etag))

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.assignee, ticket.status) == ("media", None, "nuevo")
    assert ticket.status_changes.count() == 1


def test_edit_assign_and_move_in_one_patch_are_checked_once(support, ticket):
    client = api(support)
    etag = client.get(detail(ticket))["ETag"]

    changed = client.patch(
        detail(ticket),
        {
            "priority": "alta",
            "assignee": support.pk,
            "status": "resuelto",
            "resolution": "Se cambió el fusor.",
            "note": "Visita técnica",
        },
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert changed.status_code == 200, changed.json()
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.assignee, ticket.status) == ("alta", support, "resuelto")
    assert ticket.resolution == "Se cambió el fusor."
    assert StatusChange.objects.filter(ticket=ticket, to_status="resuelto", note="Visita técnica")
    # The ETag read before is stale now: the next write with it is refused.
    _is_412(client.patch(detail(ticket), {"priority": "baja"}, format="json", HTTP_IF_MATCH=etag))
