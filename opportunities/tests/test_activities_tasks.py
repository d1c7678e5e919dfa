"""Reminders and the weekly visit plan: run eagerly, twice, one effect."""

from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from crm.celery import app
from opportunities.models import Activity, ActivityKind
from opportunities.services import activities as services
from opportunities.tasks.activities import activity_reminders_send_task, visits_plan_weekly_task
from opportunities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def test_reminder_sent_once(eager, settings, rep, other_rep):
    settings.ACTIVITY_REMINDER_MINUTES = 60
    rep.time_zone = "Europe/Madrid"
    rep.save()
    soon = ActivityFactory(
        owner=rep,
        planned_at=timezone.now() + timedelta(minutes=30),
        place="Calle Mayor 1, Madrid",
        subject="Revisión del pedido",
    )
    ActivityFactory(owner=other_rep, planned_at=timezone.now() + timedelta(hours=3))  # later
    ActivityFactory(owner=other_rep, planned_at=timezone.now() - timedelta(minutes=5))  # past
    ActivityFactory(
        owner=other_rep, planned_at=timezone.now() + timedelta(minutes=10), status="cancelada"
    )

    activity_reminders_send_task.delay()
    activity_reminders_send_task.delay()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [rep.email]
    local = soon.planned_at.astimezone(services.user_zone(rep))
    assert f"a las {local:%H:%M}" in message.subject
    assert soon.account.name in message.subject
    assert "Calle Mayor 1, Madrid" in message.body
    assert "Revisión del pedido" in message.body
    assert soon.get_absolute_url() in message.body
    assert "&amp;" not in message.body
    soon.refresh_from_db()
    assert soon.reminder_sent_at is not None


def test_a_row_claimed_by_another_worker_is_not_sent(rep):
    activity = ActivityFactory(owner=rep, planned_at=timezone.now() + timedelta(minutes=10))
    real_update = Activity.objects.filter

    # Between the read of the due rows and the claim, another worker claims it.
    def claimed_elsewhere(*args, **kwargs):
        if kwargs.get("reminder_sent_at__isnull") and "pk" in kwargs:
            Activity.objects.filter(pk=activity.pk).update(reminder_sent_at=timezone.now())
        return real_update(*args, **kwargs)

    with mock.patch.object(Activity.objects, "filter", side_effect=claimed_elsewhere):
        assert services.activity_reminders_send() == 0
    assert mail.outbox == []


def test_a_failed_send_releases_the_claim(rep):
    activity = ActivityFactory(owner=rep, planned_at=timezone.now() + timedelta(minutes=10))
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("SMTP caído")):
        assert services.activity_reminders_send() == 0
    activity.refresh_from_db()
    assert activity.reminder_sent_at is None
    assert services.activity_reminders_send() == 1
    assert len(mail.outbox) == 1


def test_weekly_plan_runs_twice_one_visit(eager, rep, other_rep):
    due = AccountFactory(owner=rep, tier_auto="A", name="Debida")
    planned = AccountFactory(owner=rep, tier_auto="A", name="Ya planificada")
    ActivityFactory(owner=rep, account=planned, planned_at=timezone.now() + timedelta(days=3))
    recent = AccountFactory(owner=rep, tier_auto="B", name="Visitada")
    ActivityFactory(
        owner=rep,
        account=recent,
        status="hecha",
        done_at=timezone.now() - timedelta(days=2),
        outcome="Ok",
    )
    AccountFactory(owner=rep, tier_auto="D", name="Nunca")
    theirs = AccountFactory(owner=other_rep, tier_auto="C", name="De otro")

    visits_plan_weekly_task.delay()
    visits_plan_weekly_task.delay()

    plan = Activity.objects.exclude(cadence_period="")
    assert sorted(plan.values_list("account__name", flat=True)) == ["De otro", "Debida"]
    visit = plan.get(account=due)
    assert (visit.kind, visit.status, visit.owner) == (ActivityKind.VISIT, "planificada", rep)
    assert plan.get(account=theirs).owner == other_rep
    local = visit.planned_at.astimezone(services.user_zone(rep))
    assert local.weekday() < 5
    assert visit.cadence_period == services.iso_week_period(local.date())
    assert local.date() > timezone.localdate() or timezone.localdate().weekday() == 0


def test_weekly_plan_is_idempotent_per_period_even_after_cancelling(rep):
    account = AccountFactory(owner=rep, tier_auto="A")
    monday = date(2030, 3, 4)
    assert services.visits_plan_weekly(today=monday) == 1
    visit = Activity.objects.get()
    assert visit.cadence_period == "2030-W10"
    services.activity_cancel(actor=rep, activity=visit)
    assert services.visits_plan_weekly(today=monday - timedelta(days=2)) == 0  # same week
    assert services.visits_plan_weekly(today=monday + timedelta(days=7)) == 1  # the next one
    assert Activity.objects.filter(account=account).count() == 2


def test_the_race_on_the_unique_period_is_harmless(rep):
    account = AccountFactory(owner=rep, tier_auto="A")
    when = timezone.make_aware(datetime(2030, 3, 4, 10))
    first = services._plan_visit(account=account, period="2030-W10", planned_at=when)
    second = services._plan_visit(account=account, period="2030-W10", planned_at=when)
    assert first is not None
    assert second is None
    assert Activity.objects.count() == 1
