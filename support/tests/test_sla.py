"""Business-time arithmetic against cases worked out by hand on a calendar.

Mexico City has had no daylight saving time since 2022 (UTC-6 all year); 16 September 2026
(a Wednesday) and 16 November 2026 (a Monday) are public holidays there. Madrid changes its
clocks on Sunday 25 October 2026 (CEST, UTC+2, back to CET, UTC+1) and 29 March 2026.
"""

import datetime
import random
import time
import zoneinfo

import pytest

from support.models import BusinessCalendar, BusinessHours, CompanyHoliday
from support.sla import (
    Calendar,
    add_business_minutes,
    business_minutes_between,
    calendar_load,
    public_holidays,
)

MX = zoneinfo.ZoneInfo("America/Mexico_City")
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
UTC = datetime.UTC


def mx(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=MX)


def madrid(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=MADRID)


@pytest.fixture
def mexico() -> Calendar:
    return Calendar.standard(time_zone="America/Mexico_City", country="MX")


@pytest.fixture
def spain() -> Calendar:
    return Calendar.standard(time_zone="Europe/Madrid", country="ES", subdivision="MD")


def test_the_holidays_library_knows_the_days_the_cases_rely_on():
    assert datetime.date(2026, 9, 16) in public_holidays("MX", "", 2026)
    assert datetime.date(2026, 11, 16) in public_holidays("MX", "", 2026)
    assert datetime.date(2026, 5, 2) in public_holidays("ES", "MD", 2026)  # Madrid only
    assert datetime.date(2026, 5, 2) not in public_holidays("ES", "", 2026)
    assert public_holidays("XX", "", 2026) == frozenset()  # unknown: none, not an error


def test_within_one_day_and_due_at_closing_time(mexico):
    assert add_business_minutes(mexico, mx(2026, 9, 14, 10), 60) == mx(2026, 9, 14, 11)
    # A target that runs out exactly as the office closes is due at closing time.
    assert add_business_minutes(mexico, mx(2026, 9, 14, 17), 60) == mx(2026, 9, 14, 18)
    assert add_business_minutes(mexico, mx(2026, 9, 14, 17), 61) == mx(2026, 9, 15, 9, 1)


def test_the_result_is_utc(mexico):
    due = add_business_minutes(mexico, mx(2026, 7, 6, 9), 30)
    assert due.tzinfo == UTC
    assert due == datetime.datetime(2026, 7, 6, 15, 30, tzinfo=UTC)  # UTC-6 in summer too


def test_a_weekend_is_skipped(mexico):
    # Friday 18 September 17:30: 30 minutes on Friday, 30 on Monday.
    assert add_business_minutes(mexico, mx(2026, 9, 18, 17, 30), 60) == mx(2026, 9, 21, 9, 30)
    # Opened on a Saturday: the clock starts on Monday at 9.
    assert add_business_minutes(mexico, mx(2026, 9, 19, 11), 30) == mx(2026, 9, 21, 9, 30)


def test_a_start_after_closing_waits_for_the_next_morning(mexico):
    assert add_business_minutes(mexico, mx(2026, 9, 14, 20), 60) == mx(2026, 9, 15, 10)
    assert add_business_minutes(mexico, mx(2026, 9, 14, 7, 45), 15) == mx(2026, 9, 14, 9, 15)


def test_independence_day_is_skipped(mexico):
    # Tuesday 15 September 17:00, urgent resolution (240): 60 on Tuesday, Wednesday 16 is a
    # holiday, 180 on Thursday from 9:00.
    assert add_business_minutes(mexico, mx(2026, 9, 15, 17), 240) == mx(2026, 9, 17, 12)


def test_a_three_day_target_crossing_the_holiday(mexico):
    # Monday 14 September 10:00, 3 business days (3 × 540 = 1620): Monday 480, Tuesday 540
    # (1020), Wednesday off, Thursday 540 (1560), Friday 60 more: Friday 10:00.
    assert add_business_minutes(mexico, mx(2026, 9, 14, 10), 1620) == mx(2026, 9, 18, 10)
    assert business_minutes_between(mexico, mx(2026, 9, 14, 10), mx(2026, 9, 18, 10)) == 1620


def test_a_target_of_weeks(mexico):
    # 20 business days from Monday 2 November 9:00; Monday 16 November (Revolution Day) is
    # off, so the twentieth business day is Monday 30 November, due as it closes.
    assert add_business_minutes(mexico, mx(2026, 11, 2, 9), 20 * 540) == mx(2026, 11, 30, 18)
    assert business_minutes_between(mexico, mx(2026, 11, 2, 9), mx(2026, 11, 30, 18)) == 10800


def test_the_company_days_off_count_too():
    calendar = Calendar.standard(
        time_zone="America/Mexico_City",
        country="MX",
        holidays=[datetime.date(2026, 9, 15)],  # the eve of the national holiday, given off
    )
    # Monday 14 September 17:00 + 120: 60 on Monday, Tuesday and Wednesday off, 60 Thursday.
    assert add_business_minutes(calendar, mx(2026, 9, 14, 17), 120) == mx(2026, 9, 17, 10)


def test_spain_across_the_autumn_clock_change(spain):
    # Friday 23 October 17:00 CEST (15:00 UTC) + 120: 60 on Friday, the clocks go back on
    # Sunday, 60 on Monday from 9:00 CET: Monday 10:00 CET, 09:00 UTC. A naive UTC sum of
    # whole days would land an hour off.
    due = add_business_minutes(spain, madrid(2026, 10, 23, 17), 120)
    assert due == madrid(2026, 10, 26, 10)
    assert due == datetime.datetime(2026, 10, 26, 9, tzinfo=UTC)
    assert business_minutes_between(spain, madrid(2026, 10, 23, 17), madrid(2026, 10, 26, 10)) == (
        120
    )


def test_business_minutes_are_real_minutes_on_the_day_the_clocks_change():
    # A calendar open all Sunday: the night of 25 October has one hour more, 29 March one less.
    sunday = datetime.time(0), datetime.time(23, 59)
    always = Calendar(zone=MADRID, hours=(None, None, None, None, None, None, sunday))
    start = madrid(2026, 10, 25, 0)  # 22:00 UTC on Saturday
    # Four real hours later it is 02:00 UTC: 03:00 on the wall clock (CET), not 04:00.
    assert add_business_minutes(always, start, 240) == datetime.datetime(
        2026, 10, 25, 2, tzinfo=UTC
    )
    assert add_business_minutes(always, start, 240).astimezone(MADRID).hour == 3
    assert business_minutes_between(always, start, madrid(2026, 10, 25, 23, 59)) == 25 * 60 - 1
    spring = madrid(2026, 3, 29, 0)
    assert business_minutes_between(always, spring, madrid(2026, 3, 29, 23, 59)) == 23 * 60 - 1


def test_madrid_has_its_own_holiday(spain):
    # Friday 1 May (Labour Day) and Saturday 2 May (Madrid) are off, then Sunday: Monday 4.
    assert add_business_minutes(spain, madrid(2026, 4, 30, 17), 120) == madrid(2026, 5, 4, 10)


def test_between_is_the_inverse_of_add(mexico, spain):
    rng = random.Random(2026)
    for calendar, zone in ((mexico, MX), (spain, MADRID)):
        for _ in range(300):
            start = datetime.datetime(2026, 1, 1, tzinfo=zone) + datetime.timedelta(
                minutes=rng.randrange(366 * 24 * 60)
            )
            minutes = rng.randrange(0, 12_000)
            due = add_business_minutes(calendar, start, minutes)
            assert business_minutes_between(calendar, start, due) == minutes
            back = add_business_minutes(calendar, due, -minutes)
            assert business_minutes_between(calendar, back, due) == minutes
            window = calendar.window(calendar.local_date(start))
            if minutes and window and window[0] <= start < window[1]:
                assert back == start  # inside opening hours, counting back lands on it


def test_negative_minutes_count_backwards(mexico):
    # Monday 14 September 10:00 − 120: 60 on Monday morning, 60 before Friday's close.
    assert add_business_minutes(mexico, mx(2026, 9, 14, 10), -120) == mx(2026, 9, 11, 17)
    assert business_minutes_between(mexico, mx(2026, 9, 15, 10), mx(2026, 9, 14, 10)) == -540
    # Overdue by the 30 minutes after closing that do not count: still zero business minutes.
    assert business_minutes_between(mexico, mx(2026, 9, 14, 18), mx(2026, 9, 14, 18, 30)) == 0


def test_partial_minutes_round_down(mexico):
    start = mx(2026, 9, 14, 10)
    assert business_minutes_between(mexico, start, start + datetime.timedelta(seconds=119)) == 1
    assert business_minutes_between(mexico, start, start - datetime.timedelta(seconds=30)) == -1


