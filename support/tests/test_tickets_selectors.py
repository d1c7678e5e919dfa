"""The ticket reads: who sees which tickets, the queues, filters and order, the customer
context of the ticket page, the sheet's panels and the caller lookup's counts."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.models import Activity, ActivityKind
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, stage
from support.models import ContactSatisfaction, Satisfaction, Ticket
from support.selectors import tickets as selectors
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

Status = Ticket.Status
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def account(rep):
    return AccountFactory(owner=rep, name="Papelería La Pluma")


@pytest.fixture
def contact(account, rep):
    return ContactFactory(account=account, owner=rep, first_name="Inés", last_name="Ramírez")


def _ids(qs) -> set[int]:
    return {ticket.pk for ticket in qs}


def _sla(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket


# Visibility -------------------------------------------------------------------------------


def test_each_role_sees_the_tickets_it_may(
    rep, manager, other_rep, support, marketing, admin_user, account
):
    mine = TicketFactory(account=account)
    others = TicketFactory(account__owner=other_rep)
    managers = TicketFactory(account__owner=manager)
    everything = {mine.pk, others.pk, managers.pk}
    seen = {
        user.username: _ids(selectors.ticket_list(user=user, queue="all"))
        for user in (rep, manager, other_rep, support, marketing, admin_user)
    }
    assert seen["vendedor"] == {mine.pk}
    assert seen["gerente"] == {mine.pk, managers.pk}
    assert seen["otro_vendedor"] == {others.pk}
    assert seen["soporte"] == everything
    assert seen["administrador"] == everything
    assert seen["marketing"] == set()


def test_ticket_visible_raises_for_someone_elses_ticket(rep, other_rep, account):
    ticket = TicketFactory(account=account)
    assert selectors.ticket_visible(user=rep, pk=ticket.pk) == ticket
    with pytest.raises(Ticket.DoesNotExist):
        selectors.ticket_visible(user=other_rep, pk=ticket.pk)


# Queues -----------------------------------------------------------------------------------


@pytest.fixture
def agents():
    helpdesk = TeamFactory(name="Mesa de ayuda")
    field = TeamFactory(name="Soporte en campo")
    return {
        "lucia": UserFactory(username="lucia", role=Role.SOPORTE, team=helpdesk),
        "raul": UserFactory(username="raul", role=Role.SOPORTE, team=helpdesk),
        "marta": UserFactory(username="marta", role=Role.SOPORTE, team=field),
    }


def test_the_queues(agents, account):
    now = timezone.now()
    lucia, raul, marta = agents["lucia"], agents["raul"], agents["marta"]
    new_mine = TicketFactory(account=account, assignee=lucia)
    teammates = TicketFactory(account=account, assignee=raul, status=Status.OPEN)
    other_team = TicketFactory(account=account, assignee=marta, status=Status.OPEN)
    unassigned = TicketFactory(account=account)
    waiting = TicketFactory(account=account, assignee=lucia, status=Status.WAITING)
    _sla(waiting, paused_at=now - HOUR)
    closed_mine = TicketFactory(
        account=account, assignee=lucia, status=Status.CLOSED, resolution="Hecho."
    )
    soon = _sla(
        TicketFactory(account=account, status=Status.OPEN),
        resolution_warn_at=now - HOUR,
        resolution_due=now + HOUR,
    )
    breached = _sla(
        TicketFactory(account=account, assignee=marta, status=Status.OPEN),
        first_response_due=now - HOUR,
    )

    def queue(name):
        return _ids(selectors.ticket_list(user=lucia, queue=name, now=now))

    assert queue("mine") == {new_mine.pk, waiting.pk}
    assert queue("unassigned") == {unassigned.pk, soon.pk}
    assert queue("team") == {new_mine.pk, teammates.pk, waiting.pk}
    assert queue("waiting") == {waiting.pk}
    assert queue("soon") == {soon.pk}
    assert queue("breached") == {breached.pk}
    every_open = {
        new_mine.pk,
        teammates.pk,
        other_team.pk,
        unassigned.pk,
        waiting.pk,
        soon.pk,
        breached.pk,
    }
    assert queue("") == every_open
    assert queue("all") == every_open | {closed_mine.pk}
    # A status asked for replaces "open".
    closed = selectors.ticket_list(user=lucia, queue="mine", filters={"status": [Status.CLOSED]})
    assert _ids(closed) == {closed_mine.pk}

    counts = selectors.ticket_queue_counts(user=lucia, now=now)
    assert counts == {
        "": 7,
        "mine": 2,
        "unassigned": 2,
        "team": 3,
        "soon": 1,
        "breached": 1,
        "waiting": 1,
    }


def test_a_manager_sees_the_teams_they_lead_in_the_team_queue(agents, account):
    lead = UserFactory(role=Role.SOPORTE)
    helpdesk = agents["lucia"].team
    helpdesk.manager = lead
    helpdesk.save()
    ticket = TicketFactory(account=account, assignee=agents["raul"])
    TicketFactory(account=account, assignee=agents["marta"])
    assert _ids(selectors.ticket_list(user=lead, queue="team")) == {ticket.pk}


def test_counts_per_queue_are_those_of_the_lists(rep, account, agents):
    now = timezone.now()
    TicketFactory.create_batch(3, account=account)
    TicketFactory(account=account, assignee=agents["lucia"], status=Status.WAITING)
    TicketFactory(account__owner=UserFactory())  # not the rep's
    counts = selectors.ticket_queue_counts(user=rep, now=now)
    for queue, count in counts.items():
        assert count == selectors.ticket_list(user=rep, queue=queue, now=now).count(), queue


def test_the_most_urgent_comes_first_then_the_nearest_due(account):
    now = timezone.now()
    low = TicketFactory(account=account, priority="baja")
    _sla(low, first_response_due=now - HOUR)  # overdue, but low priority
    urgent_late = _sla(
        TicketFactory(account=account, priority="urgente"), resolution_due=now + 5 * HOUR
    )
    urgent_soon = _sla(
        TicketFactory(account=account, priority="urgente"),
        first_response_due=now + HOUR,
        resolution_due=now + 9 * HOUR,
    )
    urgent_answered = _sla(
        TicketFactory(account=account, priority="urgente"),
        first_response_at=now - HOUR,
        first_response_due=now - 2 * HOUR,  # reached: what counts is the resolution
        resolution_due=now + 3 * HOUR,
    )
    paused = _sla(TicketFactory(account=account, priority="urgente", status=Status.WAITING))
    high = TicketFactory(account=account, priority="alta")
    rows = list(selectors.ticket_list(user=account.owner, now=now))
    assert rows == [urgent_soon, urgent_answered, urgent_late, paused, high, low]


def test_a_list_of_closed_tickets_is_newest_first(account):
    old = TicketFactory(account=account, status=Status.CLOSED, resolution="Listo.")
    new = TicketFactory(account=account, status=Status.CLOSED, resolution="Listo.")
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - 10 * HOUR)
    rows = list(selectors.ticket_list(user=account.owner, filters={"status": ["cerrado"]}))
    assert rows == [new, old]


def test_the_filters(account, contact, agents):
    other_account = AccountFactory(owner=account.owner, name="Tlapalería El Tornillo")
    match = TicketFactory(
        account=account,
        contact=contact,
        subject="Impresora atascada",
        priority="alta",
        category=Ticket.Category.WARRANTY,
        channel=Ticket.Channel.WHATSAPP,
        assignee=agents["lucia"],
        search_text="inc-2026-000777 impresora atascada",
    )
    TicketFactory(account=other_account, contact=None, subject="Pedido incompleto")
    user = agents["raul"]

    def found(**filters):
        return _ids(selectors.ticket_list(user=user, filters=filters))

    assert found(text="IMPRESORA  ramírez") == {match.pk}
    assert found(text="000777") == {match.pk}
    assert found(text="impresora tornillo") == set()
    assert found(priority=["alta", "urgente"]) == {match.pk}
    assert found(category=[Ticket.Category.WARRANTY]) == {match.pk}
    assert found(channel=[Ticket.Channel.WHATSAPP]) == {match.pk}
    assert found(assignee=agents["lucia"]) == {match.pk}
    assert found(account=account.pk) == {match.pk}
    assert found(contact=contact.pk) == {match.pk}
    today = timezone.localdate()
    assert len(found(created_from=today, created_to=today)) == 2
    assert found(created_to=today - datetime.timedelta(days=1)) == set()
    assert len(found(created_from=today)) == 2


# The customer beside the ticket -----------------------------------------------------------


def test_the_context_of_a_ticket_for_the_rep(rep, other_rep, account, contact):
    ticket = TicketFactory(account=account, contact=contact)
    other_open = TicketFactory(account=account, priority="urgente")
    TicketFactory(account=account, status=Status.CLOSED, resolution="Listo.")
    TicketFactory(contact__owner=rep)  # another account
    ContactSatisfaction.objects.create(contact=contact, level=Satisfaction.DISSATISFIED, answers=2)
    now = timezone.now()
    for days in range(7):
        ActivityFactory(
            owner=rep,
            account=account,
            kind=ActivityKind.CALL,
            status=Activity.Status.DONE,
            done_at=now - datetime.timedelta(days=days),
            outcome=f"Llamada {days}",
        )
    ActivityFactory(owner=rep, account=account)  # planned: not "last"
    hidden = ActivityFactory(
        owner=other_rep,
        account=account,
        status=Activity.Status.DONE,
        done_at=now,
    )
    contacts_own = ActivityFactory(
        owner=rep,
        account=None,
        contact=contact,
        status=Activity.Status.DONE,
        done_at=now + datetime.timedelta(minutes=1),
    )
    deal = OpportunityFactory(owner=rep, account=account, name="Resmas 2026")
    OpportunityFactory(owner=rep, account=account, stage=stage("Ganada"))

    context = selectors.ticket_context(ticket=ticket, user=rep)
    assert context.tier == account.tier and context.owner == rep
    assert context.satisfaction.level == Satisfaction.DISSATISFIED
    assert len(context.activities) == selectors.CONTEXT_ACTIVITIES
    assert context.activities[0] == contacts_own
    assert hidden not in context.activities
    assert [a.outcome for a in context.activities[1:]] == [f"Llamada {d}" for d in range(4)]
    assert context.other_open == [other_open]
    assert context.opportunities == [deal]


def test_support_sees_the_whole_history_but_no_opportunity(support, other_rep, account, contact):
    ticket = TicketFactory(account=account, contact=contact)
    activity = ActivityFactory(
        owner=other_rep, account=account, status=Activity.Status.DONE, done_at=timezone.now()
    )
    OpportunityFactory(owner=account.owner, account=account)
    context = selectors.ticket_context(ticket=ticket, user=support)
    assert context.activities == [activity]
    assert context.opportunities is None
    assert context.satisfaction is None


# Panels and the caller lookup -------------------------------------------------------------


def test_account_and_contact_tickets_open_first(rep, other_rep, account, contact):
    closed = TicketFactory(account=account, contact=contact, status="cerrado", resolution="Ok.")
    low = TicketFactory(account=account, contact=contact, priority="baja")
    urgent = TicketFactory(account=account, contact=None, priority="urgente")
    assert selectors.account_tickets(user=rep, account=account) == [urgent, low, closed]
    assert selectors.account_tickets(user=rep, account=account, limit=2) == [urgent, low]
    assert selectors.contact_tickets(user=rep, contact=contact) == [low, closed]
    assert selectors.account_tickets(user=other_rep, account=account) == []


def test_open_ticket_counts_per_account_and_contact(account, contact):
    other = AccountFactory()
    TicketFactory.create_batch(2, account=account, contact=contact)
    TicketFactory(account=account, contact=None, status=Status.WAITING)
    TicketFactory(account=account, contact=contact, status=Status.RESOLVED, resolution="Ok.")
    by_account, by_contact = selectors.open_ticket_counts(
        account_ids=[account.pk, other.pk], contact_ids={contact.pk}
    )
    assert by_account == {account.pk: 3, other.pk: 0}
    assert by_contact == {contact.pk: 2}
    counts = selectors.open_ticket_counts(account_ids=[account.pk])
    assert counts.accounts == {account.pk: 3} and counts.contacts == {}


def test_open_ticket_counts_in_two_queries(django_assert_num_queries, account):
    TicketFactory.create_batch(3, account=account)
    accounts = [account.pk, *(AccountFactory().pk for _ in range(20))]
    with django_assert_num_queries(2):
        selectors.open_ticket_counts(account_ids=accounts, contact_ids=range(1, 50))
    with django_assert_num_queries(0):
        selectors.open_ticket_counts()


def test_sla_flags_for_the_badges(account):
    now = timezone.now()
    late = _sla(TicketFactory(account=account), first_response_due=now - HOUR)
    soon = _sla(
        TicketFactory(account=account),
        first_response_warn_at=now - HOUR,
        first_response_due=now + HOUR,
    )
    fine = _sla(TicketFactory(account=account), resolution_due=now + 8 * HOUR)
    rows = selectors.with_sla_flags([late, soon, fine], now)
    assert [row.sla_state for row in rows] == ["breached", "soon", "ok"]
    assert [row.next_due for row in rows] == [
        late.first_response_due,
        soon.first_response_due,
        fine.resolution_due,
    ]
