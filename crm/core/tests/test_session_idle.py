"""Sessions end after SESSION_COOKIE_AGE without a request, not a fixed time after signing in
(issue 13 §6), and a page does not write the session on every request."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.urls import reverse

from crm.core import middleware, sessions
from crm.core.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """The middleware's clock, moved by hand."""

    class Clock:
        now = time.time()

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(middleware.time, "time", lambda: clock.now)
    return clock


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def test_each_request_moves_the_end_forward_at_most_every_few_minutes(client, settings, clock):
    user = UserFactory()
    assert client.post(reverse("crm:login"), {"username": user.username, "password": PASSWORD})
    signed_in = _session_row(client).expire_date
    home = reverse("crm:home")

    clock.advance(60)  # a minute later: the session is not written again
    assert client.get(home).status_code == 200
    assert _session_row(client).expire_date == signed_in

    clock.advance(settings.SESSION_TOUCH_SECONDS)  # later on: its end moves forward
    assert client.get(home).status_code == 200
    assert _session_row(client).expire_date > signed_in


def test_an_idle_session_has_ended(client):
    user = UserFactory()
    client.post(reverse("crm:login"), {"username": user.username, "password": PASSWORD})
    home = reverse("crm:home")
    assert client.get(home).status_code == 200
    Session.objects.update(expire_date="2000-01-01T00:00:00Z")  # idle for longer than allowed
    # With Redis, crm.core.sessions keeps a copy in the cache that never outlives the session's
    # end: by now it would have expired with it.
    cache.delete(sessions.SessionStore.cache_key_prefix + client.session.session_key)
    response = client.get(home)
    assert response.status_code == 302 and response.url.startswith(reverse("crm:login"))


def test_the_idle_time_is_configurable(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60  # SESSION_IDLE_MINUTES, 480 by default
    assert settings.SESSION_TOUCH_SECONDS < settings.SESSION_COOKIE_AGE
