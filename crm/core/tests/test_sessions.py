"""crm.core.sessions: sessions read from the cache, kept in the database, and a cache that does
not answer is no error page."""

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache, caches
from django.urls import reverse

from crm.core import sessions
from crm.core.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


class Unreachable:
    """A cache whose server does not answer (Redis down): every call raises."""

    def __getattr__(self, name):
        def call(*args, **kwargs):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return call


def _store(session_key=None) -> sessions.SessionStore:
    return sessions.SessionStore(session_key)


def _saved(**data) -> str:
    store = _store()
    store.update(data)
    store.save(must_create=True)
    return store.session_key


def test_redis_as_the_cache_makes_it_the_session_engine():
    expected = (
        "crm.core.sessions" if django_settings.REDIS_URL else "django.contrib.sessions.backends.db"
    )
    assert expected == django_settings.SESSION_ENGINE


def test_a_saved_session_is_read_from_the_cache_without_a_query(django_assert_num_queries):
    key = _saved(colour="verde")
    assert Session.objects.filter(session_key=key).exists()  # kept in the database too

    with django_assert_num_queries(0):
        assert _store(key)["colour"] == "verde"


def test_a_session_missing_from_the_cache_is_read_from_the_database_and_cached_again(
    django_assert_num_queries,
):
    key = _saved(colour="azul")
    cache.delete(sessions.SessionStore.cache_key_prefix + key)  # evicted, or Redis restarted

    with django_assert_num_queries(1):
        assert _store(key)["colour"] == "azul"
    with django_assert_num_queries(0):
        assert _store(key)["colour"] == "azul"


def test_the_cached_copy_lives_a_few_minutes_whatever_the_session_lasts(monkeypatch):
    timeouts = []
    real_set = caches["default"].set

    def spy(key, value, timeout):
        timeouts.append(timeout)
        return real_set(key, value, timeout)

    monkeypatch.setattr(caches["default"], "set", spy)
    key = _saved(colour="rojo")  # saved: copied to the cache
    cache.delete(sessions.SessionStore.cache_key_prefix + key)
    _store(key).load()  # read from the database: copied again

    assert django_settings.SESSION_COOKIE_AGE > sessions.CACHE_SECONDS
    assert timeouts
    assert all(0 < timeout <= sessions.CACHE_SECONDS for timeout in timeouts)


def test_with_the_cache_down_a_session_is_read_saved_and_ended_in_the_database(caplog):
    key = _saved(colour="gris")
    down = _store(key)
    down._cache = Unreachable()

    assert down["colour"] == "gris"
    down["colour"] = "negro"
    down.save()
    assert _store(key)._get_session_from_db() is not None

    reread = _store(key)
    reread._cache = Unreachable()
    assert reread["colour"] == "negro"

    reread.delete()
    assert not Session.objects.filter(session_key=key).exists()
    assert "la caché" in caplog.text


def test_signing_in_and_out_with_the_store(client, settings):
    settings.SESSION_ENGINE = "crm.core.sessions"
    user = UserFactory()
    client.post(reverse("crm:login"), {"username": user.username, "password": PASSWORD})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(reverse("crm:home")).status_code == 200
    assert cache.get(sessions.SessionStore.cache_key_prefix + key) is not None

    client.post(reverse("crm:logout"))

    assert cache.get(sessions.SessionStore.cache_key_prefix + key) is None
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("crm:home")).status_code == 302  # to sign in again


def test_signing_in_and_out_with_the_cache_down(client, settings, monkeypatch):
    settings.SESSION_ENGINE = "crm.core.sessions"
    real_init = sessions.SessionStore.__init__

    def unreachable_cache(self, session_key=None):
        real_init(self, session_key)
        self._cache = Unreachable()

    monkeypatch.setattr(sessions.SessionStore, "__init__", unreachable_cache)
    user = UserFactory()
    response = client.post(reverse("crm:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302  # signed in: a new key checked against the database
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("crm:home")).status_code == 200

    client.post(reverse("crm:logout"))
    assert not Session.objects.filter(session_key=key).exists()
