"""Who is asking, kept in the cache (crm.core.kept): the signed-in user and an API key with its
user are read from the cache by a request, and whatever decides what they reach (the key, the
user, the user's team) makes the next request read them again; a revocation holds even against
a request that read the key just before it."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.core import kept
from crm.core.api.tokens import SCOPES, token_create, token_for_key, token_revoke
from crm.core.models import ApiToken, Role
from crm.core.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

KEEP_SECONDS = 30


@pytest.fixture(autouse=True)
def local_cache():
    """Kept as with Redis, in a cache of this test's own (the users' ids repeat across the
    tests' databases), whose entries expire by the frozen clock (Redis keeps its own time)."""
    with override_settings(
        AUTH_KEEP_SECONDS=KEEP_SECONDS,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    ):
        from django.core.cache import cache

        cache.clear()
        yield


@pytest.fixture
def key(rep) -> str:
    _token, key = token_create(user=rep, name="ERP", scopes=SCOPES, days=90)
    return key


def _get(key: str, path: str = "api:account-list"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(path))
    return response.status_code, [q["sql"] for q in queries if "crm_apitoken" in q["sql"]]


def test_a_keys_next_requests_read_it_from_the_cache(key):
    status, reads = _get(key)
    assert status == 200 and reads  # read, its use recorded
    for _ in range(3):
        assert _get(key) == (200, [])
    assert token_for_key(key).user.username == "vendedor"


def test_a_revoked_key_is_refused_at_once(rep, key):
    assert _get(key)[0] == 200
    token_revoke(actor=rep, token=ApiToken.objects.get(user=rep))
    assert _get(key)[0] == 401


def test_a_request_that_read_the_key_before_its_revocation_does_not_keep_it(rep, key):
    """The revocation leaves a marker in the key's place; a request that read the live row
    just before it keeps its copy only where nothing is."""
    read_before = ApiToken.objects.select_related("user", "user__team").get(user=rep)
    token_revoke(actor=rep, token=ApiToken.objects.get(user=rep))
    kept.keep(kept.api_key_key(read_before.key_hash), read_before)
    assert token_for_key(key) is None
    assert _get(key)[0] == 401


def test_a_deleted_or_expired_key_is_refused_at_once(rep, key):
    assert _get(key)[0] == 200
    token = ApiToken.objects.get(user=rep)
    token.expires_at = timezone.now()
    token.save()
    assert _get(key)[0] == 401
    token.expires_at = timezone.now() + datetime.timedelta(days=1)
    token.save()
    assert _get(key)[0] == 200
    token.delete()
    assert _get(key)[0] == 401


def test_a_key_that_expires_while_kept_is_refused(rep, key):
    expires = ApiToken.objects.get(user=rep).expires_at
    with time_machine.travel(expires - datetime.timedelta(seconds=5), tick=False) as clock:
        assert _get(key)[0] == 200
        assert _get(key) == (200, [])  # kept
        clock.shift(6)
        assert _get(key)[0] == 401


def test_its_user_and_team_are_read_again_when_they_change(rep, key):
    with time_machine.travel(timezone.now(), tick=False) as clock:

        def kept_again() -> None:
            """Past the marker the last change left: the key is read, then kept."""
            clock.shift(KEEP_SECONDS + 1)
            token_for_key(key)
            assert _get(key, "api:contact-list") == (200, [])

        kept_again()
        rep.role = Role.SOPORTE
        rep.save()
        assert token_for_key(key).user.role == Role.SOPORTE
        kept_again()
        rep.team.name = "Equipo Bajío"
        rep.team.save()
        assert token_for_key(key).user.team.name == "Equipo Bajío"
        kept_again()
        rep.team = TeamFactory(name="Equipo Sur")
        rep.save()
        assert token_for_key(key).user.team.name == "Equipo Sur"
        kept_again()
        rep.is_active = False
        rep.save()
        assert _get(key)[0] == 401


def test_signing_in_elsewhere_keeps_the_key(rep, key):
    """The sign-in saves the last login alone: nothing a key's request reads."""
    assert _get(key)[0] == 200
    rep.last_login = timezone.now()
    rep.save(update_fields=["last_login"])
    assert _get(key) == (200, [])


def test_a_change_made_without_signals_is_seen_within_the_keep(rep, key):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert _get(key)[0] == 200
        ApiToken.objects.filter(user=rep).update(revoked_at=timezone.now())
        assert _get(key)[0] == 200  # still kept: an update() sends no signal
        clock.shift(KEEP_SECONDS + 1)
        assert _get(key)[0] == 401


