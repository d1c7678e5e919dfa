"""Automations in the contact's own time zone (birthdays, holidays, quiet hours), and the
birthday reminder that puts a call in the owner's agenda on the working day before."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import Automation, AutomationDelivery
from campaigns.services import automations as services
from campaigns.services import automations_run as run
from campaigns.tasks import automations_materialise
from campaigns.tests.factories import AutomationFactory, consenting_contact
from contacts.tests.factories import ContactFactory
from crm.core import zones
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from opportunities.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db
MX = ZoneInfo("America/Mexico_City")
MADRID = ZoneInfo("Europe/Madrid")
Row = AutomationDelivery.Status


@pytest.fixture(autouse=True)
def _company(settings):
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TIME_ZONE = "America/Mexico_City"
    settings.AUTOMATION_QUIET_HOURS = (21, 8)
    settings.COMPANY = {**settings.COMPANY, "country": "MX"}


def mx(*args) -> datetime:
    return datetime(*args, tzinfo=MX)


def rows(automation, **filters):
    return AutomationDelivery.objects.filter(automation=automation, **filters)


# --- Which zone a contact lives in -------------------------------------------------------------


def test_effective_zone_own_then_country_then_company():
    assert zones.effective_zone_name("America/Bogota", "MX") == "America/Bogota"
    assert zones.effective_zone_name("", "ES") == "Europe/Madrid"
    assert zones.effective_zone_name("", "CO") == "America/Bogota"
    # Mexico and the United States have several zones: the company's.
    assert zones.effective_zone_name("", "MX") == "America/Mexico_City"
    assert zones.effective_zone_name("", "US") == "America/Mexico_City"


def test_zone_q_selects_the_contacts_of_a_zone():
    own = ContactFactory(time_zone="Europe/Madrid", country="MX")
    by_country = ContactFactory(time_zone="", country="ES")
    company = ContactFactory(time_zone="", country="MX")
    canary = ContactFactory(time_zone="Atlantic/Canary", country="ES")
    from contacts.models import Contact

    def pks(name):
        return set(Contact.objects.filter(zones.zone_q(name)).values_list("pk", flat=True))

    assert pks("Europe/Madrid") == {own.pk, by_country.pk}
    assert pks("America/Mexico_City") == {company.pk}
    assert pks("Atlantic/Canary") == {canary.pk}
    assert zones.zones_in_use(Contact.objects.all()) == {
        "Europe/Madrid",
        "America/Mexico_City",
        "Atlantic/Canary",
    }


# --- Birthdays and holidays on the contact's day ---------------------------------------------


def test_birthday_on_the_contacts_day_at_their_hour():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY, send_hour=9)
    madrid = consenting_contact(birthday=date(1990, 12, 7), time_zone="Europe/Madrid")
    spain = consenting_contact(birthday=date(1991, 12, 7), country="ES", time_zone="")
    mexico = consenting_contact(birthday=date(1992, 12, 7), country="MX", time_zone="")

    # 18:00 in Mexico City on the 6th is 01:00 on the 7th in Madrid.
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 6, 18))
    spanish = rows(automation)
    assert {r.contact_id for r in spanish} == {madrid.pk, spain.pk}
    assert {r.due_at for r in spanish} == {datetime(2026, 12, 7, 9, tzinfo=MADRID)}

    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 7, 1))
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 7, 1))
    later = rows(automation, contact=mexico).get()
    assert (later.due_at, later.occurrence) == (mx(2026, 12, 7, 9), "2026")
    assert rows(automation).count() == 3


def test_holiday_on_the_contacts_date():
    automation = AutomationFactory(
        kind=Automation.Kind.HOLIDAY,
        holiday_country="ES",
        holiday_names=["Natividad del Señor"],
        send_hour=10,
    )
    madrid = consenting_contact(country="ES", time_zone="")
    mexico = consenting_contact(country="MX", time_zone="")
    # Christmas morning in Madrid while Mexico City is still on the 24th.
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 24, 20))
    (row,) = rows(automation)
    assert (row.contact_id, row.occurrence) == (madrid.pk, "2026-12-25")
    assert row.due_at == datetime(2026, 12, 25, 10, tzinfo=MADRID)
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 25, 1))
    assert rows(automation, contact=mexico).get().due_at == mx(2026, 12, 25, 10)


def test_quiet_hours_are_the_recipients():
    automation = AutomationFactory(kind=Automation.Kind.WELCOME)
    madrid = consenting_contact(time_zone="Europe/Madrid")
    mexico = consenting_contact(time_zone="America/Mexico_City")
    step = automation.steps.get()
    for contact in (madrid, mexico):
        AutomationDelivery.objects.create(
            automation=automation,
            step=step,
            contact=contact,
            occurrence="2026-12-06",
            email=contact.email,
            due_at=mx(2026, 12, 6, 12),
        )

    # 02:00 in Mexico City is 09:00 in Madrid: only the Spaniard's message leaves.
    assert run.automations_send(now=mx(2026, 12, 7, 2)).sent == 1
    assert rows(automation, contact=madrid).get().status == Row.SENT
    assert rows(automation, contact=mexico).get().status == Row.PENDING
    # 07:59 in Mexico City: still night there.
    assert run.automations_send(now=mx(2026, 12, 7, 7, 59)).sent == 0
    assert run.automations_send(now=mx(2026, 12, 7, 8)).sent == 1


def test_nothing_claimed_when_it_is_night_everywhere(settings):
    settings.AUTOMATION_QUIET_HOURS = (0, 24)  # never allowed: quiet in every zone
    automation = AutomationFactory(kind=Automation.Kind.WELCOME)
    contact = consenting_contact()
    AutomationDelivery.objects.create(
        automation=automation,
        step=automation.steps.get(),
        contact=contact,
        occurrence="2026-12-06",
        email=contact.email,
        due_at=mx(2026, 12, 6, 12),
    )
    assert run.automation_claim(now=mx(2026, 12, 6, 13)) is None


# --- The owner's reminder on the working day before ---------------------------------------------


def _reminding(**kwargs):
    return AutomationFactory(kind=Automation.Kind.BIRTHDAY, remind_owner=True, **kwargs)


def _calls(contact):
    return Activity.objects.filter(contact=contact, kind=ActivityKind.CALL)


def test_working_days_of_the_company():
    assert services.is_working_day(date(2026, 12, 4))  # Friday
    assert not services.is_working_day(date(2026, 12, 5))  # Saturday
    assert not services.is_working_day(date(2026, 12, 25))  # Navidad
    assert services.next_working_day(date(2026, 12, 4)) == date(2026, 12, 7)
    assert services.next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)


def test_friday_reminds_of_the_weekend_and_monday_once():
    rep = UserFactory(time_zone="America/Mexico_City")
    automation = _reminding()
    saturday = ContactFactory(owner=rep, birthday=date(1980, 12, 5))  # no email consent
    sunday = consenting_contact(owner=rep, birthday=date(1981, 12, 6))
    monday = consenting_contact(owner=rep, birthday=date(1982, 12, 7))
    tuesday = consenting_contact(owner=rep, birthday=date(1983, 12, 8))

    for hour in (0, 7):  # the hourly job, twice on the Friday
        run.automation_materialise_one(automation=automation, now=mx(2026, 12, 4, hour))
    for contact in (saturday, sunday, monday):
        (call,) = _calls(contact)
        assert call.owner == rep
        assert call.status == Activity.Status.PLANNED
        assert call.planned_at == mx(2026, 12, 4, 9)
        assert "cumpleaños" in call.subject
    assert "sábado 5 de diciembre" in _calls(saturday).get().subject
    assert not _calls(tuesday).exists()
    reminded = rows(automation, status=Row.REMINDED)
    assert set(reminded.values_list("contact_id", "occurrence")) == {
        (saturday.pk, "2026"),
        (sunday.pk, "2026"),
        (monday.pk, "2026"),
    }
    assert all(r.step_id is None for r in reminded)

    # Saturday and Sunday are no working days; Monday reminds of Tuesday only.
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 5, 10))
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 6, 10))
    assert Activity.objects.count() == 3
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 7, 10, 30))
    (call,) = _calls(tuesday)
    assert call.planned_at == mx(2026, 12, 7, 10, 30)  # after nine: now
    assert Activity.objects.count() == 4


def test_a_holiday_moves_the_reminder_to_the_working_day_before():
    rep = UserFactory()
    automation = _reminding()
    christmas = ContactFactory(owner=rep, birthday=date(1975, 12, 25))
    new_year = ContactFactory(owner=rep, birthday=date(1976, 1, 1))
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 24, 8))
    assert _calls(christmas).count() == 1
    # 31 December is a Thursday; 1 January a holiday: its birthday is next year's occurrence.
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 31, 8))
    assert rows(automation, contact=new_year).get().occurrence == "2027"
    assert _calls(new_year).count() == 1


def test_an_owner_who_no_longer_sells_gets_no_call():
    gone = UserFactory(is_active=False)
    support = UserFactory(role=Role.SOPORTE)
    automation = _reminding()
    first = ContactFactory(owner=gone, birthday=date(1990, 12, 5))
    second = ContactFactory(owner=support, birthday=date(1990, 12, 5))
    archived = ContactFactory(owner=UserFactory(), birthday=date(1990, 12, 5))
    archived.archived_at = mx(2026, 1, 1)
    archived.save()
    for _time in range(2):
        run.automation_materialise_one(automation=automation, now=mx(2026, 12, 4, 9))
    assert not Activity.objects.exists()
    skipped = rows(automation, status=Row.SKIPPED)
    assert set(skipped.values_list("contact_id", flat=True)) == {first.pk, second.pk}
    assert all("ya no vende" in r.reason for r in skipped)


def test_no_reminder_unless_asked():
    automation = AutomationFactory(kind=Automation.Kind.BIRTHDAY)
    ContactFactory(birthday=date(1990, 12, 5))
    run.automation_materialise_one(automation=automation, now=mx(2026, 12, 4, 9))
    assert not Activity.objects.exists()


def test_beat_job_twice_and_across_the_weekend_one_call_each():
    rep = UserFactory()
    _reminding()
    contact = ContactFactory(owner=rep, birthday=date(1990, 12, 7))
    with time_machine.travel(mx(2026, 12, 4, 6), tick=False) as traveller:
        automations_materialise.apply()
        automations_materialise.apply()
        traveller.move_to(mx(2026, 12, 7, 6))  # Monday: the birthday itself
        automations_materialise.apply()
    assert _calls(contact).count() == 1


def test_the_reminder_option_is_only_for_birthdays(marketing):
    step = {"order": 1, "subject": "Felices fiestas", "html_body": "<p>Hola</p>"}
    automation = services.automation_create(
        actor=marketing,
        data={
            "name": "Navidad",
            "kind": Automation.Kind.HOLIDAY,
            "holiday_country": "MX",
            "holiday_names": ["Navidad"],
            "send_hour": 10,
            "remind_owner": True,
        },
        steps=[step],
    )
    assert automation.remind_owner is False
    birthday = services.automation_create(
        actor=marketing,
        data={"name": "Cumpleaños", "kind": Automation.Kind.BIRTHDAY, "remind_owner": True},
        steps=[step],
    )
    assert birthday.remind_owner is True