def test_long_targets_take_a_step_per_day_not_per_minute(mexico):
    started = time.perf_counter()
    due = add_business_minutes(mexico, mx(2026, 1, 5, 9), 250 * 540)  # about a year of work
    assert business_minutes_between(mexico, mx(2026, 1, 5, 9), due) == 250 * 540
    assert time.perf_counter() - started < 0.5
    assert len(mexico._windows) < 400  # one memo entry per calendar day visited


def test_naive_datetimes_and_closed_calendars_are_refused(mexico):
    with pytest.raises(ValueError):
        add_business_minutes(mexico, datetime.datetime(2026, 9, 14, 10), 60)
    with pytest.raises(ValueError):
        Calendar(zone=MX, hours=(None,) * 7)
    with pytest.raises(ValueError):
        Calendar.standard(opens=datetime.time(18), closes=datetime.time(9))


# The company's calendar from the database --------------------------------------------------


@pytest.mark.django_db
def test_calendar_load_reads_the_migration_defaults(django_assert_num_queries):
    with django_assert_num_queries(2):
        calendar = calendar_load()
    assert calendar.zone == MX
    assert calendar.country == "MX"
    assert calendar.hours[:5] == ((datetime.time(9), datetime.time(18)),) * 5
    assert calendar.hours[5:] == (None, None)
    assert calendar.is_day_off(datetime.date(2026, 9, 16))


@pytest.mark.django_db
def test_calendar_load_sees_the_administrators_changes_at_once():
    stored = BusinessCalendar.objects.get(pk=1)
    stored.country, stored.subdivision, stored.time_zone = "ES", "MD", "Europe/Madrid"
    stored.save()
    BusinessHours.objects.filter(calendar=stored, weekday=4).update(
        opens_at=datetime.time(8), closes_at=datetime.time(15)
    )
    BusinessHours.objects.create(
        calendar=stored, weekday=5, opens_at=datetime.time(10), closes_at=datetime.time(14)
    )
    CompanyHoliday.objects.create(
        calendar=stored, date=datetime.date(2026, 12, 24), name="Nochebuena"
    )
    calendar = calendar_load()
    assert calendar.zone == MADRID
    assert calendar.hours[4] == (datetime.time(8), datetime.time(15))
    assert calendar.hours[5] == (datetime.time(10), datetime.time(14))
    assert calendar.is_day_off(datetime.date(2026, 12, 24))
    assert calendar.is_day_off(datetime.date(2026, 5, 2))  # Madrid's own
    # Friday 23 October 14:30 + 90: 30 on Friday (closes at 15), 60 on Saturday from 10.
    assert add_business_minutes(calendar, madrid(2026, 10, 23, 14, 30), 90) == madrid(
        2026, 10, 24, 11
    )


@pytest.mark.django_db
def test_calendar_load_falls_back_to_working_hours():
    BusinessHours.objects.all().delete()
    calendar = calendar_load()
    assert calendar.hours[0] == (datetime.time(9), datetime.time(18))
    BusinessCalendar.objects.all().delete()
    calendar = calendar_load()
    assert calendar.hours[4] == (datetime.time(9), datetime.time(18))
    assert calendar.hours[6] is None


@pytest.mark.django_db
def test_an_unknown_time_zone_or_country_does_not_break_the_clock(settings):
    BusinessCalendar.objects.filter(pk=1).update(time_zone="Marte/Olympus", country="XX")
    calendar = calendar_load()
    assert calendar.zone == zoneinfo.ZoneInfo(settings.TIME_ZONE)
    assert not calendar.is_day_off(datetime.date(2026, 9, 16))
    assert add_business_minutes(calendar, mx(2026, 9, 16, 10), 60) == mx(2026, 9, 16, 11)


# The administrators' side ----------------------------------------------------------------


@pytest.fixture
def superuser_client(client):
    from crm.core.tests.factories import UserFactory
    from crm.core.tests.mfa import sign_in

    user = UserFactory(username="raiz", is_superuser=True, is_staff=True, role="administrador")
    return sign_in(client, user)


