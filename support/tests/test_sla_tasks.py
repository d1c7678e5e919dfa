"""The SLA check (beat job): "vence pronto" warnings and breaches, each sent once per ticket,
target and kind, to the right people; breached flags for the queues and reports."""

import zoneinfo
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from crm.celery import app
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from support.models import SlaNotice, Ticket
from support.services import sla as services
from support.tasks.sla import sla_check_task
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

FIRST, RESOLUTION = SlaNotice.Target.FIRST_RESPONSE, SlaNotice.Target.RESOLUTION
WARNING, BREACH = SlaNotice.Kind.WARNING, SlaNotice.Kind.BREACH


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def agent(db):
    """A support agent in a team led by a support manager."""
    lead = UserFactory(username="jefa_soporte", role=Role.ADMINISTRADOR, first_name="Marta")
    team = TeamFactory(name="Mesa de ayuda", manager=lead)
    return UserFactory(username="agente", role=Role.SOPORTE, team=team, first_name="Daniel")


def ticket_due(*, assignee=None, soon=None, overdue=None, **kwargs) -> Ticket:
    """A ticket whose first response is in its warning stretch (`soon`) or past due
    (`overdue`), relative to the real clock; its resolution far away."""
    now = timezone.now()
    fields = {
        "priority": "alta",
        "status": "abierto",
        "first_response_warn_at": now + timedelta(hours=1),
        "first_response_due": now + timedelta(hours=2),
        "resolution_warn_at": now + timedelta(days=2),
        "resolution_due": now + timedelta(days=3),
    }
    if soon:
        fields["first_response_warn_at"] = now - soon
        fields["first_response_due"] = now + timedelta(minutes=20)
    if overdue:
        fields["first_response_warn_at"] = now - overdue - timedelta(minutes=30)
        fields["first_response_due"] = now - overdue
    fields.update(kwargs)
    return TicketFactory(assignee=assignee, **fields)


def test_warning_sent_once_to_the_assignee(eager, agent):
    ticket = ticket_due(assignee=agent, soon=timedelta(minutes=5))
    ticket_due(assignee=agent)  # not yet in its warning stretch

    sla_check_task.delay()
    sla_check_task.delay()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [agent.email]
    assert ticket.number in message.subject
    assert "Vence pronto la primera respuesta" in message.subject
    assert "Hola, Daniel:" in message.body
    assert ticket.subject in message.body
    assert ticket.account.name in message.body
    assert ticket.get_absolute_url() in message.body
    assert "&amp;" not in message.body and "&#" not in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and ticket.number in html
    notice = SlaNotice.objects.get()
    assert (notice.ticket, notice.target, notice.kind, notice.sent_to) == (
        ticket,
        FIRST,
        WARNING,
        agent,
    )
    ticket.refresh_from_db()
    assert not ticket.first_response_breached


def test_breach_warns_the_assignee_and_escalates_to_the_team_manager_once(eager, agent):
    ticket = ticket_due(assignee=agent, overdue=timedelta(minutes=3))

    sla_check_task.delay()
    sla_check_task.delay()

    assert sorted(m.to[0] for m in mail.outbox) == sorted([agent.email, agent.team.manager.email])
    to_agent = next(m for m in mail.outbox if m.to == [agent.email])
    to_manager = next(m for m in mail.outbox if m.to == [agent.team.manager.email])
    assert "Plazo vencido" in to_agent.subject and ticket.number in to_agent.subject
    assert "Escalada" in to_manager.subject
    assert agent.get_full_name() in to_manager.subject
    assert "Hola, Marta:" in to_manager.body
    # A target first seen overdue gets the breach only, not a late "vence pronto".
    assert list(SlaNotice.objects.values_list("target", "kind", "sent_to")) == [
        (FIRST, BREACH, agent.team.manager.pk)
    ]
    ticket.refresh_from_db()
    assert ticket.first_response_breached and not ticket.resolution_breached


def test_without_a_team_manager_the_administrators_hear_of_it(admin_user):
    lonely = UserFactory(username="agente2", role=Role.SOPORTE)
    UserFactory(username="admin_inactivo", role=Role.ADMINISTRADOR, is_active=False)
    UserFactory(username="admin_sin_correo", role=Role.ADMINISTRADOR, email="")
    root = UserFactory(username="raiz", role=Role.VENDEDOR, is_superuser=True)
    ticket_due(assignee=lonely, overdue=timedelta(minutes=1))

    summary = services.sla_check(now=timezone.now())

    assert summary["breaches"] == 1 and summary["flagged"] == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [lonely.email, admin_user.email, root.email]
    )


def test_an_unassigned_ticket_goes_to_every_active_support_user_and_administrator(
    support, admin_user, rep
):
    other = UserFactory(username="soporte2", role=Role.SOPORTE)
    UserFactory(username="soporte_baja", role=Role.SOPORTE, is_active=False)
    ticket = ticket_due(soon=timedelta(minutes=1), created_by=support)

    services.sla_check(now=timezone.now())
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted([support.email, other.email, admin_user.email])
    assert all("nadie la tiene asignada" in m.body for m in mail.outbox)

    mail.outbox.clear()
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due=timezone.now() - timedelta(minutes=1)
    )
    services.sla_check(now=timezone.now())
    assert sorted(m.to[0] for m in mail.outbox) == recipients
    assert all("Escalada" in m.subject and "sin asignar" in m.subject for m in mail.outbox)
    assert SlaNotice.objects.filter(ticket=ticket).count() == 2


