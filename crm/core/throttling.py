"""Login throttling with two locks (settings, "Login throttling"), on top of django-axes.

Axes records each failure under every lockout parameter group (the user name from an address,
and the address alone) and compares the most failures of any group with one limit. The
address's group always counts at least as many failures as the user name's from that address (it
holds them), so that one limit is the address's own, LOGIN_IP_FAILURE_LIMIT, until this user
name from this address has reached LOGIN_FAILURE_LIMIT: then that lower one, which the address's
count has reached too.
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """AXES_FAILURE_LIMIT: how many failures lock this request (module docstring)."""
    AxesProxyHandler.update_request(request)
    failures = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(n=Sum("failures_since_start"))["n"]
    if (failures or 0) >= settings.LOGIN_FAILURE_LIMIT:
        return settings.LOGIN_FAILURE_LIMIT
    return settings.LOGIN_IP_FAILURE_LIMIT


def forgive_on_login(sender, request, user, **kwargs) -> None:
    """On signing in, forget this user name's failures from this address, and only those.

    Axes's own reset (AXES_RESET_ON_SUCCESS) deletes every failure of every lockout group, the
    address's on other user names too: whoever owns one account could then try 19 names, sign
    in, and start again. Here they keep counting towards the address's lock.
    """
    if request is None:
        return
    AccessAttempt.objects.filter(
        username=user.get_username(), ip_address=get_client_ip_address(request)
    ).delete()
