"""Every read of activities: the customer's timeline, the agenda, the visit plan, the ICS feed.

Visibility comes from opportunities.permissions (one place): a rep reads their own, a manager
their team's, support all of them, marketing none. Days and weeks are the user's, in their time
zone; everything is stored in UTC.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.db import get_prepared
from crm.core.models import User
from opportunities.models import (
    Activity,
    ActivityKind,
    CalendarFeed,
    Opportunity,
    VisitCadence,
)
from opportunities.permissions import (
    activity_editable_q,
    activity_visible_q,
    opportunity_visible_q,
    team_members,
)

TIMELINE_LIMIT = 20
# Rows per page of each agenda bucket; "ver más" loads the next page.
AGENDA_LIMIT = 20  # a day (today by default) and the rest of the week
OVERDUE_LIMIT = 10  # five shown, the rest folded
AGENDA_LIMITS = {"overdue": OVERDUE_LIMIT, "today": AGENDA_LIMIT, "week": AGENDA_LIMIT}
WEEK_DAY_LIMIT = 8  # activities per day of the week calendar, then "ver más"
VISITS_PAGE = 50  # accounts per page of the visit plan
VISITS_COUNT_LIMIT = 50  # the badge counts this far, then says "50+"
FEED_PAST_DAYS = 30
FEED_LIMIT = 2000
RELATED = ("owner", "account", "contact", "opportunity")


def user_zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# Visibility -----------------------------------------------------------------------------------


def activity_visible(*, user: User) -> QuerySet[Activity]:
    return Activity.objects.filter(activity_visible_q(user))


def activity_editable(*, user: User) -> QuerySet[Activity]:
    return Activity.objects.filter(activity_editable_q(user))


def activity_detail(*, user: User, pk: int) -> Activity:
    """The activity with what its page shows; Activity.DoesNotExist when not visible."""
    return get_prepared(
        activity_visible(user=user)
        .select_related(*RELATED, "contact__account")
        .annotate(can_edit=Exists(activity_editable(user=user).filter(pk=OuterRef("pk")))),
        pk=pk,
    )


def agenda_owners(*, user: User) -> QuerySet[User]:
    """Whose agenda `user` may open: their own, their teams' reps, or (admin) every seller."""
    return team_members(user).order_by("first_name", "last_name", "username")


