"""The ticket writes: numbering, who opens what, assignment, the status machine and its SLA."""

import datetime
import itertools

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.models import StatusChange, Ticket, TicketCounter
from support.services import tickets as services

pytestmark = pytest.mark.django_db

Status = Ticket.Status
UTC = datetime.UTC


@pytest.fixture
def account(rep):
    return AccountFactory(owner=rep, name="Ferretería Bustamante")


@pytest.fixture
def contact(account, rep):
    return ContactFactory(account=account, owner=rep, first_name="José", last_name="Núñez")


@pytest.fixture
def open_ticket(support, account, contact):
    def make(**kwargs) -> Ticket:
        data = {
            "actor": support,
            "account": account,
            "contact": contact,
            "subject": "La factura de marzo no cuadra",
            "category": Ticket.Category.CLAIM,
            "channel": Ticket.Channel.PHONE,
            "priority": "media",
        }
        data.update(kwargs)
        return services.ticket_create(**data)

    return make


@pytest.fixture
def surveys_requested(monkeypatch):
    """The tickets whose CSAT survey was asked for (support.services.surveys.csat_request)."""
    asked: list[int] = []
    monkeypatch.setattr(
        "support.services.surveys.csat_request", lambda *, ticket: asked.append(ticket.pk)
    )
    return asked


def _at(ticket: Ticket, status: str, *, actor) -> Ticket:
    """The ticket moved to `status` through allowed moves."""
    paths = {
        Status.NEW: [],
        Status.OPEN: [Status.OPEN],
        Status.WAITING: [Status.WAITING],
        Status.RESOLVED: [Status.RESOLVED],
        Status.CLOSED: [Status.RESOLVED, Status.CLOSED],
    }
    for step in paths[status]:
        ticket = services.ticket_transition(
            actor=actor, ticket=ticket, to_status=step, resolution="Se reenvió la factura."
        )
    return ticket


# Creation ---------------------------------------------------------------------------------


def test_create_numbers_the_ticket_starts_its_sla_and_history(open_ticket, support):
    ticket = open_ticket()
    ticket.refresh_from_db()
    year = timezone.localtime(ticket.created_at).year
    assert ticket.number == f"INC-{year}-000001"
    assert ticket.status == Status.NEW
    assert ticket.created_by == support
    assert ticket.first_response_due is not None and ticket.resolution_due is not None
    assert ticket.first_response_due <= ticket.resolution_due
    # Its own words only: the customer's names are matched where they are kept (the selector).
    assert ticket.search_text == f"inc-{year}-000001 la factura de marzo no cuadra"
    change = StatusChange.objects.get(ticket=ticket)
    assert (change.from_status, change.to_status, change.actor) == ("", Status.NEW, support)
    assert open_ticket().number == f"INC-{year}-000002"
    assert TicketCounter.objects.get(year=year).last == 2


def test_the_number_takes_the_year_where_the_company_is(open_ticket, monkeypatch, settings):
    settings.TIME_ZONE = "America/Mexico_City"
    # 1 January 2027 at 02:00 UTC is still 31 December 2026, 20:00, in Mexico City.
    new_year_utc = datetime.datetime(2027, 1, 1, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: new_year_utc)
    assert open_ticket().number == "INC-2026-000001"
    monkeypatch.setattr(timezone, "now", lambda: new_year_utc + datetime.timedelta(hours=7))
    assert open_ticket().number == "INC-2027-000001"


def test_create_refuses_a_contact_of_another_account_and_saves_nothing(open_ticket, rep):
    stranger = ContactFactory(owner=rep)
    with pytest.raises(ValidationError) as error:
        open_ticket(contact=stranger)
    assert "contact" in error.value.message_dict
    assert not Ticket.objects.exists()
    assert not StatusChange.objects.exists()
    assert not TicketCounter.objects.filter(last__gt=0).exists()


def test_create_refuses_bad_choices_before_taking_a_number(open_ticket):
    with pytest.raises(ValidationError) as error:
        open_ticket(priority="inmediata", subject="   ")
    assert set(error.value.message_dict) >= {"subject"}
    with pytest.raises(ValidationError) as error:
        open_ticket(priority="inmediata")
    assert "priority" in error.value.message_dict
    assert not Ticket.objects.exists()
    assert not TicketCounter.objects.filter(last__gt=0).exists()


