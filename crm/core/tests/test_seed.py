"""The demo users (a user of every role to log in with, all with the printed password, two sales
teams led by their managers) and what every app's seed loads with: one seeded random sequence,
and timestamps kept as drawn."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.utils import timezone

from crm.core.models import QueuedTask, Role, Team, User
from crm.core.seed import DEMO_PASSWORD, DEMO_USERS, portfolio_owners, seed_users
from crm.core.seeding import Demo, bulk, bulk_rows_iter, timestamps_as_given


@pytest.mark.django_db
def test_every_role_has_a_demo_user_with_the_demo_password():
    users = seed_users()
    assert set(users) == {username for username, *_ in DEMO_USERS}
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.role == Role.ADMINISTRADOR
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD), user.username
    assert Team.objects.count() == 2
    for team in Team.objects.all():
        assert team.manager.role == Role.GERENTE
        assert team.members.filter(role=Role.VENDEDOR).exists()


@pytest.mark.django_db
def test_seeding_the_users_again_updates_them():
    seed_users()
    User.objects.filter(username="vendedor1").update(first_name="Otra", role=Role.SOPORTE)
    seed_users()
    assert User.objects.count() == len(DEMO_USERS) and Team.objects.count() == 2
    assert User.objects.get(username="vendedor1").role == Role.VENDEDOR


@pytest.mark.django_db
def test_reps_own_most_of_the_portfolio():
    owners = Counter(User.objects.get(pk=pk).role for pk in portfolio_owners(seed_users()))
    assert owners == {Role.VENDEDOR: 12, Role.GERENTE: 2}


def test_the_same_seed_draws_the_same_data():
    def draws(demo: Demo) -> list:
        return [
            demo.person_name("MX"),
            demo.person_name("ES"),
            demo.city(demo.country()),
            demo.street("MX"),
            demo.mobile("ES", "91"),
            demo.pick({"a": 1, "b": 3}),
            demo.when(demo.now - timedelta(days=30)) - demo.now,
        ]

    first, second = Demo(seed=7, stdout=StringIO()), Demo(seed=7, stdout=StringIO())
    assert draws(first) == draws(second)
    assert first.pools.by_country == second.pools.by_country
    assert draws(Demo(seed=8, stdout=StringIO())) != draws(Demo(seed=7, stdout=StringIO()))


@pytest.mark.django_db
def test_bulk_writes_keep_the_given_times_and_set_the_ids():
    long_ago = timezone.now() - timedelta(days=400)
    field = QueuedTask._meta.get_field("created_at")
    with timestamps_as_given(QueuedTask):
        tasks = [QueuedTask(name=f"demo.{n}", args=[n], created_at=long_ago) for n in range(3)]
        bulk(QueuedTask, tasks)
        # COPY writes only the columns named: every NOT NULL one (no Django default applies).
        fields = ("name", "args", "copies", "attempts", "last_error", "created_at")
        row = ("demo.x", ["x", {"y": 1}], 1, 0, "", long_ago)
        assert bulk_rows_iter(QueuedTask, fields, iter([row])) == 1
    assert field.auto_now_add
    assert all(task.pk for task in tasks)
    assert set(QueuedTask.objects.values_list("created_at", flat=True)) == {long_ago}
    # JSON columns hold JSON (COPY would otherwise write a list as an array).
    assert sorted(QueuedTask.objects.values_list("name", "args"), key=str) == [
        ("demo.0", [0]),
        ("demo.1", [1]),
        ("demo.2", [2]),
        ("demo.x", ["x", {"y": 1}]),
    ]


def test_timestamps_as_given_restores_the_flags_when_the_load_fails():
    field = QueuedTask._meta.get_field("created_at")
    with pytest.raises(RuntimeError), timestamps_as_given(QueuedTask):
        assert not field.auto_now_add
        raise RuntimeError
    assert field.auto_now_add
