"""The SLA clock of a ticket: start, pause and resume, priority changes, targets reached, and
the queues' filters. Hand-computed on the default calendar (Mexico City, Monday to Friday 9-18,
16 September 2026 a holiday) and the default policies (alta: first response 120, resolution 540
business minutes; media: 240 and 1620; urgente: 60 and 240; baja: 540 and 2700; warnings in
the last 25 %)."""

import datetime
import zoneinfo
from unittest import mock

import pytest

from support.models import SlaPolicy, Ticket
from support.selectors.sla import sla_breached_q, sla_due_soon_q, sla_flag, sla_flags
from support.services.sla import (
    sla_mark_first_response,
    sla_mark_resolved,
    sla_pause,
    sla_reprioritize,
    sla_resume,
    sla_setup_load,
    sla_start,
)
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

MX = zoneinfo.ZoneInfo("America/Mexico_City")


def mx(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=MX)


def started(priority: str, at: datetime.datetime) -> Ticket:
    ticket = TicketFactory(priority=priority)
    ticket.created_at = at  # opened then (auto_now_add stamped the real now on insert)
    sla_start(ticket, now=at)
    ticket.save()
    return ticket


@pytest.fixture
def ticket() -> Ticket:
    """An «alta» ticket opened on Monday 14 September 2026 at 10:00."""
    return started("alta", mx(2026, 9, 14, 10))


def test_start_sets_the_due_and_warning_times(ticket):
    assert ticket.first_response_due == mx(2026, 9, 14, 12)
    assert ticket.first_response_warn_at == mx(2026, 9, 14, 11, 30)  # 90 of 120
    # 540 minutes: 480 on Monday, 60 on Tuesday.
    assert ticket.resolution_due == mx(2026, 9, 15, 10)
    assert ticket.resolution_warn_at == mx(2026, 9, 14, 16, 45)  # 405 of 540
    assert ticket.first_response_left is ticket.resolution_left is ticket.paused_at is None
    assert not ticket.first_response_breached and not ticket.resolution_breached


def test_start_on_a_weekend_counts_from_monday():
    ticket = started("urgente", mx(2026, 9, 19, 22))  # Saturday night
    assert ticket.first_response_due == mx(2026, 9, 21, 10)
    assert ticket.resolution_due == mx(2026, 9, 21, 13)


def test_a_priority_without_policy_has_no_due_times():
    SlaPolicy.objects.filter(priority="baja").delete()
    ticket = started("baja", mx(2026, 9, 14, 10))
    assert ticket.first_response_due is None and ticket.resolution_due is None
    assert sla_flags(ticket, mx(2027, 1, 1)) == {"first_response": "ok", "resolution": "ok"}


def test_pause_keeps_the_minutes_left_and_resume_restarts_from_then(ticket):
    sla_pause(ticket, now=mx(2026, 9, 14, 11))
    assert ticket.paused_at == mx(2026, 9, 14, 11)
    assert (ticket.first_response_left, ticket.resolution_left) == (60, 480)
    assert ticket.first_response_due is ticket.resolution_due is None
    assert ticket.first_response_warn_at is ticket.resolution_warn_at is None

    sla_pause(ticket, now=mx(2026, 9, 14, 15))  # already paused: nothing moves
    assert ticket.paused_at == mx(2026, 9, 14, 11)
    assert ticket.first_response_left == 60

    # The customer answers on Tuesday at 17:30; Wednesday 16 is a holiday.
    sla_resume(ticket, now=mx(2026, 9, 15, 17, 30))
    assert ticket.paused_at is None
    assert ticket.first_response_left is ticket.resolution_left is None
    assert ticket.first_response_due == mx(2026, 9, 17, 9, 30)  # 30 Tuesday + 30 Thursday
    assert ticket.first_response_warn_at == mx(2026, 9, 15, 18)  # 30 left - 30 warning
    assert ticket.resolution_due == mx(2026, 9, 17, 16, 30)  # 30 Tuesday + 450 Thursday
    assert ticket.resolution_warn_at == mx(2026, 9, 17, 14, 15)  # 345 of the 480
    assert not ticket.first_response_breached


