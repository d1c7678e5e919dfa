"""The reads of activities: the agenda's days in the user's time zone, the visit plan, who sees
which timeline."""

from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.tests.factories import AccountFactory
from opportunities.models import Activity, ActivityKind, VisitCadence
from opportunities.selectors import activities as selectors
from opportunities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db

# Wednesday 25 November 2026, 05:00 UTC: still Tuesday 24 at 23:00 in Mexico City,
# already Wednesday 25 at 06:00 in Madrid.
NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def done(owner, when, **kwargs) -> Activity:
    return ActivityFactory(
        owner=owner,
        status=Activity.Status.DONE,
        planned_at=when,
        done_at=when,
        outcome="Ok",
        **kwargs,
    )


def test_agenda_buckets_in_mexico_city(rep, other_rep):
    overdue = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 24, 5))  # Mon 23, 23:00
    today = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 25, 3))  # Tue 24, 21:00
    done_today = done(rep, utc(2026, 11, 24, 18))  # Tue 24, 12:00
    week = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 25, 7))  # Wed 25, 01:00
    ActivityFactory(owner=rep, planned_at=utc(2026, 11, 30, 16))  # next Monday: not this week
    ActivityFactory(owner=rep, planned_at=utc(2026, 11, 24, 5), status="cancelada")
    ActivityFactory(owner=other_rep, planned_at=utc(2026, 11, 25, 3))

    agenda = selectors.agenda(user=rep, now=NOW)

    assert agenda.today == date(2026, 11, 24)
    assert agenda.overdue == [overdue]
    assert agenda.today_items == [done_today, today]
    assert agenda.week == [week]


def test_agenda_buckets_in_madrid(rep):
    rep.time_zone = "Europe/Madrid"
    rep.save()
    yesterday = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 25, 3))  # Wed 25, 04:00
    later = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 25, 7))  # Wed 25, 08:00
    earlier = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 24, 20))  # Tue 24, 21:00

    agenda = selectors.agenda(user=rep, now=NOW)

    assert agenda.today == date(2026, 11, 25)
    assert agenda.overdue == [earlier]
    assert agenda.today_items == [yesterday, later]
    assert agenda.week == []


def test_agenda_today_for_the_home_dashboard(rep):
    first = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 24, 15))
    second = done(rep, utc(2026, 11, 24, 20))
    ActivityFactory(owner=rep, planned_at=utc(2026, 11, 25, 15))
    assert selectors.agenda_today(user=rep, now=NOW) == [first, second]


def test_week_calendar_puts_each_activity_on_its_local_day(rep):
    late_monday = ActivityFactory(owner=rep, planned_at=utc(2026, 11, 24, 5))  # Mon 23, 23:00
    sunday = done(rep, utc(2026, 11, 29, 18))
    ActivityFactory(owner=rep, planned_at=utc(2026, 11, 30, 7))  # Mon 30 local: next week
    days = selectors.week_calendar(user=rep, week_start=date(2026, 11, 23), now=NOW)
    assert [d.day for d in days] == [date(2026, 11, 23) + timedelta(days=i) for i in range(7)]
    assert days[0].activities == [late_monday]
    assert days[6].activities == [sunday]
    assert sum(len(d.activities) for d in days) == 2
    assert [d.is_today for d in days] == [False, True, False, False, False, False, False]


def _account(owner, tier, **kwargs):
    return AccountFactory(owner=owner, tier_auto=tier, **kwargs)


def test_visits_pending_by_cadence_most_overdue_first(rep, other_rep):
    a_late = _account(rep, "A", name="A atrasada")  # every 14 days, last 20 days ago
    done(rep, NOW - timedelta(days=20), account=a_late, kind=ActivityKind.VISIT)
    b_fine = _account(rep, "B", name="B al día")  # every 30 days, last 10 days ago
    done(rep, NOW - timedelta(days=10), account=b_fine, kind=ActivityKind.VISIT)
    c_late = _account(rep, "C", name="C muy atrasada")  # every 90, last 100 days ago
    done(rep, NOW - timedelta(days=100), account=c_late, kind=ActivityKind.VISIT)
    _account(rep, "C", name="C nunca")
    _account(rep, "D", name="D nunca")  # D is never due
    _account(rep, "A", name="A archivada", archived_at=NOW)
    _account(other_rep, "A", name="De otro")
    # A call is not a visit, and a planned visit is not a done one.
    a_called = _account(rep, "A", name="A solo llamada")
    done(rep, NOW - timedelta(days=1), account=a_called, kind=ActivityKind.CALL)
    ActivityFactory(owner=rep, account=a_called, planned_at=NOW + timedelta(days=1))

    pending = selectors.visits_pending(user=rep, now=NOW)

    assert [a.name for a in pending] == [
        "A solo llamada",
        "C nunca",
        "C muy atrasada",
        "A atrasada",
    ]
    _called, never, c_row, a_row = pending
    assert (never.last_visit_at, never.due_date, never.days_overdue) == (None, None, None)
    assert a_row.days_overdue == 6
    assert a_row.due_date == (NOW - timedelta(days=6)).astimezone(selectors.user_zone(rep)).date()
    assert c_row.days_overdue == 10
    assert pending[0].next_visit_at is not None  # already planned: shown on the page
    assert [a.name for a in selectors.visits_pending(user=rep, now=NOW, limit=2)] == [
        "A solo llamada",
        "C nunca",
    ]
    assert selectors.visits_pending(user=other_rep, now=NOW)[0].name == "De otro"


def test_visits_pending_follows_the_cadence_setting(rep):
    account = _account(rep, "B", name="B")
    done(rep, NOW - timedelta(days=10), account=account, kind=ActivityKind.VISIT)
    assert selectors.visits_pending(user=rep, now=NOW) == []
    VisitCadence.objects.filter(tier="B").update(days=7)
    assert [a.name for a in selectors.visits_pending(user=rep, now=NOW)] == ["B"]
    VisitCadence.objects.filter(tier="B").update(days=None)
    assert selectors.visits_pending(user=rep, now=NOW) == []


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("rep", {"rep"}),
        ("manager", {"rep", "manager"}),
        ("other_rep", {"other_rep"}),
        ("support", {"rep", "manager", "other_rep"}),
        ("marketing", set()),
        ("admin_user", {"rep", "manager", "other_rep"}),
    ],
)
def test_timeline_visibility_per_role(request, rep, manager, other_rep, role, sees):
    account = AccountFactory(owner=rep)
    owners = {"rep": rep, "manager": manager, "other_rep": other_rep}
    for owner in owners.values():
        done(owner, NOW, account=account)
    user = request.getfixturevalue(role)
    timeline, more = selectors.customer_timeline(user=user, account_id=account.pk)
    assert {a.owner.username for a in timeline} == {owners[n].username for n in sees}
    assert more is False


def test_timeline_planned_on_top_then_newest_first_and_bounded(rep):
    account = AccountFactory(owner=rep)
    old = done(rep, NOW - timedelta(days=5), account=account)
    new = done(rep, NOW - timedelta(days=1), account=account)
    soon = ActivityFactory(owner=rep, account=account, planned_at=NOW + timedelta(days=1))
    later = ActivityFactory(owner=rep, account=account, planned_at=NOW + timedelta(days=9))
    timeline, more = selectors.customer_timeline(user=rep, account_id=account.pk)
    assert timeline == [soon, later, new, old]
    timeline, more = selectors.customer_timeline(user=rep, account_id=account.pk, limit=3)
    assert (len(timeline), more) == (3, True)
