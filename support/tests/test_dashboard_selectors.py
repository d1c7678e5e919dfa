"""The support dashboard's figures against a small data set computed by hand.

The company's calendar is the default one (Monday to Friday, 9 to 18, Mexico City, Mexican
public holidays); the week of 15 June 2026 has no holiday. "Now" is Friday 19 June, 17:00.
"""

import random
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from support.models import Survey, SurveyRound, Ticket
from support.selectors.dashboard import (
    Scope,
    _reached_in_python,
    month_starts,
    reached_in_period,
    reached_tickets,
    support_dashboard,
    support_home,
)
from support.services.tickets import (
    ticket_create,
    ticket_record_first_response,
    ticket_transition,
)
from support.sla import business_minutes_between, calendar_load
from support.tests.factories import SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 6, 19, 17, tzinfo=MX)


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MX)


@pytest.fixture
def people():
    north = TeamFactory(name="Soporte Norte")
    south = TeamFactory(name="Soporte Sur")
    ana = UserFactory(
        username="ana", first_name="Ana", last_name="Ruiz", role=Role.SOPORTE, team=north
    )
    beto = UserFactory(
        username="beto", first_name="Beto", last_name="Sosa", role=Role.SOPORTE, team=south
    )
    return {"north": north, "south": south, "ana": ana, "beto": beto}


def ticket(people, *, assignee, created, **fields) -> Ticket:
    """A ticket with its times set by hand, and the business minutes of the targets it
    reached stored as support.services.sla stores them (from creation, on the calendar)."""
    calendar = calendar_load()
    for reached, minutes in (
        ("first_response_at", "first_response_business_minutes"),
        ("resolved_at", "resolution_business_minutes"),
    ):
        if fields.get(reached) is not None:
            fields.setdefault(
                minutes, max(0, business_minutes_between(calendar, created, fields[reached]))
            )
    account = AccountFactory()
    contact = ContactFactory(account=account, owner=account.owner)
    made = TicketFactory(
        account=account, contact=contact, created_by=people["ana"], assignee=assignee
    )
    Ticket.objects.filter(pk=made.pk).update(created_at=created, **fields)
    made.refresh_from_db()
    return made


def answered(*, kind, score, when, ticket=None, contact=None, survey_round=None) -> Survey:
    return SurveyFactory(
        kind=kind,
        ticket=ticket,
        contact=contact or ticket.contact,
        round=survey_round,
        sent_at=when,
        answered_at=when,
        score=score,
    )


@pytest.fixture
def data(people):
    ana, beto = people["ana"], people["beto"]
    # T1 (Ana): Monday 9:00 → first response 10:00 (1 h) → resolved Tuesday 11:00 (9 + 2 = 11 h).
    t1 = ticket(
        people,
        assignee=ana,
        created=at(15, 9),
        status="resuelto",
        first_response_at=at(15, 10),
        resolved_at=at(16, 11),
    )
    # T2 (Ana): Friday 12 June 17:00 → Monday 10:00 (1 + 1 = 2 business hours, 65 calendar
    # hours; its first response was late) → resolved Monday 12:00 (1 + 3 = 4 h).
    t2 = ticket(
        people,
        assignee=ana,
        created=at(12, 17),
        status="cerrado",
        resolution="Cambiamos la pieza.",
        first_response_at=at(15, 10),
        first_response_breached=True,
        resolved_at=at(15, 12),
    )
    # T3 (Beto): Wednesday 9:00 → first response 9:30 (0.5 h); still open (1-3 days old).
    t3 = ticket(
        people,
        assignee=beto,
        created=at(17, 9),
        status="abierto",
        priority="alta",
        first_response_at=at(17, 9, 30),
        resolution_due=at(22, 12),
    )
    # T4 (Beto): April, resolved in April: outside the last 30 days.
    t4 = ticket(
        people,
        assignee=beto,
        created=at(1, 9, month=4),
        status="cerrado",
        resolution="Resuelto por teléfono.",
        first_response_at=at(1, 10, month=4),
        resolved_at=at(2, 10, month=4),
        resolution_breached=True,
    )
    # Open: unassigned urgent of 10 days, overdue; Ana's of 2 hours; Ana's waiting of 5 days.
    ticket(
        people,
        assignee=None,
        created=NOW - timedelta(days=10),
        status="nuevo",
        priority="urgente",
        first_response_due=NOW - timedelta(days=9),
        resolution_due=NOW - timedelta(hours=1),
    )
    ticket(people, assignee=ana, created=NOW - timedelta(hours=2), status="nuevo")
    ticket(
        people,
        assignee=ana,
        created=NOW - timedelta(days=5),
        status="en_espera",
        priority="baja",
        paused_at=NOW - timedelta(days=1),
    )
    # CSAT in June: Ana's tickets 5 and 4, Beto's 2; in April Beto's 3.
    answered(kind="csat", score=5, when=at(17, 12), ticket=t1)
    answered(kind="csat", score=4, when=at(16, 12), ticket=t2)
    answered(kind="csat", score=2, when=at(18, 12), ticket=t3)
    answered(kind="csat", score=3, when=at(3, 12, month=4), ticket=t4)
    # NPS: June 10, 9, 7, 3 (NPS 25); May 10 (NPS 100).
    survey_round = SurveyRound.objects.create(name="NPS", created_by=ana)
    for score, when in ((10, at(10, 9)), (9, at(11, 9)), (7, at(12, 9)), (3, at(18, 9))):
        answered(
            kind="nps", score=score, when=when, contact=ContactFactory(), survey_round=survey_round
        )
    answered(
        kind="nps",
        score=10,
        when=at(20, 9, month=5),
        contact=ContactFactory(),
        survey_round=survey_round,
    )
    return {"t1": t1, "t2": t2, "t3": t3}


def hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def test_whole_company(data, people):
    board = support_dashboard(days=30, now=NOW)
    # Backlog by age and priority: urgent > 7 d, high 1-3 d, medium < 1 d, low 3-7 d.
    cells = {row["priority"]: row["cells"] for row in board["backlog"]}
    assert cells == {
        "urgente": [0, 0, 0, 1],
        "alta": [0, 1, 0, 0],
        "media": [1, 0, 0, 0],
        "baja": [0, 0, 1, 0],
    }
    assert board["backlog_total"] == 4
    total = board["total"]
    assert total.breached_open == 1  # the unassigned urgent one (the waiting one is paused)
    # SLA: 3 first responses in the period, 2 on time; 2 resolutions, both on time.
    assert (total.first_n, total.first_met, total.resolved_n, total.resolved_met) == (3, 2, 2, 2)
    assert round(total.first_pct, 1) == 66.7
    assert total.resolution_pct == 100
    # Medians in business hours: first [1, 2, 0.5] → 1; resolution [11, 4] → 7.5.
    assert hours(total.first_hours) == 1.0
    assert hours(total.resolution_hours) == 7.5
    # CSAT of the period: (5 + 4 + 2) / 3; NPS of the period: (2 promoters − 1 detractor) / 4.
    assert round(total.csat, 2) == 3.67
    assert board["nps"]["nps"] == 25
    assert board["nps"]["answers"] == 4


def test_per_agent_and_team(data, people):
    board = support_dashboard(days=30, now=NOW)
    agents = {row.label: row for row in board["agents"]}
    assert set(agents) == {"Ana Ruiz", "Beto Sosa"}
    ana, beto = agents["Ana Ruiz"], agents["Beto Sosa"]
    assert (ana.backlog, beto.backlog, board["unassigned"].backlog) == (2, 1, 1)
    assert hours(ana.first_hours) == 1.5 and hours(ana.resolution_hours) == 7.5
    assert (ana.first_n, ana.first_met) == (2, 1)
    assert ana.csat == 4.5 and ana.csat_n == 2
    assert hours(beto.first_hours) == 0.5 and beto.resolution_hours is None
    assert beto.csat == 2.0
    teams = {row.label: row for row in board["teams"]}
    assert set(teams) == {"Soporte Norte", "Soporte Sur"}
    assert teams["Soporte Norte"].backlog == 2
    assert hours(teams["Soporte Norte"].first_hours) == 1.5
    assert teams["Soporte Sur"].csat == 2.0


def test_filtered_by_team_and_by_agent(data, people):
    north = support_dashboard(days=30, team=people["north"], now=NOW)
    assert [row.label for row in north["agents"]] == ["Ana Ruiz"]
    assert north["backlog_total"] == 2
    assert (north["total"].first_n, north["total"].resolved_n) == (2, 2)
    assert north["total"].csat == 4.5
    assert north["nps"]["nps"] == 25  # NPS is the company's, whatever the filter

    beto = support_dashboard(days=30, agent=people["beto"], now=NOW)
    assert [row.label for row in beto["agents"]] == ["Beto Sosa"]
    assert beto["backlog_total"] == 1
    assert hours(beto["total"].first_hours) == 0.5


def test_a_longer_period_reaches_april(data, people):
    board = support_dashboard(days=90, now=NOW)
    assert board["total"].resolved_n == 3
    assert board["total"].resolved_met == 2
    assert round(board["total"].csat, 2) == 3.5  # (5 + 4 + 2 + 3) / 4


def test_monthly_trend_over_six_months(data):
    trend = support_dashboard(days=30, now=NOW)["trend"]
    months = [row["month"] for row in trend["rows"]]
    assert months == [date(2026, m, 1) for m in range(1, 7)]
    by_month = {row["month"].month: row for row in trend["rows"]}
    assert by_month[4]["csat"] == 3.0 and by_month[4]["csat_n"] == 1
    assert round(by_month[6]["csat"], 2) == 3.67
    assert by_month[5]["nps"] == 100 and by_month[6]["nps"] == 25
    assert by_month[1]["csat"] is None and by_month[1]["nps"] is None
    assert trend["chart"]["csat"] == [None, None, None, 3.0, None, 3.67]
    assert trend["chart"]["nps"] == [None, None, None, None, 100, 25]
    assert trend["chart"]["labels"][0] == "Ene 2026"


