"""The ticket pages read a constant number of rows whatever the number of tickets (≤ 12)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.models import Activity
from opportunities.tests.factories import ActivityFactory, OpportunityFactory
from support.models import ContactSatisfaction, Satisfaction, StatusChange, Ticket
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

MAX_QUERIES = 12


@pytest.fixture
def agents():
    team = TeamFactory(name="Mesa de ayuda")
    return [UserFactory(role=Role.SOPORTE, team=team) for _ in range(3)]


def _tickets(n: int, *, owner, agents) -> list[Ticket]:
    """Tickets at many accounts and contacts, some assigned, late, waiting or closed."""
    now = timezone.now()
    rows = []
    for i in range(n):
        account = AccountFactory(owner=owner)
        contact = ContactFactory(account=account, owner=owner)
        ticket = TicketFactory(
            account=account,
            contact=contact,
            assignee=agents[i % len(agents)] if i % 4 else None,
            priority=["baja", "media", "alta", "urgente"][i % 4],
            status=["nuevo", "abierto", "en_espera", "abierto"][i % 4],
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            first_response_due=now + datetime.timedelta(hours=i - 10),
            first_response_warn_at=now + datetime.timedelta(hours=i - 12),
            resolution_due=now + datetime.timedelta(hours=i + 5),
        )
        rows.append(ticket)
    return rows


@pytest.mark.parametrize("queue", ["", "mine", "team", "soon", "breached", "all"])
def test_the_list_with_many_tickets(client_for, agents, rep, django_assert_max_num_queries, queue):
    client = client_for(agents[0])
    url = reverse("support:ticket-list") + f"?queue={queue}&q=no+funciona"
    _tickets(3, owner=rep, agents=agents)
    with django_assert_max_num_queries(MAX_QUERIES) as few:
        client.get(url)
    _tickets(62, owner=rep, agents=agents)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_the_full_default_page_for_support_and_for_a_rep(
    client_for, agents, rep, django_assert_max_num_queries
):
    _tickets(64, owner=rep, agents=agents)
    for user in (agents[0], rep):
        client = client_for(user)
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(reverse("support:ticket-list"))
        assert len(response.context["page_obj"]) == 25


def test_the_counts_are_one_query_each(client_for, agents, rep, django_assert_max_num_queries):
    _tickets(20, owner=rep, agents=agents)
    client = client_for(agents[0])
    client.get(reverse("support:ticket-list"))  # the session is warm
    with django_assert_max_num_queries(4):
        client.get(reverse("support:ticket-queue-counts"))
    with django_assert_max_num_queries(4):
        client.get(reverse("support:ticket-list-count") + "?queue=breached")


def _busy_customer(ticket: Ticket, *, n: int, owner) -> None:
    """A customer with a long history: activities, other tickets, deals, status changes."""
    now = timezone.now()
    for i in range(n):
        ActivityFactory(
            owner=owner,
            account=ticket.account,
            contact=ticket.contact,
            status=Activity.Status.DONE,
            done_at=now - datetime.timedelta(days=i),
        )
        TicketFactory(account=ticket.account, contact=None)
        OpportunityFactory(owner=owner, account=ticket.account)
        StatusChange.objects.create(ticket=ticket, from_status="nuevo", to_status="abierto")


@pytest.mark.parametrize("role", ["support", "rep"])
def test_the_ticket_page(request, client_for, rep, agents, django_assert_max_num_queries, role):
    user = request.getfixturevalue(role)
    ticket = TicketFactory(account__owner=rep, contact__owner=rep, assignee=agents[0])
    ContactSatisfaction.objects.create(
        contact=ticket.contact, level=Satisfaction.SATISFIED, answers=3
    )
    client = client_for(user)
    _busy_customer(ticket, n=1, owner=rep)
    with django_assert_max_num_queries(MAX_QUERIES) as few:
        client.get(ticket.get_absolute_url())
    _busy_customer(ticket, n=15, owner=rep)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(ticket.get_absolute_url())
    assert response.status_code == 200


@pytest.mark.parametrize("panel", ["account", "contact"])
def test_the_sheet_panels(client_for, rep, agents, django_assert_max_num_queries, panel):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account, owner=rep)
    obj = account if panel == "account" else contact
    url = reverse(f"support:{panel}-tickets-panel", args=[obj.pk])
    client = client_for(rep)
    TicketFactory(account=account, contact=contact, assignee=agents[0])
    with django_assert_max_num_queries(MAX_QUERIES) as few:
        client.get(url)
    for i in range(30):
        TicketFactory(account=account, contact=contact, assignee=agents[i % 3])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