def test_resume_without_a_pause_changes_nothing(ticket, django_assert_num_queries):
    due = ticket.first_response_due
    with django_assert_num_queries(0):
        sla_resume(ticket, now=mx(2026, 9, 14, 11))
    assert ticket.first_response_due == due


def test_a_target_overdue_when_paused_stays_overdue(ticket):
    sla_pause(ticket, now=mx(2026, 9, 14, 12, 30))  # first response was due at 12:00
    assert ticket.first_response_breached
    assert ticket.first_response_left == -30
    assert ticket.resolution_left == 390  # 330 on Monday, 60 on Tuesday
    assert sla_flags(ticket, mx(2026, 9, 14, 13)) == {
        "first_response": "breached",
        "resolution": "ok",
    }
    sla_resume(ticket, now=mx(2026, 9, 15, 9))
    assert ticket.first_response_due == mx(2026, 9, 14, 17, 30)  # 30 business minutes ago
    assert ticket.first_response_breached


def test_pausing_after_closing_time_past_the_due_is_overdue():
    ticket = started("urgente", mx(2026, 9, 14, 17, 30))
    assert ticket.first_response_due == mx(2026, 9, 15, 9, 30)
    ticket.first_response_due = mx(2026, 9, 14, 18)  # as if it had been due at closing
    sla_pause(ticket, now=mx(2026, 9, 14, 19))
    assert ticket.first_response_breached
    assert ticket.first_response_left == -1  # overdue, though no business minute passed


def test_raising_the_priority_counts_the_time_already_spent(ticket):
    ticket.priority = "media"
    Ticket.objects.filter(pk=ticket.pk).update(priority="media")
    sla_start(ticket, now=mx(2026, 9, 14, 10))  # media: 240 and 1620 from Monday 10:00
    ticket.save()
    # 90 business minutes later it becomes urgent (60 and 240): first response is 30
    # minutes overdue, resolution has 150 minutes left.
    ticket.priority = "urgente"
    sla_reprioritize(ticket, now=mx(2026, 9, 14, 11, 30))  # the old priority from the database
    assert ticket.first_response_breached
    assert ticket.first_response_due == mx(2026, 9, 14, 11)
    assert ticket.resolution_due == mx(2026, 9, 14, 14)
    assert ticket.resolution_warn_at == mx(2026, 9, 14, 13)  # 60 before
    assert not ticket.resolution_breached


def test_lowering_the_priority_gives_the_time_back(ticket):
    # alta (120 / 540), 150 business minutes later: first response 30 overdue.
    ticket.priority = "baja"  # 540 / 2700
    sla_reprioritize(ticket, now=mx(2026, 9, 14, 12, 30), previous_priority="alta")
    assert not ticket.first_response_breached
    # 390 left (-30 + 420): 330 on Monday, 60 on Tuesday.
    assert ticket.first_response_due == mx(2026, 9, 15, 10)
    # 2550 left (390 + 2160): Monday 330, Tuesday 540, Thursday 540, Friday 540, Monday 540,
    # and 60 on Tuesday 22.
    assert ticket.resolution_due == mx(2026, 9, 22, 10)
    assert not ticket.resolution_breached


def test_reprioritize_while_paused_moves_the_minutes_left(ticket):
    sla_pause(ticket, now=mx(2026, 9, 14, 11))  # 60 and 480 left
    ticket.priority = "urgente"
    sla_reprioritize(ticket, now=mx(2026, 9, 14, 15), previous_priority="alta")
    assert (ticket.first_response_left, ticket.resolution_left) == (0, 180)
    assert ticket.first_response_due is None  # still paused
    ticket.priority = "alta"
    sla_reprioritize(ticket, now=mx(2026, 9, 14, 15), previous_priority="urgente")
    assert (ticket.first_response_left, ticket.resolution_left) == (60, 480)


