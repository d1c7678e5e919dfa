"""Fixtures shared by every app's tests: one user per role, and a logged-in client.

`rep` and `manager` belong to the same team, which `manager` leads; `other_rep` sits in another
team (so neither `rep` nor `manager` may change their records).
"""

import os

import pytest
from django.test import Client

from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from crm.core.tests.mfa import sign_in

# The demo-data tests' fixtures (`demo`, `owners`), shared by the apps' tests/test_seed.py.
pytest_plugins = ["crm.core.tests.seeding"]


def _is_transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    names = getattr(item, "fixturenames", ())
    if "transactional_db" in names or "live_server" in names:
        return True
    return marker is not None and bool(
        marker.kwargs.get("transaction") or marker.args[:1] == (True,)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark the transactional tests (live server, real workers): they end with a flush that
    empties every table, migration data included (the default pipeline, the SLA calendar).
    pytest-django runs them last, but xdist's loadfile scheduling may still hand the same
    worker other files afterwards; `make test` therefore runs them in a second pass
    (`-m transactional`) after the rest (`-m "not transactional"`)."""
    for item in items:
        if _is_transactional(item):
            item.add_marker(pytest.mark.transactional)


def pytest_configure(config):
    """With Redis as the cache (CI, DATABASE_URL and REDIS_URL set), each xdist worker of each
    run keys its cache apart: the workers' test databases number their rows alike, so a rate
    limit counted by pk (the public form's per-address limit) would otherwise count another
    worker's posts, or an earlier run's, and refuse this one's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django.conf import settings

    cache = settings.CACHES["default"]
    if cache["BACKEND"].endswith("RedisCache"):
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:12]
        cache["KEY_PREFIX"] = f"test-{run}-{worker}"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default hasher costs a good fraction of a second per user; tests need no security.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _forget_sales_user_names():
    # The owner filters' names live in the cache across requests (crm.core.permissions), and
    # the cache across tests: each test's database rolls back without the signal that forgets.
    from django.core.cache import cache

    from crm.core.permissions import SALES_NAMES_KEY

    cache.delete(SALES_NAMES_KEY)


@pytest.fixture(autouse=True)
def _who_asks_read_each_time(settings):
    # Who is asking is kept in the cache with Redis (crm.core.kept), keyed by the user's id:
    # ids repeat across the tests' rolled-back databases and xdist's workers, which share Redis.
    # Read from the database here, the same with Redis or without (the queries counted too);
    # crm/top/tests/test_kept.py keeps them, in a cache of its own.
    settings.AUTH_KEEP_SECONDS = 0


@pytest.fixture(autouse=True)
def _company_address(settings):
    # Campaigns refuse to send without the company's postal address (it goes in every
    # footer); the tests run as a company that has set it.
    if not settings.COMPANY.get("address"):
        settings.COMPANY = {**settings.COMPANY, "address": "Av. Juárez 100, Centro, 06000 CDMX"}


@pytest.fixture
def team(db):
    return TeamFactory(name="Equipo Centro")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Equipo Norte")


@pytest.fixture
def manager(team):
    user = UserFactory(username="gerente", role=Role.GERENTE, team=team)
    team.manager = user
    team.save(update_fields=["manager"])
    return user


@pytest.fixture
def rep(team, manager):
    return UserFactory(username="vendedor", role=Role.VENDEDOR, team=team)


@pytest.fixture
def other_rep(other_team):
    return UserFactory(username="otro_vendedor", role=Role.VENDEDOR, team=other_team)


@pytest.fixture
def support(db):
    return UserFactory(username="soporte", role=Role.SOPORTE)


@pytest.fixture
def marketing(db):
    return UserFactory(username="marketing", role=Role.MARKETING)


@pytest.fixture
def admin_user(db):
    """The Administrador role (not a Django superuser), overriding pytest-django's fixture."""
    return UserFactory(username="administrador", role=Role.ADMINISTRADOR, is_staff=True)


@pytest.fixture
def client_for(db):
    """`client_for(user)`: a fresh test client logged in as `user` (an administrator's session
    has passed the second step too, crm.core.tests.mfa.sign_in)."""

    def make(user) -> Client:
        return sign_in(Client(), user)

    return make


def pytest_terminal_summary(terminalreporter):
    """What the fuzz of crm/top/tests/test_fuzz.py and the stored-script test of
    crm/top/tests/browser/test_xss.py tried, at the end of the run whatever the
    verbosity (it records it as a property of its report, which xdist carries back from its
    worker to this process, where only this root conftest is loaded)."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    for report in reports:
        for name, value in getattr(report, "user_properties", []):
            if name in ("fuzz", "xss") and report.when == "call":
                terminalreporter.write_line(f"{name}: {value}")