def test_a_rep_opens_tickets_for_their_own_customers_only(rep, other_rep, account, contact):
    ticket = services.ticket_create(
        actor=rep,
        account=account,
        contact=contact,
        subject="Entrega incompleta",
        category=Ticket.Category.INCIDENT,
        channel=Ticket.Channel.IN_PERSON,
        priority="alta",
    )
    assert ticket.created_by == rep and ticket.assignee is None
    with pytest.raises(ValidationError) as error:
        services.ticket_create(
            actor=other_rep,
            account=account,
            subject="No es mi cliente",
            category=Ticket.Category.QUESTION,
            channel=Ticket.Channel.EMAIL,
            priority="baja",
        )
    assert "account" in error.value.message_dict
    assert Ticket.objects.count() == 1


def test_a_manager_opens_for_the_team_and_marketing_for_nobody(manager, marketing, account):
    data = {
        "account": account,
        "subject": "Garantía de la bomba",
        "category": Ticket.Category.WARRANTY,
        "channel": Ticket.Channel.WHATSAPP,
        "priority": "media",
    }
    assert services.ticket_create(actor=manager, **data).account == account
    with pytest.raises(PermissionDenied):
        services.ticket_create(actor=marketing, **data)


def test_only_support_assigns_and_only_to_support(open_ticket, rep, support):
    with pytest.raises(ValidationError) as error:
        open_ticket(actor=rep, assignee=support)
    assert "assignee" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        open_ticket(assignee=rep)
    assert "assignee" in error.value.message_dict
    assert not Ticket.objects.exists()
    assert open_ticket(assignee=support).assignee == support


def test_create_refuses_an_archived_account(open_ticket, account):
    account.archived_at = timezone.now()
    account.save()
    with pytest.raises(ValidationError):
        open_ticket()


# Edition and assignment -------------------------------------------------------------------


def test_update_changes_the_fields_and_a_new_priority_moves_the_due_times(open_ticket, support):
    ticket = open_ticket(priority="baja")
    before = (ticket.first_response_due, ticket.resolution_due)
    ticket = services.ticket_update(
        actor=support,
        ticket=ticket,
        data={"subject": "Factura duplicada", "priority": "urgente", "status": "cerrado"},
    )
    ticket.refresh_from_db()
    assert ticket.subject == "Factura duplicada"
    assert ticket.priority == "urgente"
    assert ticket.status == Status.NEW  # not through an update
    assert "factura duplicada" in ticket.search_text
    assert ticket.first_response_due < before[0]
    assert ticket.resolution_due < before[1]


def test_update_is_for_support_and_never_on_a_closed_ticket(open_ticket, support, rep):
    ticket = open_ticket()
    with pytest.raises(PermissionDenied):
        services.ticket_update(actor=rep, ticket=ticket, data={"subject": "Otra cosa"})
    ticket = _at(ticket, Status.CLOSED, actor=support)
    with pytest.raises(ValidationError):
        services.ticket_update(actor=support, ticket=ticket, data={"subject": "Otra cosa"})
    ticket.refresh_from_db()
    assert ticket.subject == "La factura de marzo no cuadra"


def test_assign_and_unassign(open_ticket, support, admin_user, rep):
    ticket = open_ticket()
    assert services.ticket_assign(actor=support, ticket=ticket, assignee=admin_user).assignee == (
        admin_user
    )
    assert services.ticket_assign(actor=support, ticket=ticket, assignee=None).assignee is None
    with pytest.raises(ValidationError):
        services.ticket_assign(actor=support, ticket=ticket, assignee=rep)
    with pytest.raises(PermissionDenied):
        services.ticket_assign(actor=rep, ticket=ticket, assignee=support)


def test_bulk_assign_assigns_all_or_none(open_ticket, support):
    agent = UserFactory(role=Role.SOPORTE, first_name="Lucía")
    tickets = [open_ticket() for _ in range(3)]
    ids = [ticket.pk for ticket in tickets]
    assert services.ticket_bulk_assign(actor=support, ticket_ids=ids, assignee=agent) == 3
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {agent.pk}

    closed = _at(open_ticket(), Status.CLOSED, actor=support)
    with pytest.raises(ValidationError) as error:
        services.ticket_bulk_assign(actor=support, ticket_ids=[*ids, closed.pk], assignee=support)
    assert closed.number in " ".join(error.value.messages)
    with pytest.raises(ValidationError):
        services.ticket_bulk_assign(actor=support, ticket_ids=[*ids, 999999], assignee=support)
    with pytest.raises(ValidationError):
        services.ticket_bulk_assign(actor=support, ticket_ids=[], assignee=support)
    assert set(Ticket.objects.filter(pk__in=ids).values_list("assignee", flat=True)) == {agent.pk}


def test_bulk_assign_is_for_support(open_ticket, manager, support):
    ticket = open_ticket()
    with pytest.raises(PermissionDenied):
        services.ticket_bulk_assign(actor=manager, ticket_ids=[ticket.pk], assignee=support)