def test_reprioritize_leaves_a_reached_target_alone(ticket):
    ticket.first_response_at = mx(2026, 9, 14, 10, 30)
    sla_mark_first_response(ticket, now=mx(2026, 9, 14, 10, 30))
    ticket.priority = "urgente"
    sla_reprioritize(ticket, now=mx(2026, 9, 14, 11), previous_priority="alta")
    assert ticket.first_response_due is None and not ticket.first_response_breached
    assert ticket.resolution_due == mx(2026, 9, 14, 14)  # 240 - 60 spent = 180 from 11:00


def test_same_priority_is_not_a_change(ticket, django_assert_num_queries):
    due = ticket.resolution_due
    with django_assert_num_queries(1):  # the previous priority, read from the database
        sla_reprioritize(ticket, now=mx(2026, 9, 14, 15))
    assert ticket.resolution_due == due


def test_first_response_in_time_is_met_and_late_is_breached(ticket):
    sla_mark_first_response(ticket, now=mx(2026, 9, 14, 11, 59))
    assert not ticket.first_response_breached
    assert ticket.first_response_due is None and ticket.first_response_warn_at is None
    late = started("alta", mx(2026, 9, 14, 10))
    sla_mark_first_response(late, now=mx(2026, 9, 14, 12, 1))
    assert late.first_response_breached
    assert sla_flags(late, mx(2026, 9, 14, 12, 5))["first_response"] == "breached"


def test_first_response_while_waiting_reads_the_minutes_left(ticket):
    sla_pause(ticket, now=mx(2026, 9, 14, 11))
    sla_mark_first_response(ticket, now=mx(2026, 9, 18, 11))  # days later, but paused
    assert not ticket.first_response_breached
    assert ticket.first_response_left is None
    assert ticket.resolution_left == 480  # still paused


def test_resolved_freezes_the_verdict_and_a_reopening_resumes_the_clock(ticket):
    sla_mark_resolved(ticket, now=mx(2026, 9, 14, 17))  # 420 of 540: met
    assert not ticket.resolution_breached
    assert ticket.resolution_due is None and ticket.resolution_left == 120
    assert sla_flags(ticket, mx(2026, 9, 30))["resolution"] == "ok"
    # The customer writes again a week later: the 120 minutes left run from then.
    sla_resume(ticket, now=mx(2026, 9, 21, 9))
    assert ticket.resolution_due == mx(2026, 9, 21, 11)


def test_resolved_late_is_breached(ticket):
    sla_mark_resolved(ticket, now=mx(2026, 9, 15, 10, 1))
    assert ticket.resolution_breached
    assert sla_flag(ticket, mx(2026, 9, 15, 11)) == "breached"


def test_reaching_a_target_stores_the_business_minutes_since_creation(ticket):
    # Opened Monday 14 September at 10:00; Wednesday 16 is a holiday.
    sla_mark_first_response(ticket, now=mx(2026, 9, 14, 11, 30))
    assert ticket.first_response_business_minutes == 90
    assert ticket.resolution_business_minutes is None
    # Monday 10-18 (480) + Tuesday 9-18 (540) + Thursday 9-10:15 (75).
    sla_mark_resolved(ticket, now=mx(2026, 9, 17, 10, 15))
    assert ticket.resolution_business_minutes == 1095
    ticket.save()
    ticket.refresh_from_db()
    assert (ticket.first_response_business_minutes, ticket.resolution_business_minutes) == (
        90,
        1095,
    )


