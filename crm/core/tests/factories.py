"""Users and teams, as every other app's factories and the root fixtures build them."""

import factory
from factory.django import DjangoModelFactory

from crm.core.models import Role, Team, User

PASSWORD = "contraseña-de-prueba-123"


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Equipo {n}")
    manager = None


class UserFactory(DjangoModelFactory):
    """A sales rep unless told otherwise: `UserFactory(role=Role.GERENTE, team=team)`."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"usuario{n}")
    first_name = factory.Faker("first_name", locale="es_MX")
    last_name = factory.Faker("last_name", locale="es_MX")
    email = factory.LazyAttribute(lambda o: f"{o.username}@ejemplo.com.mx")
    role = Role.VENDEDOR
    team = None
    is_active = True
    password = factory.django.Password(PASSWORD)
