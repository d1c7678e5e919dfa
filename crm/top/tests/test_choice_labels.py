"""get_FOO_display() from cached labels gives what Django's own gives, in each language."""

import pytest
from django.db import models
from django.utils import translation

from accounts.tests.factories import AccountFactory
from crm.core.models import Role, User


@pytest.mark.parametrize("language", ["es", "en"])
def test_labels_match_djangos_in_each_language(db, language):
    account = AccountFactory(status="activo", size="mediano")
    user = User(username="x", role=Role.GERENTE)
    with translation.override(language):
        for obj, name in ((account, "status"), (account, "size"), (user, "role")):
            field = obj._meta.get_field(name)
            assert getattr(obj, f"get_{name}_display")() == models.Model._get_FIELD_display(
                obj, field
            )


def test_an_unknown_value_is_shown_as_is(db):
    account = AccountFactory()
    account.status = "desconocido"
    assert account.get_status_display() == "desconocido"
