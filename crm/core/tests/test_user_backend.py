"""The user of each request (crm.core.backends.UserBackend): one query, with the team."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.backends import UserBackend
from crm.core.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_user_comes_with_the_team_in_one_unordered_query():
    user = UserFactory(team=TeamFactory(name="Norte"))
    with CaptureQueriesContext(connection) as queries:
        loaded = UserBackend().get_user(user.pk)
        assert loaded == user and loaded.team.name == "Norte"
    assert len(queries) == 1
    assert "ORDER BY" not in queries[0]["sql"]  # one row by its key: nothing to sort


def test_no_user_for_a_removed_or_inactive_one():
    inactive = UserFactory(is_active=False)
    removed = UserFactory()
    removed_pk = removed.pk
    removed.delete()
    assert UserBackend().get_user(inactive.pk) is None
    assert UserBackend().get_user(removed_pk) is None
