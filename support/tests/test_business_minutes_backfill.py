"""The back-fill of migration 0005: the tickets that reached a target before the services
stored its business minutes get them, counted as the services count them, on the company's
calendar read from the migration's historical models (the same rules as calendar_load)."""

import datetime
import importlib
import types
import zoneinfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from support.models import BusinessCalendar, BusinessHours, CompanyHoliday, Ticket
from support.sla import Calendar, business_minutes_between, calendar_load
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

MIGRATION = ("support", "0005_ticket_business_minutes")
migration = importlib.import_module("support.migrations.0005_ticket_business_minutes")
MX = zoneinfo.ZoneInfo("America/Mexico_City")


def mx(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=MX)


@pytest.fixture
def historical_apps():
    """The models as they are at migration 0005, as the migration receives them."""
    return MigrationExecutor(connection).loader.project_state(MIGRATION).apps


def same(a: Calendar, b: Calendar) -> bool:
    fields = ("zone", "hours", "holidays", "country", "subdivision")
    return all(getattr(a, name) == getattr(b, name) for name in fields)


def test_the_historical_calendar_is_calendar_load(historical_apps, settings):
    def check() -> None:
        assert same(migration.company_calendar(historical_apps, "default"), calendar_load())

    check()  # the default one of migration 0002
    calendar = BusinessCalendar.objects.get(pk=1)
    calendar.time_zone, calendar.country, calendar.subdivision = "Europe/Madrid", "es", "MD"
    calendar.save()
    BusinessHours.objects.filter(calendar=calendar, weekday=4).update(closes_at=datetime.time(14))
    BusinessHours.objects.create(
        calendar=calendar,
        weekday=5,
        opens_at=datetime.time(10),
        closes_at=datetime.time(13),
    )
    CompanyHoliday.objects.create(
        calendar=calendar, date=datetime.date(2026, 12, 24), name="Nochebuena"
    )
    check()
    BusinessHours.objects.all().delete()  # no opening hours: Monday to Friday 9-18
    BusinessCalendar.objects.filter(pk=1).update(time_zone="Mars/Olympus")  # unknown zone
    check()
    BusinessCalendar.objects.all().delete()  # no calendar: the settings' one
    settings.COMPANY = {**settings.COMPANY, "country": "CO"}
    check()


def test_backfill_counts_each_reached_target_once(historical_apps, monkeypatch):
    calendar = BusinessCalendar.objects.get(pk=1)
    BusinessHours.objects.create(
        calendar=calendar, weekday=5, opens_at=datetime.time(10), closes_at=datetime.time(14)
    )
    CompanyHoliday.objects.create(calendar=calendar, date=datetime.date(2026, 9, 15), name="Cierre")

    def made(created, first=None, resolved=None, **stored) -> Ticket:
        ticket = TicketFactory()
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=created, first_response_at=first, resolved_at=resolved, **stored
        )
        return ticket

    both = made(mx(2026, 9, 11, 17), mx(2026, 9, 12, 11), mx(2026, 9, 17, 10))
    first_only = made(mx(2026, 9, 14, 10), mx(2026, 9, 14, 12, 30))
    none = made(mx(2026, 9, 14, 10))
    done = made(
        mx(2026, 9, 14, 10),
        mx(2026, 9, 14, 11),
        mx(2026, 9, 14, 12),
        first_response_business_minutes=7,
        resolution_business_minutes=8,
    )
    backwards = made(mx(2026, 9, 14, 12), mx(2026, 9, 14, 11))  # a clock that went back
    many = [made(mx(2026, 9, 10, 9), mx(2026, 9, 10, 9, n)) for n in range(5)]
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches

    migration.backfill(historical_apps, types.SimpleNamespace(connection=connection))

    def stored(ticket: Ticket) -> tuple:
        return (
            Ticket.objects.filter(pk=ticket.pk)
            .values_list("first_response_business_minutes", "resolution_business_minutes")
            .get()
        )

    # Friday 17-18 (60) + Saturday 10-11 (60); resolved: + Saturday 11-14 (180) + Monday 9-18
    # (540); Tuesday the company's day off, Wednesday a public holiday; Thursday 9-10 (60).
    assert stored(both) == (120, 900)
    company = calendar_load()
    assert stored(both)[1] == business_minutes_between(
        company, mx(2026, 9, 11, 17), mx(2026, 9, 17, 10)
    )
    assert stored(first_only) == (150, None)
    assert stored(none) == (None, None)
    assert stored(done) == (7, 8)  # already stored: left alone
    assert stored(backwards) == (0, None)
    assert [stored(t) for t in many] == [(n, None) for n in range(5)]

    # A second run finds nothing to do.
    migration.backfill(historical_apps, types.SimpleNamespace(connection=connection))
    assert stored(both) == (120, 900)
