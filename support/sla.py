"""Business time: the SLA clock runs only while the company is open.

A `Calendar` is the company's week (opening hours per weekday, in its own time zone) minus its
days off: the country's public holidays (from the `holidays` library) and its own. It is a
plain immutable value, so the arithmetic below is pure and needs no database; `calendar_load()`
builds the company's one from BusinessCalendar, BusinessHours and CompanyHoliday.

Business minutes are real elapsed minutes inside opening hours: the instants are compared in
UTC, so a day whose clocks change (Spain, twice a year) counts what really elapsed, and local
wall-clock times are only used to find where each day opens and closes. The arithmetic walks
day by day (each day is one step: its window is computed once and kept), never minute by
minute, so a target of weeks costs a few dozen steps.
"""

from __future__ import annotations

import datetime
import functools
import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

import holidays
from django.conf import settings

logger = logging.getLogger(__name__)

UTC = datetime.UTC
ONE_DAY = datetime.timedelta(days=1)
# No real calendar is closed for ten years in a row: past that, the calendar is broken.
MAX_CLOSED_DAYS = 3660
DEFAULT_OPENS = datetime.time(9)
DEFAULT_CLOSES = datetime.time(18)

Hours = tuple[datetime.time, datetime.time] | None


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str, year: int) -> frozenset[datetime.date]:
    """The public holidays of a country (and region) in one year; empty if unknown.

    Pure (the `holidays` library's rules), so it is cached for the life of the process.
    """
    if not country:
        return frozenset()
    try:
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        logger.warning("No public holidays known for %s %s", country, subdivision)
        return frozenset()
    return frozenset(found.keys())


def holiday_names(
    country: str, subdivision: str, year: int, *, language: str = "es"
) -> list[tuple[datetime.date, str]]:
    """The public holidays of a year with their names (for the administrator to check)."""
    try:
        found = holidays.country_holidays(
            country, subdiv=subdivision or None, years=year, language=language
        )
    except NotImplementedError:
        return []
    return sorted(found.items())