def test_the_minutes_count_the_waiting_and_start_when_the_company_opens():
    ticket = started("urgente", mx(2026, 9, 19, 22))  # Saturday night
    sla_pause(ticket, now=mx(2026, 9, 21, 9, 20))
    sla_mark_first_response(ticket, now=mx(2026, 9, 21, 9, 45))  # waiting since 9:20: counted
    assert ticket.first_response_business_minutes == 45
    early = started("urgente", mx(2026, 9, 19, 22))
    sla_mark_first_response(early, now=mx(2026, 9, 21, 8, 30))  # before Monday's opening
    assert early.first_response_business_minutes == 0


def test_with_a_setup_the_minutes_cost_no_query(django_assert_num_queries):
    setup = sla_setup_load()
    ticket = started("alta", mx(2026, 9, 14, 10))
    with django_assert_num_queries(0):
        sla_mark_first_response(ticket, now=mx(2026, 9, 14, 10, 30), setup=setup)
        sla_mark_resolved(ticket, now=mx(2026, 9, 14, 11), setup=setup)
    assert (ticket.first_response_business_minutes, ticket.resolution_business_minutes) == (
        30,
        60,
    )
    unsaved = TicketFactory.build(priority="alta")  # no creation time: nothing to measure
    sla_mark_first_response(unsaved, now=mx(2026, 9, 14, 10, 30), setup=setup)
    assert unsaved.first_response_business_minutes is None


def test_flags_ok_soon_breached(ticket):
    assert sla_flags(ticket, mx(2026, 9, 14, 11)) == {"first_response": "ok", "resolution": "ok"}
    assert sla_flags(ticket, mx(2026, 9, 14, 11, 30))["first_response"] == "soon"
    assert sla_flags(ticket, mx(2026, 9, 14, 12, 1))["first_response"] == "breached"
    assert sla_flags(ticket, mx(2026, 9, 14, 17)) == {
        "first_response": "breached",
        "resolution": "soon",
    }
    assert sla_flag(ticket, mx(2026, 9, 14, 17)) == "breached"
    assert sla_flag(ticket, mx(2026, 9, 14, 11, 45)) == "soon"


def test_queue_filters(ticket):
    ok = started("baja", mx(2026, 9, 14, 10))
    soon = started("urgente", mx(2026, 9, 14, 10, 20))  # first response due 11:20, warn 11:05
    waiting = started("urgente", mx(2026, 9, 14, 9))
    sla_pause(waiting, now=mx(2026, 9, 14, 9, 30))
    waiting.status = Ticket.Status.WAITING
    waiting.save()
    resolved = started("urgente", mx(2026, 9, 14, 9))
    resolved.status = Ticket.Status.RESOLVED
    resolved.save()  # due times kept on purpose: the status alone keeps it out
    now = mx(2026, 9, 14, 12, 5)  # `ticket` (alta) is 5 minutes past its first response
    breached = set(Ticket.objects.filter(sla_breached_q(now)).values_list("pk", flat=True))
    assert breached == {ticket.pk, soon.pk}
    now = mx(2026, 9, 14, 11, 10)
    assert set(Ticket.objects.filter(sla_due_soon_q(now)).values_list("pk", flat=True)) == {soon.pk}
    assert set(Ticket.objects.filter(sla_breached_q(now)).values_list("pk", flat=True)) == set()
    now = mx(2026, 9, 14, 11, 45)  # ticket soon; `soon` already overdue: not "about to"
    assert set(Ticket.objects.filter(sla_due_soon_q(now)).values_list("pk", flat=True)) == {
        ticket.pk
    }
    assert not Ticket.objects.filter(sla_due_soon_q(now), pk=ok.pk).exists()


def test_setup_is_loaded_once_for_many_tickets(django_assert_num_queries):
    with django_assert_num_queries(3):
        setup = sla_setup_load()
    tickets = [TicketFactory.build(priority=p) for p in ("baja", "media", "alta", "urgente")]
    with django_assert_num_queries(0):
        for ticket in tickets:
            sla_start(ticket, now=mx(2026, 9, 14, 10), setup=setup)
            sla_pause(ticket, now=mx(2026, 9, 14, 11), setup=setup)
            sla_resume(ticket, now=mx(2026, 9, 15, 11), setup=setup)
            sla_mark_resolved(ticket, now=mx(2026, 9, 15, 12), setup=setup)
    assert all(t.resolution_left is not None for t in tickets)


def test_the_ticket_services_drive_the_clock(support):
    """The wiring: creating, waiting for the customer and resolving move the SLA fields."""
    from accounts.tests.factories import AccountFactory
    from support.services.tickets import ticket_create, ticket_transition

    account = AccountFactory()
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 14, 10)):
        ticket = ticket_create(
            actor=support,
            account=account,
            subject="La impresora térmica no imprime",
            category="incidencia",
            channel="telefono",
            priority="alta",
        )
    assert ticket.first_response_due == mx(2026, 9, 14, 12)
    assert ticket.resolution_due == mx(2026, 9, 15, 10)
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 14, 11)):
        ticket = ticket_transition(actor=support, ticket=ticket, to_status="en_espera")
    ticket.refresh_from_db()
    assert ticket.paused_at == mx(2026, 9, 14, 11)
    assert (ticket.first_response_left, ticket.resolution_left) == (60, 480)
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 15, 17, 30)):
        ticket = ticket_transition(actor=support, ticket=ticket, to_status="abierto")
    ticket.refresh_from_db()
    assert ticket.first_response_due == mx(2026, 9, 17, 9, 30)
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 17, 12)):
        ticket = ticket_transition(
            actor=support, ticket=ticket, to_status="resuelto", resolution="Se cambió el rodillo."
        )
    ticket.refresh_from_db()
    assert ticket.resolution_due is None and not ticket.resolution_breached
    assert ticket.first_response_breached  # no reply before Thursday 9:30


def test_a_reopened_ticket_resolved_again_counts_its_minutes_afresh(support):
    """Through the services: resolving stores the minutes since creation; reopening clears
    them with the resolution time; resolving again counts them from creation once more."""
    from accounts.tests.factories import AccountFactory
    from support.services.tickets import (
        ticket_create,
        ticket_customer_replied,
        ticket_record_first_response,
        ticket_transition,
    )

    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 14, 10)):
        ticket = ticket_create(
            actor=support,
            account=AccountFactory(),
            subject="La impresora térmica no imprime",
            category="incidencia",
            channel="telefono",
            priority="alta",
        )
    ticket_record_first_response(ticket=ticket, actor=support, at=mx(2026, 9, 14, 11, 15))
    ticket.refresh_from_db()
    assert ticket.first_response_business_minutes == 75
    assert ticket.resolution_business_minutes is None
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 14, 17)):
        ticket = ticket_transition(
            actor=support, ticket=ticket, to_status="resuelto", resolution="Se cambió el rodillo."
        )
    ticket.refresh_from_db()
    assert ticket.resolution_business_minutes == 420
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 15, 9)):
        ticket = ticket_transition(actor=support, ticket=ticket, to_status="abierto")
    ticket.refresh_from_db()
    assert ticket.resolved_at is None and ticket.resolution_business_minutes is None
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 15, 12)):
        ticket = ticket_transition(actor=support, ticket=ticket, to_status="resuelto")
    ticket.refresh_from_db()
    assert ticket.resolution_business_minutes == 480 + 180  # Monday 10-18, Tuesday 9-12
    # The customer's reply reopens it too; resolved on Thursday (Wednesday is a holiday).
    ticket_customer_replied(ticket=ticket, at=mx(2026, 9, 15, 15))
    ticket.refresh_from_db()
    assert ticket.resolution_business_minutes is None
    with mock.patch("django.utils.timezone.now", return_value=mx(2026, 9, 17, 9, 30)):
        ticket_transition(actor=support, ticket=ticket, to_status="resuelto")
    ticket.refresh_from_db()
    assert ticket.resolution_business_minutes == 480 + 540 + 30
    assert ticket.first_response_business_minutes == 75  # the first response stays