def test_waiting_resolved_and_reached_targets_are_left_alone(agent):
    now = timezone.now()
    ticket_due(assignee=agent, overdue=timedelta(hours=1), status="en_espera", paused_at=now)
    ticket_due(assignee=agent, overdue=timedelta(hours=1), status="resuelto")
    ticket_due(assignee=agent, overdue=timedelta(hours=1), status="cerrado", resolution="Hecho")
    ticket_due(
        assignee=agent,
        first_response_due=None,
        first_response_warn_at=None,
        first_response_at=now - timedelta(hours=2),
    )
    assert services.sla_check(now=now) == {
        "restarted": 0,
        "flagged": 0,
        "warnings": 0,
        "breaches": 0,
    }
    assert mail.outbox == []
    assert not Ticket.objects.filter(first_response_breached=True).exists()


def test_both_targets_and_both_kinds_are_separate_notices(agent):
    now = timezone.now()
    ticket = ticket_due(
        assignee=agent,
        soon=timedelta(minutes=10),
        resolution_warn_at=now - timedelta(hours=1),
        resolution_due=now - timedelta(minutes=1),
    )
    summary = services.sla_check(now=now)
    assert (summary["warnings"], summary["breaches"]) == (1, 1)
    assert set(SlaNotice.objects.values_list("target", "kind")) == {
        (FIRST, WARNING),
        (RESOLUTION, BREACH),
    }
    # Later the first response runs out too: its breach is new; nothing else is repeated.
    Ticket.objects.filter(pk=ticket.pk).update(first_response_due=now - timedelta(minutes=1))
    summary = services.sla_check(now=now)
    assert (summary["warnings"], summary["breaches"]) == (0, 1)
    assert SlaNotice.objects.count() == 3


def test_a_notice_claimed_by_another_worker_is_not_sent(agent, monkeypatch):
    ticket = ticket_due(assignee=agent, soon=timedelta(minutes=5))
    real_batches = services._batches

    # Between reading the due tickets and claiming them, another worker sends the warning.
    def raced(ids):
        SlaNotice.objects.create(ticket=ticket, target=FIRST, kind=WARNING, sent_to=agent)
        yield from real_batches(ids)

    monkeypatch.setattr(services, "_batches", raced)
    assert services.sla_check(now=timezone.now())["warnings"] == 0
    assert mail.outbox == []
    assert SlaNotice.objects.count() == 1


def test_the_unique_constraint_is_the_guard():
    ticket = TicketFactory()
    SlaNotice.objects.create(ticket=ticket, target=FIRST, kind=BREACH)
    with pytest.raises(IntegrityError):
        SlaNotice.objects.create(ticket=ticket, target=FIRST, kind=BREACH)


def test_a_failed_send_releases_the_claim(agent):
    ticket_due(assignee=agent, soon=timedelta(minutes=5))
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=OSError("SMTP caído"),
    ):
        assert services.sla_check(now=timezone.now())["warnings"] == 0
    assert not SlaNotice.objects.exists()
    assert services.sla_check(now=timezone.now())["warnings"] == 1
    assert len(mail.outbox) == 1


def test_many_tickets_without_a_query_per_ticket_and_person(
    agent, admin_user, django_assert_max_num_queries
):
    others = [
        UserFactory(
            role=Role.SOPORTE,
            team=TeamFactory(manager=UserFactory(role=Role.ADMINISTRADOR)),
        )
        for _ in range(5)
    ]
    for n in range(30):
        ticket_due(assignee=[agent, *others][n % 6], overdue=timedelta(minutes=n + 1))
    # Each notice costs its own claim (savepoint, insert, release); loading the tickets, their
    # customers, assignees, teams and managers costs the same for 30 tickets as for 3.
    with django_assert_max_num_queries(12 + 3 * 30):
        summary = services.sla_check(now=timezone.now())
    assert summary["breaches"] == 30
    assert len(mail.outbox) == 60


def test_emails_show_the_due_time_in_the_recipients_time_zone(agent):
    agent.time_zone = "Europe/Madrid"
    agent.save()
    due = timezone.now() + timedelta(minutes=20)
    ticket_due(assignee=agent, soon=timedelta(minutes=5), first_response_due=due)
    services.sla_check(now=timezone.now())
    local = timezone.localtime(due, timezone=zoneinfo.ZoneInfo("Europe/Madrid"))
    assert f"{local:%H:%M}" in mail.outbox[0].subject
    assert f"{local:%H:%M} ({local.tzname()})" in mail.outbox[0].body


def test_a_reopened_ticket_with_a_stopped_clock_is_restarted(agent):
    now = timezone.now()
    ticket = TicketFactory(
        assignee=agent,
        priority="alta",
        status="abierto",
        first_response_at=now - timedelta(days=1),
        resolution_left=120,
    )
    summary = services.sla_check(now=now)
    assert summary["restarted"] == 1
    ticket.refresh_from_db()
    assert ticket.resolution_left is None and ticket.resolution_due is not None
    assert ticket.resolution_due > now
    assert services.sla_check(now=now)["restarted"] == 0