def test_its_use_is_recorded_when_read_from_the_database(rep, key):
    """At most once a minute and on a new address, when the kept copy has expired: within
    KEEP_SECONDS plus a minute of the last request."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        token_for_key(key, ip="203.0.113.5")
        token = ApiToken.objects.get(user=rep)
        assert (token.last_used_at, token.last_used_ip) == (start, "203.0.113.5")
        clock.shift(KEEP_SECONDS - 1)
        token_for_key(key, ip="198.51.100.7")  # kept: nothing written
        token.refresh_from_db()
        assert (token.last_used_at, token.last_used_ip) == (start, "203.0.113.5")
        clock.shift(2)
        token_for_key(key, ip="198.51.100.7")  # read again: a new address
        token.refresh_from_db()
        assert token.last_used_ip == "198.51.100.7"
        assert token.last_used_at == start + datetime.timedelta(seconds=KEEP_SECONDS + 1)


class _DownCache:
    def __getattr__(self, name):
        def down(*args, **kwargs):
            raise ConnectionError("Redis no responde")

        return down


def test_a_cache_that_does_not_answer_costs_the_query_not_the_request(
    monkeypatch, rep, key, caplog
):
    monkeypatch.setattr(kept, "cache", _DownCache())
    status, reads = _get(key)
    assert status == 200 and reads
    status, reads = _get(key)
    assert status == 200 and reads  # read from the database each time
    token_revoke(actor=rep, token=ApiToken.objects.get(user=rep))
    assert _get(key)[0] == 401
    assert "sin caché" in caplog.text


def test_a_cache_of_each_process_keeps_no_key(rep, key):
    """Without Redis each worker has its own cache: a key revoked through one would still be
    let in by another's copy. There keys are read from the database each time."""
    with override_settings(AUTH_KEEP_SECONDS=0):
        for _ in range(2):
            status, reads = _get(key)
            assert status == 200 and reads
        rep.last_name = "Anda Ruiz"
        with CaptureQueriesContext(connection) as queries:
            rep.save()
        assert not [q for q in queries if "crm_apitoken" in q["sql"]]  # nothing to forget


# --- The signed-in user (crm.core.backends.UserBackend) ---------------------------------------


def _page(client, user):
    """The contact list's status, its text, and whether it read `user` from the database."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("contacts:contact-list"))
    read = [q for q in queries if f'WHERE "crm_user"."id" = {user.pk}' in q["sql"]]
    return response.status_code, response.content.decode(), bool(read)


def test_a_signed_in_users_next_pages_read_them_from_the_cache(client_for, rep):
    client = client_for(rep)
    assert _page(client, rep)[::2] == (200, True)
    assert _page(client, rep)[::2] == (200, False)
    assert _page(client, rep)[::2] == (200, False)


def test_a_user_or_team_changed_is_on_the_next_page(client_for, rep):
    client = client_for(rep)
    with time_machine.travel(timezone.now(), tick=False) as clock:

        def kept_again() -> None:
            """Past the marker the last change left: the user is read, then kept."""
            clock.shift(KEEP_SECONDS + 1)
            _page(client, rep)
            assert _page(client, rep)[::2] == (200, False)

        kept_again()
        rep.first_name = "Rigoberta"
        rep.save()
        status, text, read = _page(client, rep)
        assert read and "Rigoberta" in text
        kept_again()
        rep.team.name = "Equipo Bajío"
        rep.team.save()
        status, text, read = _page(client, rep)
        assert read and "Equipo Bajío" in text
        kept_again()
        rep.team.delete()  # its members' column emptied without a save of theirs
        status, text, read = _page(client, rep)
        assert read and "Equipo Bajío" not in text


def test_a_user_deactivated_or_whose_password_changed_is_signed_out(client_for, rep, manager):
    client = client_for(rep)
    assert _page(client, rep)[0] == 200
    rep.set_password("otra-clave-larga-2026")
    rep.save()
    assert _page(client, rep)[0] == 302  # the session's password hash no longer matches
    other = client_for(manager)
    assert _page(other, manager)[0] == 200
    manager.is_active = False
    manager.save()
    assert _page(other, manager)[0] == 302


def test_a_page_that_read_the_user_before_the_change_does_not_keep_them(rep):
    from crm.core.backends import UserBackend
    from crm.core.models import User

    read_before = User.objects.select_related("team").get(pk=rep.pk)
    rep.role = Role.SOPORTE
    rep.save()
    kept.keep(kept.user_key(rep.pk), read_before)
    assert UserBackend().get_user(rep.pk).role == Role.SOPORTE


def test_signing_in_again_keeps_the_user(client_for, rep):
    client = client_for(rep)
    _page(client, rep)
    client_for(rep)  # a sign-in elsewhere: the last login saved alone
    assert _page(client, rep)[::2] == (200, False)


def test_pages_go_on_with_the_cache_down(monkeypatch, client_for, rep, caplog):
    client = client_for(rep)
    monkeypatch.setattr(kept, "cache", _DownCache())
    assert _page(client, rep)[::2] == (200, True)
    assert _page(client, rep)[::2] == (200, True)
    rep.is_active = False
    rep.save()
    assert _page(client, rep)[0] == 302
    assert "User leído sin caché" in caplog.text
