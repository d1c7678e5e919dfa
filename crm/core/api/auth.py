"""Authentication, scopes, rate limits and pagination of the REST API (settings.REST_FRAMEWORK).

Kept apart from crm.core.api.drf: DRF imports the classes its settings name while its own views
module loads, so this module must not import rest_framework.views (nor anything that does).

- `TokenAuthentication`: `Authorization: Bearer crm_…` with a personal key (tokens.py); the
  browsable pages use the session instead (with CSRF, as DRF's SessionAuthentication does).
- `HasScope`: a key reaches only the areas its scopes name (a view says its `api_area`); what
  its user may see and change inside an area is decided, as for the pages, by the app's
  selectors and services.
- `TokenRateThrottle`: requests per key.
- `CursorPage`: cursor pagination, stable while rows are added, with no COUNT on any page.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import SimpleRateThrottle

from crm.core.api.tokens import grants, token_for_key
from crm.core.forms_utils import client_ip
from crm.core.models import ApiToken
from crm.core.text import MAX_ID


class TokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("La cabecera Authorization debe ser «Bearer <clave>».")
            )
        token = token_for_key(parts[1].decode(errors="replace"), ip=client_ip(request))
        if token is None:
            raise exceptions.AuthenticationFailed(
                _("La clave de API no es válida, ha caducado o se ha revocado.")
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class HasScope(BasePermission):
    """A key needs its view's area in its scopes (write for anything but GET, HEAD, OPTIONS)."""

    message = _("Tu clave de API no tiene permiso para esta área.")

    def has_permission(self, request, view) -> bool:
        token = request.auth
        area = getattr(view, "api_area", None)
        if not isinstance(token, ApiToken) or area is None:
            return True  # a signed-in session: the role decides, in the selectors and services
        return grants(token.scopes, area, write=request.method not in SAFE_METHODS)


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per key (per user for a session; per address for the anonymous).

    Counted in the rate's windows (a minute for "600/min"): the requests of the current one,
    plus those of the one before weighed by the share of it still inside the last minute, as
    if they had come evenly. DRF's own throttle keeps the time of every request in one cache
    entry, read, unpickled, pickled and written back whole by each request (12,000 times at
    200 requests a second, 100 kB each way), and two workers doing so at once each write back
    their own list, losing the other's request. Here each request adds one to a counter
    (`incr`, atomic in Redis) and reads two numbers."""

    scope = "api"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window, into = divmod(self.now, self.duration)
        current, previous = f"{self.key}:{int(window)}", f"{self.key}:{int(window) - 1}"
        counts = self.cache.get_many([current, previous])
        self.current = counts.get(current, 0)
        self.previous = counts.get(previous, 0)
        self.into = into / self.duration  # how far into the current window, 0 to 1
        if self.previous * (1 - self.into) + self.current >= self.num_requests:
            return self.throttle_failure()
        # The window's first request makes the counter (add() fails when another did first);
        # the others add to it: incr() alone, when the counter was read (the cache's incr
        # checks first that it exists: two round trips to Redis, add and incr would be three).
        if current not in counts and self.cache.add(current, 1, 2 * self.duration):
            return True
        try:
            self.cache.incr(current)
        except ValueError:  # expired since it was read: this request starts it again
            self.cache.add(current, 1, 2 * self.duration)
        return True

    def wait(self) -> float:
        """Seconds until a request would be let through (the 429's Retry-After)."""
        to_window_end = (1 - self.into) * self.duration
        if self.current >= self.num_requests or not self.previous:
            return to_window_end
        # The previous window's weight falls as the current one goes by.
        share_left = (self.num_requests - self.current) / self.previous
        return max(0.0, (1 - share_left - self.into) * self.duration)


class CursorPage(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"
    invalid_cursor_message = _("El cursor no es válido: pide la primera página otra vez.")

    def decode_cursor(self, request):
        """DRF's reading of the cursor, with its position checked: by id, a whole number an
        id can be. A cursor is opaque but travels in the address, and a changed one ("p=abc")
        reached the database as an id and answered 500; now it is DRF's own invalid cursor
        (404), as any other cursor it cannot read."""
        cursor = super().decode_cursor(request)
        if (
            cursor is not None
            and cursor.position is not None
            and self.ordering[0].lstrip("-") in ("id", "pk")
        ):
            position = str(cursor.position)
            if not (position.isascii() and position.isdigit() and int(position) <= MAX_ID):
                raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor
