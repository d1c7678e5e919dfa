import contextlib
import ipaddress
import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from crm.core.mfa import mfa_enabled, mfa_required


class ForwardedForMiddleware:
    """Behind TRUSTED_PROXY_COUNT reverse proxies, the client's address is the one the
    outermost of them saw: that many entries from the right of X-Forwarded-For (each proxy
    appends the address it received from). REMOTE_ADDR becomes it, so every reader of the
    address (the audit trail, the consent ledger, the sign-up form's limits, django-axes)
    sees the person, not the proxy.

    Entries further left were written by the client and are never believed. With no header, a
    short one or a value that is not an address, REMOTE_ADDR stays as it is. With
    TRUSTED_PROXY_COUNT = 0 (no proxy: the default) the header is ignored altogether, since
    anyone could send it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.count = settings.TRUSTED_PROXY_COUNT

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.count > 0:
            header = request.META.get("HTTP_X_FORWARDED_FOR", "")
            hops = [hop.strip() for hop in header.split(",") if hop.strip()]
            if len(hops) >= self.count:
                candidate = hops[-self.count]
                with contextlib.suppress(ValueError):  # not an address: REMOTE_ADDR stays
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(candidate))
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """The Permissions-Policy header of settings.PERMISSIONS_POLICY ({feature: [origins]}, an
    empty list turning the feature off), on every response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.header = ", ".join(
            f"{feature}=({' '.join(origins)})"
            for feature, origins in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


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
        if SESSION_KEY not in session:
            # Signed in without a session (an API key): nothing to keep alive, and no session
            # row or cookie to create for it.
            return response
        now = time.time()
        if now - session.get(SESSION_TOUCHED, 0) >= settings.SESSION_TOUCH_SECONDS:
            session_touch(session, now)
        return response


class MFARequiredMiddleware:
    """Whoever must sign in with two steps (crm.core.mfa.mfa_required) uses the site only in a
    session that passed the second one (django-otp's `is_verified`).

    Without an authenticator yet (an administrator's first sign-in) they are sent to set it up,
    and reach nothing else but signing out and the language switch until done. With one, a
    session that skipped the second step (signed in some other way) is ended and they sign in
    again. Static files never get here (WhiteNoise answers them first); the check needs no query
    for anyone else.
    """

    ALWAYS = {"crm:logout", "set_language"}
    SETUP = {"crm:mfa-enable"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or not mfa_required(user) or user.is_verified():
            return None
        match = request.resolver_match
        view_name = match.view_name if match else ""
        if view_name in self.ALWAYS or request.path.startswith(settings.STATIC_URL):
            return None
        if mfa_enabled(user):
            logout(request)
            return redirect_to_login(request.get_full_path())
        if view_name in self.SETUP:
            return None
        return redirect("crm:mfa-enable")
