"""Page 2,000 of the ticket queues costs what page 1 costs (issue 12; see
crm.core.tests.deep_pages)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from crm.core.tests.deep_pages import PER_PAGE, ROWS, assert_deep_page_is_cheap
from support.models import Ticket


@pytest.fixture
def tickets(rep, support) -> list[Ticket]:
    """Open tickets of one of the rep's accounts, assigned to the agent, all of the same
    priority and due a minute apart: the queues' order is the order they were made in."""
    account = Account(name="Aceros del Norte", owner=rep)
    account.save()
    start = timezone.now() + timedelta(days=3)
    return Ticket.objects.bulk_create(
        [
            Ticket(
                number=f"INC-2026-{i:06d}",
                account=account,
                subject=f"Pedido incompleto {i:05d}",
                status=Ticket.Status.OPEN,
                assignee=support,
                created_by=support,
                resolution_due=start + timedelta(minutes=i),
            )
            for i in range(ROWS)
        ],
        batch_size=1000,
    )


def test_ticket_queues_deep_page(tickets, support, client_for, settings):
    """The open tickets, the agent's own and all of them (one table for the three queues)."""
    settings.PAGE_SIZE = PER_PAGE
    client = client_for(support)
    for queue in ("", "mine", "all"):
        assert_deep_page_is_cheap(
            client,
            reverse("support:ticket-list"),
            model=Ticket,
            params={"queue": queue} if queue else {},
            ordered=[t.pk for t in tickets],
            labels=[t.subject for t in tickets],
        )


def test_ticket_list_of_a_rep_deep_page(tickets, rep, client_for, settings):
    """A rep reads the tickets of their own accounts (the visibility joins the account)."""
    settings.PAGE_SIZE = PER_PAGE
    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("support:ticket-list"),
        model=Ticket,
        ordered=[t.pk for t in tickets],
        labels=[t.subject for t in tickets],
    )
