"""The writes of activities: logging, the state machine, "last contacted" and who may do what."""

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from opportunities.models import Activity, ActivityKind
from opportunities.services import activities as services
from opportunities.tests.factories import ActivityFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(rep):
    return ContactFactory(owner=rep, first_name="Elena", mobile="+525512345678")


def test_log_records_a_done_activity_and_moves_last_contacted(rep, contact):
    activity = services.activity_log(
        actor=rep, kind=ActivityKind.VISIT, contact=contact, outcome="Pedido de 20 cajas"
    )
    activity.refresh_from_db()
    contact.refresh_from_db()
    contact.account.refresh_from_db()
    assert activity.status == Activity.Status.DONE
    assert activity.owner == rep
    assert activity.account == contact.account  # the contact's account, set by the service
    assert activity.done_at is not None
    assert contact.last_contacted_at == activity.done_at
    assert contact.account.last_contacted_at == activity.done_at


def test_last_contacted_moves_only_forward(rep, contact):
    now = timezone.now()
    services.activity_log(actor=rep, kind="llamada", contact=contact, outcome="Ok", when=now)
    services.activity_log(
        actor=rep, kind="llamada", contact=contact, outcome="Antes", when=now - timedelta(days=3)
    )
    contact.refresh_from_db()
    assert contact.last_contacted_at == now


def test_a_task_is_not_a_contact(rep, contact):
    services.activity_log(actor=rep, kind=ActivityKind.TASK, contact=contact, outcome="Hecho")
    contact.refresh_from_db()
    assert contact.last_contacted_at is None


def test_next_step_plans_the_follow_up(rep, contact):
    tomorrow = timezone.now() + timedelta(days=1)
    activity = services.activity_log(
        actor=rep,
        kind=ActivityKind.CALL,
        contact=contact,
        outcome="Quiere cotización",
        next_kind=ActivityKind.MEETING,
        next_at=tomorrow,
    )
    follow_up = Activity.objects.get(status=Activity.Status.PLANNED)
    assert activity.next_step == follow_up
    assert follow_up.kind == ActivityKind.MEETING
    assert follow_up.planned_at == tomorrow
    assert (follow_up.contact, follow_up.account, follow_up.owner) == (
        contact,
        contact.account,
        rep,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"outcome": ""},
        {"outcome": "Ok", "when": timezone.now() + timedelta(days=1)},
        {"outcome": "Ok", "next_kind": "llamada"},  # no date for the next step
        {"outcome": "Ok", "next_kind": "llamada", "next_at": timezone.now() - timedelta(days=1)},
        # The next step fails only when it is saved: the logged activity is rolled back too.
        {"outcome": "Ok", "next_kind": "fax", "next_at": timezone.now() + timedelta(days=1)},
    ],
)
def test_nothing_is_saved_on_failure(rep, contact, kwargs):
    with pytest.raises(ValidationError):
        services.activity_log(actor=rep, kind=ActivityKind.VISIT, contact=contact, **kwargs)
    contact.refresh_from_db()
    assert not Activity.objects.exists()
    assert contact.last_contacted_at is None


def test_a_customer_is_required_and_must_agree(rep, contact):
    with pytest.raises(ValidationError):
        services.activity_log(actor=rep, kind="visita", outcome="Ok")
    with pytest.raises(ValidationError):
        services.activity_log(
            actor=rep, kind="visita", outcome="Ok", contact=contact, account=AccountFactory()
        )
    assert not Activity.objects.exists()


@pytest.mark.parametrize("role", ["support", "marketing"])
def test_support_and_marketing_cannot_log_or_plan(request, role, contact):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        services.activity_log(actor=user, kind="visita", contact=contact, outcome="Ok")
    with pytest.raises(PermissionDenied):
        services.activity_plan(
            actor=user, kind="visita", contact=contact, planned_at=timezone.now()
        )
    assert not Activity.objects.exists()


def test_a_rep_cannot_log_on_behalf_of_others(rep, other_rep, manager, contact):
    with pytest.raises(PermissionDenied):
        services.activity_log(
            actor=rep, kind="visita", contact=contact, outcome="Ok", owner=manager
        )
    with pytest.raises(PermissionDenied):
        services.activity_log(
            actor=manager, kind="visita", contact=contact, outcome="Ok", owner=other_rep
        )
    assert not Activity.objects.exists()
    # A manager may, for a rep of the team they lead.
    activity = services.activity_log(
        actor=manager, kind="visita", contact=contact, outcome="Ok", owner=rep
    )
    assert activity.owner == rep


