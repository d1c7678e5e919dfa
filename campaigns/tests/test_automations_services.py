"""Automations: each trigger's "once" key, the calendars, re-engagement then suppression, and
sending through the engine with consent, topic, suppression, pause and quiet hours."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail as django_mail
from django.utils import timezone

from campaigns.models import Automation, AutomationDelivery, Suppression
from campaigns.services import automations as services
from campaigns.services import automations_run as run
from campaigns.tasks import automations_materialise, automations_send
from campaigns.tests.factories import (
    AutomationFactory,
    AutomationStepFactory,
    SuppressionFactory,
    TopicFactory,
    TrackingEventFactory,
    consenting_contact,
)
from contacts.models import Consent
from contacts.services import consent_record
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db
MX = ZoneInfo("America/Mexico_City")
Row = AutomationDelivery.Status


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MX)


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TIME_ZONE = "America/Mexico_City"
    settings.AUTOMATION_QUIET_HOURS = (21, 8)


def rows(automation, **filters):
    return AutomationDelivery.objects.filter(automation=automation, **filters)


# --- Birthdays ----------------------------------------------------------------------------------


def test_birthday_materialises_once_per_year():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY, send_hour=9)
    today = consenting_contact(birthday=date(1990, 12, 6))
    consenting_contact(birthday=date(1990, 12, 7))
    consenting_contact(birthday=None)
    ContactFactory(birthday=date(1985, 12, 6))  # no consent
    now = local(2026, 12, 6, 1, 0)

    run.automation_materialise_one(automation=automation, now=now)
    run.automation_materialise_one(automation=automation, now=now + timedelta(hours=5))

    (row,) = rows(automation)
    assert (row.contact_id, row.occurrence, row.status) == (today.pk, "2026", Row.PENDING)
    assert row.due_at == local(2026, 12, 6, 9, 0)
    run.automation_materialise_one(automation=automation, now=local(2027, 12, 6, 1, 0))
    assert sorted(rows(automation).values_list("occurrence", flat=True)) == ["2026", "2027"]


def test_feb_29_birthdays_on_feb_28_of_a_common_year():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY)
    leap = consenting_contact(birthday=date(2000, 2, 29))
    consenting_contact(birthday=date(2000, 3, 1))

    run.automation_materialise_one(automation=automation, now=local(2027, 2, 28, 7))
    assert list(rows(automation).values_list("contact_id", "occurrence")) == [(leap.pk, "2027")]
    # In a leap year, on the day itself, and not the day before.
    run.automation_materialise_one(automation=automation, now=local(2028, 2, 28, 7))
    assert rows(automation, occurrence="2028").count() == 0
    run.automation_materialise_one(automation=automation, now=local(2028, 2, 29, 7))
    assert rows(automation, occurrence="2028").count() == 1


def test_next_birthdays_wrap_around_the_year():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY)
    jan = consenting_contact(birthday=date(1980, 1, 5))
    dec = consenting_contact(birthday=date(1980, 12, 20))
    found = run.next_birthdays(automation=automation, today=date(2026, 12, 6))
    assert [(d, c.pk) for d, c in found] == [
        (date(2026, 12, 20), dec.pk),
        (date(2027, 1, 5), jan.pk),
    ]


# --- Holidays -----------------------------------------------------------------------------------


def test_holiday_calendars_of_mexico_and_spain():
    mx = dict(services.holiday_choices("MX", 2026))
    es = dict(services.holiday_choices("ES", 2026))
    assert "Día de la Independencia" in mx
    assert "Fiesta Nacional de España" in es
    assert "Día de la Independencia" not in es
    assert services.holiday_names_on("MX", date(2026, 9, 16)) == {"Día de la Independencia"}


def test_holiday_materialises_on_the_chosen_days_only():
    automation = AutomationFactory(
        kind=Automation.Kind.HOLIDAY,
        holiday_country="MX",
        holiday_names=["Navidad"],
        send_hour=10,
    )
    contact = consenting_contact()
    run.automation_materialise_one(automation=automation, now=local(2026, 9, 16, 7))
    assert rows(automation).count() == 0
    for hour in (0, 7, 20):
        run.automation_materialise_one(automation=automation, now=local(2026, 12, 25, hour))
    (row,) = rows(automation)
    assert (row.contact_id, row.occurrence) == (contact.pk, "2026-12-25")
    assert row.due_at == local(2026, 12, 25, 10)
    assert [d for d, _n in services.next_holidays(automation, today=date(2026, 12, 26))] == [
        date(2027, 12, 25)
    ]


# --- Welcome series -----------------------------------------------------------------------------


def test_welcome_series_from_a_new_grant_with_delays():
    topic = TopicFactory(name="Ofertas")
    automation = AutomationFactory(kind=Automation.Kind.WELCOME, topic=topic, step=False)
    AutomationFactory._meta.model.objects.filter(pk=automation.pk).update(
        created_at=local(2026, 12, 1)
    )
    automation.refresh_from_db()
    AutomationStepFactory(automation=automation, order=1)
    AutomationStepFactory(automation=automation, order=2, delay_days=3)
    AutomationStepFactory(automation=automation, order=3, delay_days=7, delay_hours=2)
    contact = consenting_contact()
    granted = local(2026, 12, 5, 12, 30)
    ConsentFactory(contact=contact, topic=topic, at=granted)
    old = consenting_contact()
    ConsentFactory(contact=old, topic=topic, at=local(2026, 11, 1))  # before the automation

    run.automation_materialise_one(automation=automation, now=local(2026, 12, 6, 9))
    run.automation_materialise_one(automation=automation, now=local(2026, 12, 6, 10))

    found = list(rows(automation).order_by("step__order").values_list("occurrence", "due_at"))
    assert found == [
        ("2026-12-05", granted),
        ("2026-12-05", granted + timedelta(days=3)),
        ("2026-12-05", granted + timedelta(days=7, hours=2)),
    ]
    # A second grant later (re-subscribing) does not start the series again.
    ConsentFactory(contact=contact, topic=topic, at=local(2026, 12, 7, 9))
    run.automation_materialise_one(automation=automation, now=local(2026, 12, 7, 10))
    assert rows(automation).count() == 3


# --- Re-engagement ------------------------------------------------------------------------------


def test_reengagement_then_suppression_if_still_silent():
    automation = AutomationFactory(
        kind=Automation.Kind.REENGAGEMENT, inactive_days=30, suppress_after_days=10
    )
    start = timezone.now() - timedelta(days=100)
    silent = consenting_contact()
    active = consenting_contact()
    woke = consenting_contact()
    ContactFactory._meta.model.objects.filter(pk__in=[silent.pk, active.pk, woke.pk]).update(
        created_at=start
    )
    TrackingEventFactory(
        contact=active, send__contact=active, at=timezone.now() - timedelta(days=2)
    )
    now = timezone.now()

    run.automation_materialise_one(automation=automation, now=now)
    run.automation_materialise_one(automation=automation, now=now + timedelta(hours=1))
    assert set(rows(automation).values_list("contact_id", flat=True)) == {silent.pk, woke.pk}
    occurrence = rows(automation, contact=silent).get().occurrence
    assert occurrence == timezone.localtime(start).date().isoformat()

    sent_at = now - timedelta(days=11)
    rows(automation).update(status=Row.SENT, sent_at=sent_at)
    TrackingEventFactory(contact=woke, send__contact=woke, at=now - timedelta(days=5))

    run.automations_materialise(now=now)
    run.automations_materialise(now=now)

    assert list(Suppression.objects.values_list("email", flat=True)) == [silent.email]
    (note,) = rows(automation, step__isnull=True)
    assert (note.contact_id, note.status) == (silent.pk, Row.SUPPRESSED)
    assert AuditEvent.objects.filter(detail__event="reengagement_suppress").count() == 1


# --- Sending ------------------------------------------------------------------------------------


def _due_birthday(**kwargs):
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY, **kwargs)
    contact = consenting_contact(birthday=date(1990, 12, 6), first_name="Lucía")
    run.automation_materialise_one(automation=automation, now=local(2026, 12, 6, 1))
    return automation, contact


def test_send_goes_through_the_engine_once():
    automation, contact = _due_birthday()
    now = local(2026, 12, 6, 9, 5)
    result = run.automations_send(now=now)
    run.automations_send(now=now)
    assert result.sent == 1
    (message,) = django_mail.outbox
    assert message.to == [contact.email]
    assert "Lucía" in message.subject
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/m/auto/baja/" in message.extra_headers["List-Unsubscribe"]
    assert "send_id" not in message.metadata  # never taken for a campaign's ledger row
    row = rows(automation).get()
    assert row.status == Row.SENT
    assert row.message_id == message.extra_headers["Message-ID"]


def test_not_before_due_and_not_in_quiet_hours():
    automation, _contact = _due_birthday(send_hour=9)
    assert run.automations_send(now=local(2026, 12, 6, 8, 30)).sent == 0
    rows(automation).update(due_at=local(2026, 12, 6, 21, 30) - timedelta(hours=1))
    assert run.automations_send(now=local(2026, 12, 6, 21, 30)).sent == 0
    assert run.automations_send(now=local(2026, 12, 7, 7, 59)).sent == 0
    assert rows(automation).get().status == Row.PENDING
    assert run.automations_send(now=local(2026, 12, 7, 8, 0)).sent == 1


def test_skipped_without_consent_or_suppressed_with_reasons():
    topic = TopicFactory(name="Saludos")
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY, topic=topic)
    withdrawn = consenting_contact(birthday=date(1990, 12, 6))
    suppressed = consenting_contact(birthday=date(1991, 12, 6))
    left_topic = consenting_contact(birthday=date(1992, 12, 6))
    ok = consenting_contact(birthday=date(1993, 12, 6))
    run.automation_materialise_one(automation=automation, now=local(2026, 12, 6, 1))
    assert rows(automation).count() == 4
    consent_record(contact=withdrawn, action=Consent.Action.WITHDRAW, source="baja")
    SuppressionFactory(email=suppressed.email)
    consent_record(contact=left_topic, action=Consent.Action.WITHDRAW, topic=topic, source="baja")

    result = run.automations_send(now=local(2026, 12, 6, 10))

    assert result.sent == 1
    assert [m.to for m in django_mail.outbox] == [[ok.email]]
    reasons = dict(rows(automation, status=Row.SKIPPED).values_list("contact_id", "reason"))
    assert reasons == {
        withdrawn.pk: "Sin consentimiento para recibir correo.",
        suppressed.pk: "La dirección está en la lista de supresión.",
        left_topic.pk: "Se dio de baja de este tema.",
    }


def test_pause_stops_at_once_and_resume_continues(marketing):
    automation, _contact = _due_birthday()
    services.automation_pause(actor=marketing, automation=automation)
    assert run.automations_send(now=local(2026, 12, 6, 10)).sent == 0
    assert rows(automation).get().status == Row.PENDING  # left pending while paused
    services.automation_resume(actor=marketing, automation=automation)
    assert run.automations_send(now=local(2026, 12, 6, 11)).sent == 1
    assert AuditEvent.objects.filter(detail__event__in=["pause", "resume"]).count() == 2


def test_paused_between_claim_and_send_gives_rows_back(marketing):
    automation, _contact = _due_birthday()
    claimed = run.automation_claim(now=local(2026, 12, 6, 10))
    services.automation_pause(actor=marketing, automation=automation)
    result = run.automation_send_claimed(claimed=claimed)
    assert (result.sent, result.released) == (0, 1)
    assert rows(automation).get().status == Row.PENDING


def test_a_birthday_not_sent_on_its_day_expires():
    automation, _contact = _due_birthday()
    run.automations_send(now=local(2026, 12, 7, 10))
    row = rows(automation).get()
    assert row.status == Row.SKIPPED
    assert row.reason.startswith("Vencido")
    assert django_mail.outbox == []


def test_a_dead_workers_claim_becomes_doubtful(settings):
    automation, _contact = _due_birthday()
    claimed = run.automation_claim(now=local(2026, 12, 6, 10))
    assert len(claimed.rows) == 1
    later = local(2026, 12, 6, 10) + timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS + 1)
    run.automations_send(now=later)
    assert rows(automation).get().status == Row.DOUBT
    assert django_mail.outbox == []


def test_unsubscribe_from_the_message_withdraws_the_topic():
    topic = TopicFactory(name="Saludos")
    automation, contact = _due_birthday(topic=topic)
    row = rows(automation).get()
    assert services.automation_unsubscribe(
        delivery=row, everything=False, ip_address="1.2.3.4", user_agent="x"
    )
    assert not services.automation_unsubscribe(
        delivery=row, everything=False, ip_address=None, user_agent=""
    )
    latest = contact.consent_latest.get(topic=topic)
    assert latest.action == Consent.Action.WITHDRAW


# --- The beat jobs, eagerly, twice, and across a date change ----------------------------------


def test_beat_jobs_twice_one_email_and_next_day_next_occurrence_only():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY, send_hour=9)
    contact = consenting_contact(birthday=date(1990, 12, 6))
    consenting_contact(birthday=date(1990, 12, 7))
    with time_machine.travel(local(2026, 12, 6, 9, 30), tick=False):
        for _run in range(2):
            automations_materialise.apply()
            automations_send.apply()
    assert [m.to for m in django_mail.outbox] == [[contact.email]]
    with time_machine.travel(local(2026, 12, 7, 9, 30), tick=False):
        for _run in range(2):
            automations_materialise.apply()
            automations_send.apply()
    assert len(django_mail.outbox) == 2
    assert rows(automation, status=Row.SENT).count() == 2
    assert rows(automation).count() == 2
