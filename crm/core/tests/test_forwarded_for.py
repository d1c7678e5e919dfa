"""The client's address behind trusted reverse proxies (ForwardedForMiddleware)."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from crm.core.middleware import ForwardedForMiddleware


def _seen(settings, proxies: int, header: str | None, remote: str = "10.0.0.5") -> str:
    settings.TRUSTED_PROXY_COUNT = proxies
    seen = {}

    def view(request):
        seen["ip"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    extra = {"REMOTE_ADDR": remote}
    if header is not None:
        extra["HTTP_X_FORWARDED_FOR"] = header
    ForwardedForMiddleware(view)(RequestFactory().get("/", **extra))
    return seen["ip"]


def test_without_a_trusted_proxy_the_header_is_ignored(settings):
    assert _seen(settings, 0, "203.0.113.7") == "10.0.0.5"


def test_one_proxy_takes_the_address_it_received_from(settings):
    # The client wrote "1.2.3.4" itself; nginx appended the address it saw.
    assert _seen(settings, 1, "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert _seen(settings, 1, "2001:db8::1") == "2001:db8::1"


def test_two_proxies_count_two_from_the_right(settings):
    assert _seen(settings, 2, "1.2.3.4, 203.0.113.7, 10.0.0.2") == "203.0.113.7"


@pytest.mark.parametrize("header", [None, "", "no-es-una-ip", " , "])
def test_a_missing_short_or_bad_header_keeps_remote_addr(settings, header):
    assert _seen(settings, 1, header) == "10.0.0.5"
    assert _seen(settings, 2, "203.0.113.7") == "10.0.0.5"