def _calendar_post(*, country="MX", subdivision="", time_zone="America/Mexico_City", hours=None):
    """The calendar's change form as the admin posts it, with `hours` as (weekday, opens,
    closes) rows replacing the stored ones."""
    stored = list(BusinessHours.objects.filter(calendar_id=1).order_by("weekday"))
    hours = [(h.weekday, "09:00", "18:00") for h in stored] if hours is None else hours
    data = {
        "country": country,
        "subdivision": subdivision,
        "time_zone": time_zone,
        "hours-TOTAL_FORMS": str(max(len(stored), len(hours))),
        "hours-INITIAL_FORMS": str(len(stored)),
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "7",
        "extra_holidays-TOTAL_FORMS": "0",
        "extra_holidays-INITIAL_FORMS": "0",
        "extra_holidays-MIN_NUM_FORMS": "0",
        "extra_holidays-MAX_NUM_FORMS": "1000",
    }
    for i in range(max(len(stored), len(hours))):
        if i < len(stored):
            data[f"hours-{i}-id"] = str(stored[i].pk)
            data[f"hours-{i}-calendar"] = "1"
        if i < len(hours):
            weekday, opens, closes = hours[i]
            data[f"hours-{i}-weekday"] = str(weekday)
            data[f"hours-{i}-opens_at"] = opens
            data[f"hours-{i}-closes_at"] = closes
        else:
            data[f"hours-{i}-weekday"] = str(stored[i].weekday)
            data[f"hours-{i}-opens_at"] = "09:00"
            data[f"hours-{i}-closes_at"] = "18:00"
            data[f"hours-{i}-DELETE"] = "on"
    return data


@pytest.mark.django_db
def test_admin_calendar_shows_the_public_holidays_it_will_skip(superuser_client):
    response = superuser_client.get("/admin/support/businesscalendar/1/change/")
    assert response.status_code == 200
    assert "Día de la Independencia" in response.content.decode()
    # One calendar: it is edited, never added or deleted.
    assert superuser_client.get("/admin/support/businesscalendar/add/").status_code == 403
    assert superuser_client.get("/admin/support/businesscalendar/1/delete/").status_code == 403


@pytest.mark.django_db
def test_admin_calendar_saves_valid_hours_and_refuses_broken_ones(superuser_client):
    url = "/admin/support/businesscalendar/1/change/"
    data = _calendar_post(
        country="es",
        subdivision="MD",
        time_zone="Europe/Madrid",
        hours=[(0, "08:00", "15:00"), (1, "08:00", "15:00"), (2, "08:00", "15:00")],
    )
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    calendar = calendar_load()
    assert (calendar.country, calendar.subdivision, calendar.zone) == ("ES", "MD", MADRID)
    assert calendar.hours[0] == (datetime.time(8), datetime.time(15))
    assert calendar.hours[3] is None

    for broken, message in (
        ({"country": "XX"}, "No se conocen los días festivos"),
        ({"country": "ES", "subdivision": "ZZ"}, "no tiene la región"),
        ({"time_zone": "Marte/Olympus"}, "no es una zona horaria"),
        ({"hours": []}, "al menos un día"),
    ):
        response = superuser_client.post(url, _calendar_post(**broken))
        assert response.status_code == 200
        assert message in response.content.decode()
    assert calendar_load().hours[0] == (datetime.time(8), datetime.time(15))  # unchanged


@pytest.mark.django_db
def test_admin_tickets_are_read_only_and_found_by_number(superuser_client):
    from support.tests.factories import TicketFactory

    ticket = TicketFactory(number="INC-2026-000777")
    TicketFactory.create_batch(3)
    response = superuser_client.get("/admin/support/ticket/", {"q": "000777"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ticket]
    assert superuser_client.get(f"/admin/support/ticket/{ticket.pk}/change/").status_code == 200
    assert superuser_client.get("/admin/support/ticket/add/").status_code == 403
    response = superuser_client.post(
        f"/admin/support/ticket/{ticket.pk}/change/", {"subject": "Cambiado"}
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.subject != "Cambiado"


@pytest.mark.django_db
def test_admin_lists_policies_and_canned_responses(superuser_client):
    response = superuser_client.get("/admin/support/slapolicy/")
    assert response.status_code == 200 and "Urgente" in response.content.decode()
    response = superuser_client.get("/admin/support/cannedresponse/")
    assert response.status_code == 200 and "Acuse de recibo" in response.content.decode()


@pytest.mark.django_db
def test_admin_ticket_shows_the_stored_business_minutes(superuser_client):
    from django.urls import reverse

    from support.tests.factories import TicketFactory

    ticket = TicketFactory()
    Ticket = type(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_business_minutes=47, resolution_business_minutes=1234
    )

    response = superuser_client.get(reverse("admin:support_ticket_change", args=[ticket.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Minutos hábiles hasta la primera respuesta" in page and "47" in page
    assert "Minutos hábiles hasta la resolución" in page and "1234" in page