# The status machine -----------------------------------------------------------------------

ALLOWED = {
    (Status.NEW, Status.OPEN),
    (Status.NEW, Status.WAITING),
    (Status.NEW, Status.RESOLVED),
    (Status.OPEN, Status.WAITING),
    (Status.OPEN, Status.RESOLVED),
    (Status.WAITING, Status.OPEN),
    (Status.WAITING, Status.RESOLVED),
    (Status.RESOLVED, Status.OPEN),
    (Status.RESOLVED, Status.CLOSED),
}


def test_the_table_of_allowed_moves_is_the_documented_one():
    table = {(a, b) for a, targets in services.ALLOWED.items() for b in targets}
    assert table == ALLOWED


def _reach(ticket, status, *, actor):
    """`status` by a path that is itself allowed (open → waiting needs an open ticket first)."""
    if status == Status.WAITING:
        return services.ticket_transition(actor=actor, ticket=ticket, to_status=Status.WAITING)
    return _at(ticket, status, actor=actor)


@pytest.mark.parametrize(
    ("from_status", "to_status"), list(itertools.product(Status.values, Status.values))
)
def test_every_move_is_allowed_or_refused_as_the_table_says(
    open_ticket, support, surveys_requested, from_status, to_status
):
    ticket = _reach(open_ticket(), from_status, actor=support)
    history = StatusChange.objects.filter(ticket=ticket).count()
    if (from_status, to_status) in ALLOWED:
        moved = services.ticket_transition(
            actor=support, ticket=ticket, to_status=to_status, resolution="Cambio de pieza."
        )
        moved.refresh_from_db()
        assert moved.status == to_status
        last = StatusChange.objects.filter(ticket=ticket).last()
        assert (last.from_status, last.to_status, last.actor) == (from_status, to_status, support)
    else:
        before = Ticket.objects.filter(pk=ticket.pk).values().get()
        with pytest.raises(ValidationError) as error:
            services.ticket_transition(
                actor=support, ticket=ticket, to_status=to_status, resolution="Cambio de pieza."
            )
        assert "to_status" in error.value.message_dict
        assert Ticket.objects.filter(pk=ticket.pk).values().get() == before
        assert StatusChange.objects.filter(ticket=ticket).count() == history


def test_an_unknown_status_is_refused(open_ticket, support):
    with pytest.raises(ValidationError):
        services.ticket_transition(actor=support, ticket=open_ticket(), to_status="archivado")


def test_only_support_moves_tickets(open_ticket, rep, manager):
    ticket = open_ticket()
    for user in (rep, manager):
        with pytest.raises(PermissionDenied):
            services.ticket_transition(actor=user, ticket=ticket, to_status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_resolving_asks_for_a_resolution_and_changes_nothing_without_one(
    open_ticket, support, surveys_requested, django_capture_on_commit_callbacks
):
    ticket = open_ticket()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValidationError) as error,
    ):
        services.ticket_transition(
            actor=support, ticket=ticket, to_status=Status.RESOLVED, resolution="   "
        )
    assert "resolution" in error.value.message_dict
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at, ticket.resolution) == (Status.NEW, None, "")
    assert surveys_requested == []


def test_resolving_stamps_freezes_the_sla_and_asks_for_the_survey_after_commit(
    open_ticket, support, surveys_requested, django_capture_on_commit_callbacks
):
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.ticket_transition(
            actor=support,
            ticket=ticket,
            to_status=Status.RESOLVED,
            resolution="Se emitió una nota de crédito.",
            note="Confirmado por teléfono",
        )
    assert len(callbacks) == 1
    assert surveys_requested == [ticket.pk]
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolution == "Se emitió una nota de crédito."
    assert ticket.resolved_at is not None
    # Nothing is due on a resolved ticket; what was left is kept in case it is reopened.
    assert ticket.resolution_due is None and ticket.resolution_left is not None
    assert not ticket.resolution_breached
    assert StatusChange.objects.filter(ticket=ticket).last().note == "Confirmado por teléfono"


def test_a_failing_survey_never_undoes_the_resolution(
    open_ticket, support, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*, ticket):
        raise RuntimeError("SMTP caído")

    monkeypatch.setattr("support.services.surveys.csat_request", broken)
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_transition(
            actor=support, ticket=ticket, to_status=Status.RESOLVED, resolution="Reemplazo."
        )
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_closing_needs_the_resolution_and_stamps_the_time(open_ticket, support, surveys_requested):
    ticket = _at(open_ticket(), Status.RESOLVED, actor=support)
    # The resolution already given is enough to close.
    ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.CLOSED)
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.closed_at is not None
    assert ticket.resolution == "Se reenvió la factura."


