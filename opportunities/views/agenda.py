"""Pages of a seller's time: the agenda, the week, the visit plan, and the ICS feed a phone's
calendar subscribes to."""

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.models import User
from crm.core.text import parse_id
from opportunities.forms.activities import AgendaOwnerForm
from opportunities.models import Activity, CalendarFeed
from opportunities.selectors import activities as selectors
from opportunities.services import activities as services
from opportunities.views.activities import T, _require_seller
from opportunities.views.agenda_items import agenda_item_maker


def _agenda_rows(*buckets: tuple[list[Activity], bool]) -> None:
    """Give the agenda's rows their `html` (opportunities/views/agenda_items.py), each bucket's
    with or without the day above the hour."""
    make = agenda_item_maker()
    for rows, show_date in buckets:
        for activity in rows:
            activity.html = make(activity, show_date=show_date)


def _agenda_owner(request: HttpRequest) -> tuple[User, AgendaOwnerForm | None]:
    owners = selectors.agenda_owners(user=request.user)
    if request.user.is_rep:
        return request.user, None
    form = AgendaOwnerForm(
        request.GET if request.GET.get("owner") else None,
        owners=owners,
        initial={"owner": request.user.pk},
    )
    return form.chosen(request.user), form


# "ver más" of an agenda bucket: ?bloque=<name>&desde=<offset>, the names in the URL.
AGENDA_BUCKETS = {"vencidas": "overdue", "dia": "today", "resto": "week"}


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_http_methods(["GET"])
def agenda(request: HttpRequest) -> HttpResponse:
    """Today (or ?dia=YYYY-MM-DD), overdue and the rest of the week, a page of each.

    "Ver más" asks for ?bloque=<bucket>&desde=<offset>: with htmx only that bucket's next
    rows (appended in place), without it the whole page with that bucket from there.
    """
    _require_seller(request)
    owner, owner_form = _agenda_owner(request)
    day = _date(request.GET.get("dia"))
    bucket = AGENDA_BUCKETS.get(request.GET.get("bloque", ""))
    offsets = {bucket: parse_id(request.GET.get("desde")) or 0} if bucket else {}
    params = {"owner": owner.pk} if owner.pk != request.user.pk else {}
    if day:
        params["dia"] = day.isoformat()
    base_query = urlencode(params) + "&" if params else ""
    if request.htmx and bucket:
        agenda = selectors.agenda(
            user=request.user, owner=owner, day=day, offsets=offsets, only=bucket
        )
        name = next(key for key, value in AGENDA_BUCKETS.items() if value == bucket)
        rows = agenda.today_items if bucket == "today" else getattr(agenda, bucket)
        _agenda_rows((rows, bucket != "today"))
        return render(
            request,
            T + "agenda.html#bucket-rows",
            {
                "rows": rows,
                "more": getattr(agenda, f"{bucket}_more"),
                "bucket": name,
                "next": offsets[bucket] + selectors.AGENDA_LIMITS[bucket],
                "base_query": base_query,
            },
        )
    feed = services.calendar_feed_get_or_create(user=request.user)
    feed_url = request.build_absolute_uri(reverse("opportunities:calendar-feed", args=[feed.token]))
    agenda = selectors.agenda(user=request.user, owner=owner, day=day, offsets=offsets)
    _agenda_rows((agenda.overdue, True), (agenda.today_items, False), (agenda.week, True))
    return render(
        request,
        T + "agenda.html",
        {
            "agenda": agenda,
            "next": {
                name: agenda.offsets.get(key, 0) + selectors.AGENDA_LIMITS[key]
                for name, key in AGENDA_BUCKETS.items()
            },
            "paged": bool(offsets),
            "base_query": base_query,
            "owner": owner,
            "owner_form": owner_form,
            "is_own": owner.pk == request.user.pk,
            "feed_url": feed_url,
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1],
            # The badge of due visits loads after the page (a count over the rep's accounts).
            "visits_count_url": reverse("opportunities:visits-pending-count")
            + (f"?owner={owner.pk}" if owner.pk != request.user.pk else ""),
        },
    )


