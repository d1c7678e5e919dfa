"""The version a caller read a ticket at, checked by the services under the row lock: an
assignment or a status move of a ticket changed meanwhile is refused (StaleEdit) and writes
nothing; the current version goes through; no version (the pages) checks nothing."""

import pytest

from accounts.tests.factories import AccountFactory
from crm.core.concurrency import StaleEdit, version_token
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.models import StatusChange, Ticket
from support.services.tickets import (
    UPDATE_FIELDS,
    VERSION_FIELDS,
    ticket_assign,
    ticket_create,
    ticket_transition,
    ticket_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(support, rep):
    created = ticket_create(
        actor=support,
        account=AccountFactory(owner=rep),
        subject="No llega el pedido",
        category=Ticket.Category.INCIDENT,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )
    return Ticket.objects.get(pk=created.pk)  # as a reader has it


def _version(ticket: Ticket, fields=VERSION_FIELDS) -> str:
    return version_token(Ticket.objects.get(pk=ticket.pk), fields)


def test_a_stale_assignment_is_refused_and_writes_nothing(support, ticket):
    version = _version(ticket)
    ticket_transition(actor=support, ticket=ticket, to_status="abierto")  # someone else, meanwhile

    with pytest.raises(StaleEdit) as caught:
        ticket_assign(actor=support, ticket=ticket, assignee=support, version=version)

    assert [change.field for change in caught.value.conflict.changes] == ["estado"]
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.status == "abierto"


def test_a_current_assignment_passes(support, ticket):
    version = _version(ticket)
    ticket_assign(actor=support, ticket=ticket, assignee=support, version=version)
    ticket.refresh_from_db()
    assert ticket.assignee == support


def test_a_stale_move_is_refused_and_writes_nothing(support, ticket):
    version = _version(ticket)
    ticket_assign(actor=support, ticket=ticket, assignee=UserFactory(role=Role.SOPORTE))

    with pytest.raises(StaleEdit):
        ticket_transition(
            actor=support,
            ticket=ticket,
            to_status="resuelto",
            resolution="Se reenvió.",
            version=version,
        )

    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution, ticket.resolved_at) == ("nuevo", "", None)
    assert list(StatusChange.objects.filter(ticket=ticket).values_list("to_status", flat=True)) == [
        "nuevo"
    ]


def test_a_current_move_passes_and_none_checks_nothing(support, ticket):
    version = _version(ticket)
    ticket_transition(actor=support, ticket=ticket, to_status="abierto", version=version)
    # The pages pass no version: no check, as before (the status machine decides).
    ticket_transition(actor=support, ticket=ticket, to_status="en_espera")
    ticket.refresh_from_db()
    assert ticket.status == "en_espera"


def test_the_fields_the_version_holds_decide_what_is_stale(support, ticket):
    """The edit page's version holds its fields only: a status move meanwhile is no conflict
    there. The API's holds the status too: the same move makes its edit stale."""
    page_version = _version(ticket, UPDATE_FIELDS)
    api_version = _version(ticket)
    ticket_transition(actor=support, ticket=ticket, to_status="abierto")

    with pytest.raises(StaleEdit):
        ticket_update(actor=support, ticket=ticket, data={"priority": "alta"}, version=api_version)
    ticket.refresh_from_db()
    assert ticket.priority == "media"

    ticket_update(actor=support, ticket=ticket, data={"priority": "alta"}, version=page_version)
    ticket.refresh_from_db()
    assert ticket.priority == "alta"