def test_an_opportunity_must_be_visible_and_of_the_account(rep, other_rep, contact):
    theirs = OpportunityFactory(owner=other_rep)
    with pytest.raises(PermissionDenied):
        services.activity_log(
            actor=rep, kind="visita", outcome="Ok", account=theirs.account, opportunity=theirs
        )
    mine_elsewhere = OpportunityFactory(owner=rep)
    with pytest.raises(ValidationError):
        services.activity_log(
            actor=rep, kind="visita", outcome="Ok", contact=contact, opportunity=mine_elsewhere
        )
    mine = OpportunityFactory(owner=rep, account=contact.account)
    activity = services.activity_log(actor=rep, kind="visita", outcome="Ok", opportunity=mine)
    assert activity.account == contact.account


def test_complete_requires_the_outcome(rep):
    activity = ActivityFactory(owner=rep)
    with pytest.raises(ValidationError):
        services.activity_complete(actor=rep, activity=activity, outcome="  ")
    activity.refresh_from_db()
    assert activity.status == Activity.Status.PLANNED
    done = services.activity_complete(actor=rep, activity=activity, outcome="Firmó")
    assert done.status == Activity.Status.DONE
    assert done.outcome == "Firmó"
    activity.account.refresh_from_db()
    assert activity.account.last_contacted_at == done.done_at


def test_state_machine_refuses_the_wrong_state(rep):
    activity = ActivityFactory(owner=rep)
    services.activity_cancel(actor=rep, activity=activity)
    with pytest.raises(ValidationError):
        services.activity_complete(actor=rep, activity=activity, outcome="Ok")
    with pytest.raises(ValidationError):
        services.activity_cancel(actor=rep, activity=activity)
    with pytest.raises(ValidationError):
        services.activity_update(actor=rep, activity=activity, data={"subject": "X"})
    activity.refresh_from_db()
    assert activity.status == Activity.Status.CANCELLED
    done = ActivityFactory(owner=rep)
    services.activity_complete(actor=rep, activity=done, outcome="Ok")
    with pytest.raises(ValidationError):
        services.activity_complete(actor=rep, activity=done, outcome="Otra vez")
    with pytest.raises(ValidationError):
        services.activity_cancel(actor=rep, activity=done)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("rep", True),
        ("manager", True),
        ("admin_user", True),
        ("other_rep", False),
        ("support", False),
        ("marketing", False),
    ],
)
def test_who_may_change_a_reps_activity(request, rep, role, allowed):
    activity = ActivityFactory(owner=rep)
    user = request.getfixturevalue(role)
    if allowed:
        assert services.activity_complete(actor=user, activity=activity, outcome="Ok")
    else:
        with pytest.raises(PermissionDenied):
            services.activity_complete(actor=user, activity=activity, outcome="Ok")
        with pytest.raises(PermissionDenied):
            services.activity_cancel(actor=user, activity=activity)
        activity.refresh_from_db()
        assert activity.status == Activity.Status.PLANNED


def test_rescheduling_sends_the_reminder_again(rep):
    activity = ActivityFactory(owner=rep, reminder_sent_at=timezone.now())
    later = activity.planned_at + timedelta(hours=2)
    services.activity_update(
        actor=rep, activity=activity, data={"planned_at": later, "subject": "Demo"}
    )
    activity.refresh_from_db()
    assert (activity.planned_at, activity.subject) == (later, "Demo")
    assert activity.reminder_sent_at is None


def test_update_of_a_done_activity_keeps_its_outcome(rep, contact):
    activity = services.activity_log(actor=rep, kind="visita", contact=contact, outcome="Ok")
    with pytest.raises(ValidationError):
        services.activity_update(actor=rep, activity=activity, data={"outcome": ""})
    activity.refresh_from_db()
    assert activity.outcome == "Ok"


def test_contact_attempt_logs_and_returns_the_links(rep, contact):
    activity, link = services.contact_attempt_log(actor=rep, contact=contact, channel="llamada")
    assert link == "tel:+525512345678"
    assert activity.kind == ActivityKind.CALL
    assert activity.status == Activity.Status.DONE
    activity, link = services.contact_attempt_log(actor=rep, contact=contact, channel="whatsapp")
    assert link.startswith("https://wa.me/525512345678?text=")
    assert unquote(link.split("text=")[1]).startswith("Hola, Elena.")
    assert " " not in link
    assert Activity.objects.filter(contact=contact).count() == 2
    contact.refresh_from_db()
    assert contact.last_contacted_at is not None


def test_contact_attempt_without_phone(rep):
    contact = ContactFactory(owner=rep, mobile="", phone="")
    with pytest.raises(ValidationError):
        services.contact_attempt_log(actor=rep, contact=contact, channel="whatsapp")
    assert not Activity.objects.exists()


def test_calendar_feed_rotation(rep):
    feed = services.calendar_feed_get_or_create(user=rep)
    assert services.calendar_feed_get_or_create(user=rep).token == feed.token
    rotated = services.calendar_feed_rotate(user=rep)
    assert rotated.pk == feed.pk
    assert rotated.token != feed.token
