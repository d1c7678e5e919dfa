import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class UserTimezoneMiddleware:
    """Show times in the signed-in user's time zone (stored in UTC, DESIGN.md §3)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        tz_name = getattr(user, "time_zone", "") if user and user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(tz_name)) if tz_name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


# When the session was last moved forward (seconds since the epoch), kept in the session itself.
SESSION_TOUCHED = "_crm_touched"


def session_touch(session, now: float | None = None) -> None:
    """Start (or restart) the session's idle clock: it is saved, and so expires
    SESSION_COOKIE_AGE seconds from now."""
    session[SESSION_TOUCHED] = int(now if now is not None else time.time())


class SessionIdleMiddleware:
    """Sessions end after SESSION_COOKIE_AGE seconds without a request (SESSION_IDLE_MINUTES in
    the environment), not a fixed time after signing in.

    Each request of a signed-in user moves the end forward. To spare a write per request, it
    does so at most once every SESSION_TOUCH_SECONDS: the session then ends between
    SESSION_COOKIE_AGE - SESSION_TOUCH_SECONDS and SESSION_COOKIE_AGE after the last request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated:
            return response
        now = time.time()
        if now - session.get(SESSION_TOUCHED, 0) >= settings.SESSION_TOUCH_SECONDS:
            session_touch(session, now)
        return response