@dataclass(frozen=True, eq=False)
class Calendar:
    """The company's business time.

    `hours` has seven entries, Monday first: (opens, closes) in local time, or None for a day
    the company is closed. `holidays` are the company's own days off; the public holidays of
    `country` (and `subdivision`) are added year by year, on demand.
    """

    zone: zoneinfo.ZoneInfo
    hours: tuple[Hours, ...]
    holidays: frozenset[datetime.date] = frozenset()
    country: str = ""
    subdivision: str = ""
    # Each day's opening window in UTC, computed once (the calendar itself never changes).
    _windows: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("A calendar needs the hours of seven weekdays.")
        for day_hours in self.hours:
            if day_hours is not None and not day_hours[0] < day_hours[1]:
                raise ValueError("A business day must close after it opens.")
        if not any(self.hours):
            raise ValueError("A calendar needs at least one open weekday.")

    @classmethod
    def standard(
        cls,
        *,
        time_zone: str = "America/Mexico_City",
        country: str = "",
        subdivision: str = "",
        opens: datetime.time = DEFAULT_OPENS,
        closes: datetime.time = DEFAULT_CLOSES,
        weekdays: Iterable[int] = range(5),
        holidays: Iterable[datetime.date] = (),
    ) -> Calendar:
        """The same hours every working weekday (Monday to Friday unless told otherwise)."""
        days = set(weekdays)
        return cls(
            zone=zoneinfo.ZoneInfo(time_zone),
            hours=tuple((opens, closes) if day in days else None for day in range(7)),
            holidays=frozenset(holidays),
            country=country,
            subdivision=subdivision,
        )

    def is_day_off(self, day: datetime.date) -> bool:
        return (
            self.hours[day.weekday()] is None
            or day in self.holidays
            or day in public_holidays(self.country, self.subdivision, day.year)
        )

    def window(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """When `day` opens and closes, as UTC instants; None for a day off."""
        try:
            return self._windows[day]
        except KeyError:
            pass
        if self.is_day_off(day):
            found = None
        else:
            opens, closes = self.hours[day.weekday()]
            found = (
                datetime.datetime.combine(day, opens, tzinfo=self.zone).astimezone(UTC),
                datetime.datetime.combine(day, closes, tzinfo=self.zone).astimezone(UTC),
            )
        if len(self._windows) > 20_000:  # a long-lived process: keep the memo bounded
            self._windows.clear()
        self._windows[day] = found
        return found

    def local_date(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(self.zone).date()


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Business time needs aware datetimes.")
    return moment.astimezone(UTC)


def add_business_minutes(
    calendar: Calendar, start: datetime.datetime, minutes: int
) -> datetime.datetime:
    """The instant (UTC) when `minutes` business minutes have passed since `start`.

    `start` may fall outside opening hours (the clock starts when the company next opens). A
    target that runs out exactly at closing time is due at closing time, not the next morning.
    Negative minutes count backwards, so a clock that had already run out (a breached target
    paused for the customer) stays that far in the past when it restarts.
    """
    start = _aware(start)
    if minutes < 0:
        return _subtract(calendar, start, datetime.timedelta(minutes=-minutes))
    remaining = datetime.timedelta(minutes=minutes)
    day = calendar.local_date(start)
    for _step in range(MAX_CLOSED_DAYS):
        window = calendar.window(day)
        if window is not None:
            opens, closes = window
            begin = max(opens, start)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += ONE_DAY
    raise ValueError("The calendar has no business hours in ten years.")


def _subtract(
    calendar: Calendar, start: datetime.datetime, remaining: datetime.timedelta
) -> datetime.datetime:
    day = calendar.local_date(start)
    for _step in range(MAX_CLOSED_DAYS):
        window = calendar.window(day)
        if window is not None:
            opens, closes = window
            end = min(closes, start)
            if opens < end:
                available = end - opens
                if remaining <= available:
                    return end - remaining
                remaining -= available
        day -= ONE_DAY
    raise ValueError("The calendar has no business hours in ten years.")


def business_minutes_between(
    calendar: Calendar, start: datetime.datetime, end: datetime.datetime
) -> int:
    """Business minutes from `start` to `end` (negative if `end` comes first), rounded down.

    The inverse of `add_business_minutes`: for an `end` inside opening hours,
    add_business_minutes(calendar, start, business_minutes_between(calendar, start, end)) is
    `end` (to the minute).
    """
    start, end = _aware(start), _aware(end)
    if end < start:
        seconds = -_seconds_between(calendar, end, start)
    else:
        seconds = _seconds_between(calendar, start, end)
    return int(seconds // 60)


def _seconds_between(calendar: Calendar, start: datetime.datetime, end: datetime.datetime) -> float:
    total = datetime.timedelta()
    day, last = calendar.local_date(start), calendar.local_date(end)
    while day <= last:
        window = calendar.window(day)
        if window is not None:
            opens, closes = window
            overlap = min(closes, end) - max(opens, start)
            if overlap > datetime.timedelta():
                total += overlap
        day += ONE_DAY
    return total.total_seconds()


# The company's calendar -----------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("Unknown time zone %r in the business calendar", name)
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def calendar_load() -> Calendar:
    """The company's calendar as it is in the database now.

    Not cached across calls on purpose: it is two small queries (the hours with their calendar,
    the company's days off), ~1 ms, needed only when a ticket's clock is set (a few times per
    ticket) and once per run of the SLA check; a per-process cache would have to be invalidated
    in every web and Celery process when an administrator edits the calendar. What costs
    (the public holidays of each year) is cached by `public_holidays`.

    Without a calendar row the company is open Monday to Friday, 9 to 18, in settings.TIME_ZONE
    with the public holidays of settings.COMPANY["country"]; without any opening hours, the
    same hours (a closed-every-day calendar would make every target unreachable).
    """
    from support.models import BusinessCalendar, BusinessHours, CompanyHoliday

    rows = list(
        BusinessHours.objects.filter(calendar_id=1)
        .order_by("weekday")
        .values_list(
            "weekday",
            "opens_at",
            "closes_at",
            "calendar__time_zone",
            "calendar__country",
            "calendar__subdivision",
        )
    )
    if rows:
        stored = rows[0][3:]
    else:
        stored = (
            BusinessCalendar.objects.filter(pk=1)
            .values_list("time_zone", "country", "subdivision")
            .first()
        )
    if stored is None:
        company = getattr(settings, "COMPANY", {}) or {}
        return Calendar.standard(time_zone=settings.TIME_ZONE, country=company.get("country", ""))
    time_zone, country, subdivision = stored
    days_off = frozenset(
        CompanyHoliday.objects.filter(calendar_id=1).values_list("date", flat=True)
    )
    hours: list[Hours] = [None] * 7
    for weekday, opens, closes, *_calendar in rows:
        hours[weekday] = (opens, closes)
    if not any(hours):
        logger.warning("The business calendar has no opening hours: using Monday to Friday 9-18")
        hours = [(DEFAULT_OPENS, DEFAULT_CLOSES)] * 5 + [None, None]
    return Calendar(
        zone=_zone(time_zone),
        hours=tuple(hours),
        holidays=days_off,
        country=(country or "").upper(),
        subdivision=subdivision or "",
    )
