"""Demo users and teams: one user of every role to log in with, and two sales teams, each led
by its manager. Every demo user has the same password, which `seed_demo` prints.

Seeding them again updates them (names, roles, teams, password) rather than adding more.
"""

from django.contrib.auth.hashers import make_password

from crm.core.models import Role, Team, User

DEMO_PASSWORD = "demo1234"

# username, first name, last name, role, team (None: no team), superuser
DEMO_USERS = [
    ("admin", "Adriana", "Torres Villalobos", Role.ADMINISTRADOR, None, True),
    ("gerente1", "Ricardo", "Fuentes Garza", Role.GERENTE, "Ventas Norte", False),
    ("gerente2", "Patricia", "Ibarra Solís", Role.GERENTE, "Ventas Centro", False),
    ("vendedor1", "Laura", "Méndez Ríos", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor2", "Jorge", "Castillo Peña", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor3", "Sofía", "Ramírez Olvera", Role.VENDEDOR, "Ventas Centro", False),
    ("soporte1", "Daniel", "Ortega Lara", Role.SOPORTE, None, False),
    ("soporte2", "Lucía", "Herrera Campos", Role.SOPORTE, None, False),
    ("marketing1", "Valeria", "Cruz Navarro", Role.MARKETING, None, False),
]


def seed_users() -> dict[str, User]:
    """The demo users by username, and their teams."""
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
    names = sorted({team for *_, team, _s in DEMO_USERS if team})
    teams = {name: Team.objects.get_or_create(name=name)[0] for name in names}
    users = {}
    for username, first, last, role, team, superuser in DEMO_USERS:
        user, _created = User.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@demo.example.com",
                "role": role,
                "team": teams.get(team),
                "is_superuser": superuser,
                "is_staff": superuser,
                "is_active": True,
                "password": password,
            },
        )
        users[username] = user
    for name, team in teams.items():
        manager = next(
            users[u] for u, _f, _l, role, t, _s in DEMO_USERS if t == name and role == Role.GERENTE
        )
        if team.manager_id != manager.pk:
            team.manager = manager
            team.save(update_fields=["manager"])
    return users


def portfolio_owners(users: dict[str, User]) -> list[int]:
    """The ids to draw an account's or a contact's owner from: reps own most of the
    portfolio; managers keep a few key accounts."""
    return [u.pk for u in users.values() if u.role == Role.VENDEDOR] * 4 + [
        u.pk for u in users.values() if u.role == Role.GERENTE
    ]