def test_a_reopened_ticket_is_no_longer_resolved_and_its_clock_runs_again(
    open_ticket, support, surveys_requested, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _at(open_ticket(), Status.RESOLVED, actor=support)
    ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.resolved_at is None
    assert ticket.resolution_due is not None and ticket.resolution_left is None
    # Resolving again reuses the resolution written the first time; the survey service asked
    # again sends none twice (one CSAT per ticket).
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.RESOLVED)
    assert ticket.resolved_at is not None
    assert ticket.resolution == "Se reenvió la factura."
    assert surveys_requested == [ticket.pk, ticket.pk]


def test_waiting_for_the_customer_stops_the_clock_and_leaving_it_restarts_it(open_ticket, support):
    ticket = open_ticket()
    ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.WAITING)
    ticket.refresh_from_db()
    assert ticket.paused_at is not None
    assert ticket.first_response_due is None and ticket.resolution_due is None
    assert ticket.first_response_left is not None and ticket.resolution_left is not None
    ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.paused_at is None
    assert ticket.first_response_due is not None and ticket.resolution_due is not None
    assert ticket.first_response_left is None and ticket.resolution_left is None


def test_a_stale_copy_cannot_make_a_refused_move(open_ticket, support, surveys_requested):
    """The status is read again under lock: a page opened before the ticket was closed."""
    ticket = open_ticket()
    stale = Ticket.objects.get(pk=ticket.pk)
    _at(ticket, Status.CLOSED, actor=support)
    with pytest.raises(ValidationError):
        services.ticket_transition(actor=support, ticket=stale, to_status=Status.OPEN)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


# Events of the conversation ---------------------------------------------------------------


def test_the_first_response_opens_a_new_ticket_once(open_ticket, support):
    ticket = open_ticket()
    at = timezone.now()
    ticket = services.ticket_record_first_response(ticket=ticket, actor=support, at=at)
    ticket.refresh_from_db()
    assert ticket.first_response_at == at
    assert ticket.status == Status.OPEN
    assert ticket.first_response_due is None  # reached
    assert not ticket.first_response_breached
    change = StatusChange.objects.filter(ticket=ticket).last()
    assert (change.from_status, change.to_status, change.actor) == (
        Status.NEW,
        Status.OPEN,
        support,
    )
    later = at + datetime.timedelta(hours=1)
    services.ticket_record_first_response(ticket=ticket, actor=support, at=later)
    ticket.refresh_from_db()
    assert ticket.first_response_at == at
    assert StatusChange.objects.filter(ticket=ticket).count() == 2


def test_a_late_first_response_is_frozen_as_breached(open_ticket, support):
    ticket = open_ticket(priority="urgente")
    late = ticket.first_response_due + datetime.timedelta(minutes=5)
    ticket = services.ticket_record_first_response(ticket=ticket, actor=support, at=late)
    ticket.refresh_from_db()
    assert ticket.first_response_breached


def test_the_first_response_keeps_a_waiting_ticket_waiting(open_ticket, support):
    ticket = open_ticket()
    ticket = services.ticket_transition(actor=support, ticket=ticket, to_status=Status.WAITING)
    ticket = services.ticket_record_first_response(ticket=ticket, actor=support, at=timezone.now())
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING
    assert ticket.first_response_at is not None


def test_a_customer_reply_reopens_a_resolved_ticket(open_ticket, support, surveys_requested):
    ticket = _at(open_ticket(), Status.RESOLVED, actor=support)
    ticket = services.ticket_customer_replied(ticket=ticket, at=timezone.now())
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.resolution_due is not None
    change = StatusChange.objects.filter(ticket=ticket).last()
    assert (change.from_status, change.to_status, change.actor) == (
        Status.RESOLVED,
        Status.OPEN,
        None,
    )


def test_a_customer_reply_resumes_a_waiting_ticket(open_ticket, support):
    ticket = services.ticket_transition(
        actor=support, ticket=open_ticket(), to_status=Status.WAITING
    )
    ticket = services.ticket_customer_replied(ticket=ticket, at=timezone.now())
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.paused_at is None and ticket.resolution_due is not None


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.CLOSED])
def test_a_customer_reply_leaves_other_statuses_alone(
    open_ticket, support, surveys_requested, status
):
    ticket = _at(open_ticket(), status, actor=support)
    history = StatusChange.objects.filter(ticket=ticket).count()
    services.ticket_customer_replied(ticket=ticket, at=timezone.now())
    ticket.refresh_from_db()
    assert ticket.status == status
    assert StatusChange.objects.filter(ticket=ticket).count() == history