def _timeline_order(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    """Planned first (soonest on top), then done and cancelled, newest first."""
    planned = Q(status=Activity.Status.PLANNED)
    return qs.annotate(
        _planned_first=Case(When(planned, then=Value(0)), default=Value(1)),
        _planned_at=Case(When(planned, then=F("planned_at")), default=Value(None)),
        _when=Coalesce("done_at", "planned_at"),
    ).order_by("_planned_first", F("_planned_at").asc(nulls_last=True), "-_when", "-pk")


def activity_list(*, user: User, filters: dict | None = None) -> QuerySet[Activity]:
    filters = filters or {}
    qs = activity_visible(user=user).select_related(*RELATED)
    if account := filters.get("account"):
        qs = qs.filter(account_id=account)
    if contact := filters.get("contact"):
        qs = qs.filter(contact_id=contact)
    if opportunity := filters.get("opportunity"):
        qs = qs.filter(opportunity_id=opportunity)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if kind := filters.get("kind"):
        qs = qs.filter(kind=kind)
    if filters.get("mine"):
        qs = qs.filter(owner=user)
    return _timeline_order(qs)


def customer_timeline(
    *,
    user: User,
    account_id: int | None = None,
    contact_id: int | None = None,
    opportunity_id: int | None = None,
    limit: int = TIMELINE_LIMIT,
) -> tuple[list[Activity], bool]:
    """The customer's (or one deal's) activities this user may see, bounded; and if more."""
    if opportunity_id:
        filters = {"opportunity": opportunity_id}
    elif account_id:
        filters = {"account": account_id}
    else:
        filters = {"contact": contact_id}
    rows = list(activity_list(user=user, filters=filters)[: limit + 1])
    return rows[:limit], len(rows) > limit


# The agenda -----------------------------------------------------------------------------------


@dataclass
class Agenda:
    """Each bucket is one bounded page; `*_more` says whether a next page exists."""

    today: date
    day: date | None = None
    overdue: list[Activity] = field(default_factory=list)
    overdue_more: bool = False
    today_items: list[Activity] = field(default_factory=list)
    today_more: bool = False
    week: list[Activity] = field(default_factory=list)
    week_more: bool = False
    offsets: dict[str, int] = field(default_factory=dict)


# What an agenda line shows (views/agenda_items.py and the week's cells), nothing more.
AGENDA_FIELDS = (
    "kind",
    "status",
    "subject",
    "owner_id",
    "planned_at",
    "done_at",
    "place",
    "outcome",
    "account__name",
    "contact__first_name",
    "contact__last_name",
)


def _agenda_base(owner: User) -> QuerySet[Activity]:
    return (
        Activity.objects.filter(owner=owner)
        .select_related("account", "contact")
        .only(*AGENDA_FIELDS)
    )


def _page_ids(qs: QuerySet[Activity], offset: int, limit: int) -> tuple[list[int], bool]:
    """The ids of a bucket's page (and whether a next one exists), in the bucket's order.

    Only this query has an OFFSET, and it reads the primary key alone: "ver más" far down a
    bucket walks its index past the skipped rows without reading or joining them.
    """
    ids = list(qs.values_list("pk", flat=True)[offset : offset + limit + 1])
    return ids[:limit], len(ids) > limit


def _rows_by_id(owner: User, ids: list[int]) -> dict[int, Activity]:
    """The agenda lines of these ids, one query whatever the buckets they come from."""
    if not ids:
        return {}
    return {row.pk: row for row in _agenda_base(owner).filter(pk__in=ids).order_by()}


def _between(owner: User, start: datetime, end: datetime) -> QuerySet[Activity]:
    """Planned and done activities of `owner` whose moment falls in [start, end), in order.

    A planned activity has no done_at and a done one always has it, so the range on
    Coalesce(done_at, planned_at) is "planned then, or done then" (what `Activity.when`
    shows), and it walks the (owner, when, id) index in order: a page stops after its rows
    however busy the day.
    """
    return (
        _agenda_base(owner)
        .annotate(_when=Coalesce("done_at", "planned_at"))
        .filter(
            status__in=[Activity.Status.PLANNED, Activity.Status.DONE],
            _when__gte=start,
            _when__lt=end,
        )
        .order_by("_when", "pk")
    )


AGENDA_BUCKETS = ("overdue", "today", "week")


def agenda(
    *,
    user: User,
    owner: User | None = None,
    now: datetime | None = None,
    day: date | None = None,
    offsets: dict[str, int] | None = None,
    only: str | None = None,
    limits: dict[str, int] | None = None,
) -> Agenda:
    """Overdue (planned, before today), a day (today unless `day`) and the rest of this week.

    Each bucket's page is its ids first, bounded by `limits` (AGENDA_LIMITS by default), from
    `offsets` (where each bucket's page starts), walking the (owner, status, planned_at) and
    (owner, when) indexes; then one query reads the rows of every bucket's page by id. `only`
    reads just that bucket, for its "ver más". The same few rows whatever the rep's history,
    how busy their day is, or how far down a bucket "ver más" goes.
    """
    owner = owner or user
    offsets = {key: max(0, offsets.get(key, 0)) for key in AGENDA_BUCKETS} if offsets else {}
    zone = user_zone(user)
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    shown = day or today
    start, tomorrow = day_start(today, zone), day_start(today + timedelta(days=1), zone)
    week_end = day_start(week_start_of(today) + timedelta(days=7), zone)
    planned = _agenda_base(owner).filter(status=Activity.Status.PLANNED)
    buckets = {
        "overdue": lambda: planned.filter(planned_at__lt=start).order_by("planned_at", "pk"),
        "today": lambda: _between(
            owner, day_start(shown, zone), day_start(shown + timedelta(days=1), zone)
        ),
        "week": lambda: planned.filter(planned_at__gte=tomorrow, planned_at__lt=week_end).order_by(
            "planned_at", "pk"
        ),
    }
    result = Agenda(today=today, day=shown if shown != today else None, offsets=offsets)
    pages = {}
    for key, qs in buckets.items():
        if only and key != only:
            continue
        pages[key], more = _page_ids(qs(), offsets.get(key, 0), (limits or AGENDA_LIMITS)[key])
        setattr(result, f"{key}_more", more)
    found = _rows_by_id(owner, [pk for ids in pages.values() for pk in ids])
    for key, ids in pages.items():
        rows = [found[pk] for pk in ids if pk in found]
        setattr(result, "today_items" if key == "today" else key, rows)
    return result


def agenda_today(
    *,
    user: User,
    owner: User | None = None,
    now: datetime | None = None,
    limit: int = AGENDA_LIMIT,
) -> list[Activity]:
    """Today's planned and done activities of the user, in order of time (the home dashboard).

    The first `limit` of them: a busy rep logs thousands a day.
    """
    owner = owner or user
    zone = user_zone(user)
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    start, end = day_start(today, zone), day_start(today + timedelta(days=1), zone)
    return list(_between(owner, start, end)[:limit])


@dataclass
class CalendarDay:
    day: date
    is_today: bool
    activities: list[Activity]
    more: bool = False


def week_calendar(
    *,
    user: User,
    week_start: date,
    owner: User | None = None,
    now: datetime | None = None,
    limit: int = WEEK_DAY_LIMIT,
) -> list[CalendarDay]:
    """The seven days from Monday `week_start`, each with its first `limit` planned and done
    activities and whether it has more.

    One query: a UNION ALL of seven bounded walks of the (owner, when) index, one per day.
    """
    owner = owner or user
    zone = user_zone(user)
    today = (now or timezone.now()).astimezone(zone).date()
    days = [
        CalendarDay(day=week_start + timedelta(days=i), is_today=False, activities=[])
        for i in range(7)
    ]
    bounds = [day_start(week_start + timedelta(days=i), zone) for i in range(8)]
    if connection.features.supports_slicing_ordering_in_compound:
        parts = [
            _between(owner, bounds[i], bounds[i + 1]).annotate(
                _day=Value(i, output_field=IntegerField())
            )[: limit + 1]
            for i in range(7)
        ]
        rows = parts[0].union(*parts[1:], all=True)
    else:  # SQLite (development, tests): the whole week, bounded below.
        rows = _between(owner, bounds[0], bounds[7])
    for activity in rows:
        index = getattr(activity, "_day", None)
        if index is None:
            index = (activity.when.astimezone(zone).date() - week_start).days
        day = days[index]
        if len(day.activities) < limit:
            day.activities.append(activity)
        else:
            day.more = True
    for day in days:
        day.activities.sort(key=lambda a: (a._when, a.pk))
        day.is_today = day.day == today
    return days


# The visit plan -------------------------------------------------------------------------------


def visit_cadences() -> dict[str, int]:
    """Days between visits per tier; a tier without days (D by default) is never due."""
    return dict(
        VisitCadence.objects.filter(days__isnull=False, days__gt=0).values_list("tier", "days")
    )


def visits_due(
    *,
    owner: User,
    at: datetime,
    unplanned_only: bool = False,
    period: str = "",
) -> QuerySet[Account]:
    """The owner's live accounts whose visit is due by `at` under their tier's cadence.

    Annotated with `last_visit_at` (last done visit, or None: never visited) and `due_at`
    (None when never visited); most overdue first, never-visited ones before all.

    Due means "no done visit after `at` minus the tier's days": one NOT EXISTS (an anti-join
    probing the partial (account, done_at) index of done visits) rather than filtering on the
    last visit's correlated subquery, which Django repeats in every expression using it.
    Only the sort key `due_at` evaluates that subquery for each due account; PostgreSQL leaves
    the other annotations until after the sort and limit.
    """
    cadences = visit_cadences()
    if not cadences:
        return Account.objects.none()
    visits = Activity.objects.filter(account=OuterRef("pk"), kind=ActivityKind.VISIT)
    done = visits.filter(status=Activity.Status.DONE)
    planned = visits.filter(status=Activity.Status.PLANNED)
    last_visit = Subquery(done.order_by("-done_at").values("done_at")[:1])
    # The last moment a visit would still count: `at` minus the tier's days.
    since = Case(
        *[
            When(tier=tier, then=Value(at - timedelta(days=days)))
            for tier, days in cadences.items()
        ],
        default=Value(None),
        output_field=DateTimeField(),
    )
    due_at = Case(
        *[
            When(
                tier=tier,
                then=ExpressionWrapper(
                    last_visit + Value(timedelta(days=days)), output_field=DateTimeField()
                ),
            )
            for tier, days in cadences.items()
        ],
        default=Value(None),
        output_field=DateTimeField(),
    )
    cadence_days = Case(
        *[When(tier=tier, then=Value(days)) for tier, days in cadences.items()],
        default=Value(None),
        output_field=IntegerField(),
    )
    qs = (
        Account.objects.filter(owner=owner, archived_at__isnull=True, tier__in=list(cadences))
        .alias(_visit_since=since)
        .exclude(Exists(done.filter(done_at__gt=OuterRef("_visit_since"))))
    )
    if unplanned_only:
        qs = qs.exclude(Exists(planned))
        if period:
            qs = qs.exclude(
                Exists(Activity.objects.filter(account=OuterRef("pk"), cadence_period=period))
            )
    return qs.annotate(
        last_visit_at=last_visit,
        next_visit_at=Subquery(planned.order_by("planned_at").values("planned_at")[:1]),
        due_at=due_at,
        cadence_days=cadence_days,
    ).order_by(F("due_at").asc(nulls_first=True), "tier", "name", "pk")


def visits_pending(
    *,
    user: User,
    limit: int | None = None,
    owner: User | None = None,
    now: datetime | None = None,
    offset: int = 0,
) -> list[Account]:
    """The user's accounts past their visit cadence, most overdue first (`limit` from `offset`).

    Each carries `last_visit_at`, `next_visit_at` (a visit already planned), `due_date` and
    `days_overdue` (both None when the account was never visited), in the user's time zone.
    """
    owner = owner or user
    now = now or timezone.now()
    zone = user_zone(user)
    today = now.astimezone(zone).date()
    qs = visits_due(owner=owner, at=now)
    accounts = list(qs[offset : offset + limit] if limit else qs[offset:])
    for account in accounts:
        account.due_date = account.due_at.astimezone(zone).date() if account.due_at else None
        account.days_overdue = (today - account.due_date).days if account.due_date else None
    return accounts


def visits_pending_count(
    *, user: User, owner: User | None = None, limit: int | None = VISITS_COUNT_LIMIT
) -> int:
    """How many accounts are due; with `limit`, counted up to `limit` + 1 at most (the badge
    then says "50+") so that a rep with thousands of accounts does not wait for the count."""
    qs = visits_due(owner=owner or user, at=timezone.now()).order_by().values("pk")
    return (qs[: limit + 1] if limit else qs).count()


# Forms' choices -------------------------------------------------------------------------------


def contacts_for_account(*, account_id: int, limit: int = 100) -> list[Contact]:
    return list(
        Contact.objects.filter(account_id=account_id, archived_at__isnull=True).order_by(
            "last_name", "first_name", "pk"
        )[:limit]
    )


def open_opportunities_for(*, user: User, account_id: int, limit: int = 50) -> list[Opportunity]:
    """The open deals at the account that the user may see (to tie an activity to one)."""
    return list(
        Opportunity.objects.filter(opportunity_visible_q(user), account_id=account_id)
        .filter(stage__is_won=False, stage__is_lost=False)
        .order_by("expected_close_date", "pk")[:limit]
    )


# The ICS feed ---------------------------------------------------------------------------------


def calendar_feed_by_token(*, token: str) -> CalendarFeed:
    """The feed of an active user; CalendarFeed.DoesNotExist for an unknown or rotated token."""
    return CalendarFeed.objects.select_related("user").get(token=token, user__is_active=True)


def calendar_feed_of(*, user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def feed_activities(*, user: User, now: datetime | None = None) -> list[Activity]:
    """The planned activities the phone's calendar shows: from 30 days ago on."""
    since = (now or timezone.now()) - timedelta(days=FEED_PAST_DAYS)
    return list(
        Activity.objects.filter(owner=user, status=Activity.Status.PLANNED, planned_at__gte=since)
        .select_related("account", "contact")
        .order_by("planned_at", "pk")[:FEED_LIMIT]
    )


def ics_escape(text: str) -> str:
    """A TEXT value per RFC 5545 §3.3.11: backslash, semicolon, comma and newlines escaped."""
    text = (text or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    out, current, size = [], [], 0
    for char in line:
        width = len(char.encode("utf-8"))
        # Continuation lines start with a space, which counts towards their 75 octets.
        limit = 75 if not out else 74
        if size + width > limit:
            out.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n ".join(out)


def ics_datetime(value: datetime) -> str:
    return value.astimezone(zoneinfo.ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def calendar_ics(*, feed: CalendarFeed, base_url: str, now: datetime | None = None) -> str:
    """The user's planned activities as an iCalendar (RFC 5545) document."""
    now = now or timezone.now()
    user = feed.user
    host = base_url.split("://", 1)[-1].split("/", 1)[0] or "crm"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//CRM//Agenda de actividades//ES",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_escape(_('Agenda CRM de %(name)s') % {'name': user})}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for activity in feed_activities(user=user, now=now):
        customer = activity.contact or activity.account
        summary = f"{activity.get_kind_display()}: {activity.subject or customer}"
        location = activity.place or (activity.account.address_line if activity.account else "")
        url = f"{base_url}{activity.get_absolute_url()}"
        description = "\n".join(
            part
            for part in (
                str(activity.account or ""),
                activity.contact.full_name if activity.contact else "",
                activity.notes,
                url,
            )
            if part
        )
        end = activity.planned_at + timedelta(minutes=activity.duration_minutes or 30)
        lines += [
            "BEGIN:VEVENT",
            f"UID:actividad-{activity.pk}@{host}",
            f"DTSTAMP:{ics_datetime(now)}",
            f"LAST-MODIFIED:{ics_datetime(activity.updated_at)}",
            f"DTSTART:{ics_datetime(activity.planned_at)}",
            f"DTEND:{ics_datetime(end)}",
            f"SUMMARY:{ics_escape(summary)}",
            f"LOCATION:{ics_escape(location)}",
            f"DESCRIPTION:{ics_escape(description)}",
            f"URL:{url}",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)