def test_month_starts_cross_the_year():
    assert month_starts(date(2026, 2, 14), 4) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


def test_dashboard_queries_do_not_grow_with_tickets(people, django_assert_num_queries):
    for n in range(40):
        made = ticket(
            people,
            assignee=people["ana"] if n % 2 else people["beto"],
            created=NOW - timedelta(days=n % 20, hours=3),
            status="resuelto" if n % 3 else "abierto",
            first_response_at=NOW - timedelta(days=n % 20, hours=1),
            resolved_at=NOW - timedelta(days=n % 20) if n % 3 else None,
        )
        if n % 3:
            answered(kind="csat", score=1 + n % 5, when=NOW - timedelta(hours=n), ticket=made)
    # Backlog, reached targets, CSAT, users, two trends, the period's NPS: the business times
    # are stored on the tickets, so the calendar is not read.
    with django_assert_num_queries(7):
        support_dashboard(days=30, now=NOW)


def test_the_medians_are_the_stored_minutes(data):
    """The times are the numbers stored when each target was reached, not recomputed; a
    ticket without one (never back-filled) counts, without a time."""
    Ticket.objects.filter(pk=data["t3"].pk).update(first_response_business_minutes=150)
    total = support_dashboard(days=30, now=NOW)["total"]
    assert hours(total.first_hours) == 2.0  # [1, 2, 2.5]
    Ticket.objects.filter(pk=data["t3"].pk).update(first_response_business_minutes=None)
    total = support_dashboard(days=30, now=NOW)["total"]
    assert total.first_n == 3 and hours(total.first_hours) == 1.5  # [1, 2]


def test_tickets_worked_through_the_services_give_the_same_figures(people):
    """T1 and T2 of `data`, opened, answered and resolved by the services (which store the
    business minutes): the same medians, computed by hand there."""
    ana = people["ana"]

    def work(created: datetime, first: datetime, resolved: datetime) -> None:
        with mock.patch("django.utils.timezone.now", return_value=created):
            made = ticket_create(
                actor=ana,
                account=AccountFactory(),
                subject="No enciende la terminal",
                category="incidencia",
                channel="telefono",
                priority="media",
                assignee=ana,
            )
        made = ticket_record_first_response(ticket=made, actor=ana, at=first)
        with mock.patch("django.utils.timezone.now", return_value=resolved):
            ticket_transition(actor=ana, ticket=made, to_status="resuelto", resolution="Listo.")

    work(at(15, 9), at(15, 10), at(16, 11))  # 1 h, 11 h
    work(at(12, 17), at(15, 10), at(15, 12))  # 2 h, 4 h
    stored = Ticket.objects.order_by("created_at").values_list(
        "first_response_business_minutes", "resolution_business_minutes"
    )
    assert list(stored) == [(120, 240), (60, 660)]
    ana_row = support_dashboard(days=30, now=NOW)["agents"][0]
    assert (ana_row.first_n, ana_row.resolved_n) == (2, 2)
    assert hours(ana_row.first_hours) == 1.5 and hours(ana_row.resolution_hours) == 7.5


def test_support_home_counts_the_queues(data, people):
    home = support_home(user=people["ana"], now=NOW)
    assert home["backlog"] == 4
    assert home["mine"] == 2
    assert home["unassigned"] == 1
    assert home["breached"] == 1
    assert home["waiting"] == 1


def test_the_database_and_python_figures_agree(people):
    """On PostgreSQL the figures come from one grouped query; they match the Python path."""
    rng = random.Random(7)
    agents = [people["ana"], people["beto"], UserFactory(role=Role.SOPORTE), None]
    for _ in range(60):
        created = NOW - timedelta(minutes=rng.randrange(60, 60 * 24 * 50))
        first = created + timedelta(minutes=rng.randrange(1, 60 * 24 * 4))
        resolved = first + timedelta(minutes=rng.randrange(1, 60 * 24 * 6))
        ticket(
            people,
            assignee=rng.choice(agents),
            created=created,
            status="resuelto" if resolved < NOW else "abierto",
            first_response_at=first if first < NOW else None,
            resolved_at=resolved if resolved < NOW else None,
            first_response_breached=rng.random() < 0.3,
            resolution_breached=rng.random() < 0.3,
        )
    start = NOW - timedelta(days=30)
    expected = _reached_in_python(reached_tickets(scope=Scope(), start=start, end=NOW))
    found = reached_in_period(scope=Scope(), start=start, end=NOW)
    for want, got in zip(expected, found, strict=True):
        if isinstance(want, dict):
            assert want.keys() == got.keys()
            pairs = [(want[k], got[k]) for k in want]
        else:
            pairs = [(want, got)]
        for a, b in pairs:
            assert (a.first_n, a.first_met, a.resolved_n, a.resolved_met) == (
                b.first_n,
                b.first_met,
                b.resolved_n,
                b.resolved_met,
            )
            for x, y in (
                (a.first_median, b.first_median),
                (a.resolution_median, b.resolution_median),
            ):
                assert (x is None and y is None) or abs(x - y) < 1
