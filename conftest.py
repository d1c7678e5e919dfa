"""Fixtures shared by every app's tests: one user per role, and a logged-in client.

`rep` and `manager` belong to the same team, which `manager` leads; `other_rep` sits in another
team (so neither `rep` nor `manager` may change their records).
"""

import pytest
from django.db import connection
from django.test import Client

from crm.models import Role
from crm.tests.factories import TeamFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as the migrations leave it, kept as a string: the default pipeline,
    the SLA calendar and the other rows that data migrations write."""
    with django_db_blocker.unblock():
        connection._crm_migration_data = connection.creation.serialize_db_to_string()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (live server, real workers) ends with a flush that empties every
    table, migration data included. pytest-django runs such tests last, but xdist's loadfile
    scheduling may still hand the same worker other files afterwards, so the data is put back
    once every fixture of the test (the flush included) is torn down."""
    result = yield
    marker = item.get_closest_marker("django_db")
    names = getattr(item, "fixturenames", ())
    transactional = "transactional_db" in names or "live_server" in names
    if marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        transactional = True
    data = getattr(connection, "_crm_migration_data", None)
    if transactional and data:
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            # The flush's post_migrate signal wrote content types and permissions again; the
            # saved copy has them too (with their original ids).
            Permission.objects.all().delete()
            ContentType.objects.all().delete()
            ContentType.objects.clear_cache()
            connection.creation.deserialize_db_from_string(data)
    return result


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default hasher costs a good fraction of a second per user; tests need no security.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    """`client_for(user)`: a fresh test client logged in as `user`."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