def _week_start(value: str | None, today: date) -> date:
    return selectors.week_start_of(_date(value) or today)


@require_http_methods(["GET"])
def agenda_week(request: HttpRequest) -> HttpResponse:
    """Seven columns on a desktop, a list of days on a phone; ?semana=YYYY-MM-DD moves it.

    Each day shows its first activities; "ver más" opens that day in the agenda, paged.
    """
    _require_seller(request)
    owner, owner_form = _agenda_owner(request)
    today = timezone.localdate()
    start = _week_start(request.GET.get("semana"), today)
    owner_query = f"&owner={owner.pk}" if owner.pk != request.user.pk else ""
    return render(
        request,
        T + "week.html",
        {
            "days": selectors.week_calendar(user=request.user, owner=owner, week_start=start),
            "week_start": start,
            "week_end": start + timedelta(days=6),
            "previous": (start - timedelta(days=7)).isoformat(),
            "next": (start + timedelta(days=7)).isoformat(),
            "this_week": selectors.week_start_of(today) == start,
            "now": timezone.now(),
            "owner": owner,
            "owner_form": owner_form,
            "owner_query": owner_query,
            "is_own": owner.pk == request.user.pk,
        },
    )


@require_http_methods(["GET"])
def visits_pending_count(request: HttpRequest) -> HttpResponse:
    """The "visitas pendientes" badge of the agenda's tabs, loaded after the page."""
    _require_seller(request)
    owner, _form = _agenda_owner(request)
    count = selectors.visits_pending_count(user=request.user, owner=owner)
    return render(
        request,
        T + "_agenda_nav.html#visits-badge",
        {
            "visits_count": min(count, selectors.VISITS_COUNT_LIMIT),
            "visits_more": count > selectors.VISITS_COUNT_LIMIT,
        },
    )


@require_http_methods(["GET"])
def visits_pending(request: HttpRequest) -> HttpResponse:
    """The accounts due a visit, most overdue first, a page at a time (?desde=<offset>)."""
    _require_seller(request)
    owner, owner_form = _agenda_owner(request)
    offset = max(0, parse_id(request.GET.get("desde")) or 0)
    size = selectors.VISITS_PAGE
    rows = selectors.visits_pending(user=request.user, owner=owner, limit=size + 1, offset=offset)
    more = len(rows) > size
    owner_query = f"&owner={owner.pk}" if owner.pk != request.user.pk else ""
    return render(
        request,
        T + "visits_pending.html",
        {
            "accounts": rows[:size],
            "cadences": sorted(selectors.visit_cadences().items()),
            "offset": offset,
            "previous": max(0, offset - size) if offset else None,
            "next": offset + size if more else None,
            "owner_query": owner_query,
            "visits_count": offset + len(rows[:size]),
            "visits_more": more,
            "owner": owner,
            "owner_form": owner_form,
            "is_own": owner.pk == request.user.pk,
        },
    )


# The calendar feed ----------------------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "HEAD"])
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The ICS feed behind the secret token (phones' calendars cannot log in)."""
    try:
        feed = selectors.calendar_feed_by_token(token=token)
    except CalendarFeed.DoesNotExist as exc:  # an unknown or rotated token
        raise Http404 from exc
    base_url = request.build_absolute_uri("/").rstrip("/")
    body = selectors.calendar_ics(feed=feed, base_url=base_url)
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="agenda.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_POST
def calendar_feed_rotate(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    services.calendar_feed_rotate(user=request.user)
    messages.success(
        request,
        _(
            "Nueva dirección del calendario creada; la anterior ya no funciona. "
            "Suscríbete de nuevo desde tu teléfono."
        ),
    )
    return redirect(reverse("opportunities:agenda") + "#calendario")
