"""The ICS feed a phone's calendar subscribes to: RFC 5545 text, behind a secret token."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from opportunities.models import CalendarFeed
from opportunities.selectors.activities import ics_escape, ics_fold
from opportunities.services import activities as services
from opportunities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db


def parse_ics(body: bytes) -> list[dict]:
    """Unfold (RFC 5545 §3.1) and read the VEVENTs back as {name: value} dicts."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    raw_lines = text.split("\r\n")[:-1]
    assert all("\n" not in line and "\r" not in line for line in raw_lines)
    assert all(len(line.encode("utf-8")) <= 75 for line in raw_lines)
    lines: list[str] = []
    for line in raw_lines:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    events, current = [], None
    for line in lines:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            current[name] = value
    return events


def unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars)
            out.append("\n" if nxt in "nN" else nxt)
        else:
            out.append(char)
    return "".join(out)


def test_escaping_and_folding():
    assert ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "ñ" * 100
    folded = ics_fold(line).split("\r\n")
    assert all(len(part.encode("utf-8")) <= 75 for part in folded)
    assert all(part.startswith(" ") for part in folded[1:])
    assert "".join(part[1:] if i else part for i, part in enumerate(folded)) == line


def test_feed_lists_planned_activities_in_utc(rep, other_rep):
    account = AccountFactory(owner=rep, name="Aceros, Tubos; y Más \\ S.A.")
    start = datetime(2030, 3, 4, 16, 30, tzinfo=UTC)
    planned = ActivityFactory(
        owner=rep,
        account=account,
        planned_at=start,
        duration_minutes=90,
        subject="Demostración del producto, fase 2; con el equipo técnico de la planta norte",
        place="Av. Reforma 222, Piso 3; Sala B",
        notes="Llevar muestras\nConfirmar con Juan",
    )
    ActivityFactory(owner=rep, account=account, status="cancelada")
    ActivityFactory(owner=rep, account=account, planned_at=timezone.now() - timedelta(days=31))
    recent = ActivityFactory(
        owner=rep, account=account, planned_at=timezone.now() - timedelta(days=29)
    )
    ActivityFactory(owner=rep, account=account, status="hecha", done_at=timezone.now())
    ActivityFactory(owner=other_rep)
    feed = services.calendar_feed_get_or_create(user=rep)

    response = Client().get(reverse("opportunities:calendar-feed", args=[feed.token]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = parse_ics(response.content)
    assert [e["UID"] for e in events] == [
        f"actividad-{recent.pk}@testserver",
        f"actividad-{planned.pk}@testserver",
    ]
    event = events[1]
    assert event["DTSTART"] == "20300304T163000Z"
    assert event["DTEND"] == "20300304T180000Z"
    assert event["DTSTAMP"].endswith("Z")
    assert unescape(event["SUMMARY"]) == f"Visita: {planned.subject}"
    assert unescape(event["LOCATION"]) == "Av. Reforma 222, Piso 3; Sala B"
    description = unescape(event["DESCRIPTION"])
    assert description.startswith("Aceros, Tubos; y Más \\ S.A.\nLlevar muestras\nConfirmar")
    assert description.endswith(f"http://testserver{planned.get_absolute_url()}")
    assert "\\," in event["LOCATION"] and "\\;" in event["LOCATION"]


def test_feed_needs_no_login_but_the_right_token(rep):
    feed = services.calendar_feed_get_or_create(user=rep)
    anonymous = Client()
    url = reverse("opportunities:calendar-feed", args=[feed.token])
    assert anonymous.get(url).status_code == 200
    assert anonymous.get(reverse("opportunities:calendar-feed", args=["x" * 43])).status_code == 404
    services.calendar_feed_rotate(user=rep)
    assert anonymous.get(url).status_code == 404
    new = CalendarFeed.objects.get(user=rep).token
    assert anonymous.get(reverse("opportunities:calendar-feed", args=[new])).status_code == 200
    rep.is_active = False
    rep.save()
    assert anonymous.get(reverse("opportunities:calendar-feed", args=[new])).status_code == 404
