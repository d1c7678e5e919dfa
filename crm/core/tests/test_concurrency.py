"""The version an edit form carries, and the refusal of a stale save (crm.core.concurrency).

On crm's own User model, so that no app is imported (the layers contract); the apps' tests
check their edit pages.
"""

import pytest
from django import forms
from django.test import RequestFactory

from crm.core.concurrency import (
    VERSION_FIELD,
    StaleEdit,
    VersionedFormMixin,
    check_version,
    edit_status,
    version_token,
)
from crm.core.models import Role, User
from crm.core.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

FIELDS = ("first_name", "last_name", "role", "team", "is_active")


class UserForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "role", "team"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].disabled = True  # as the apps fix a field (e.g. an amount)


def _stale(user: User, version: str | None, fields=FIELDS) -> StaleEdit:
    row = User.objects.get(pk=user.pk)
    with pytest.raises(StaleEdit) as caught:
        check_version(row, version, fields=fields)
    return caught.value


def test_an_unchanged_row_passes():
    user = UserFactory()
    check_version(User.objects.get(pk=user.pk), version_token(user, FIELDS), fields=FIELDS)


def test_a_changed_field_is_refused_with_what_changed():
    north, south = TeamFactory(name="Norte"), TeamFactory(name="Sur")
    user = UserFactory(first_name="Ana", role=Role.VENDEDOR, team=north)
    version = version_token(user, FIELDS)
    User.objects.filter(pk=user.pk).update(first_name="Ana María", role=Role.GERENTE, team=south)

    conflict = _stale(user, version).conflict

    assert not conflict.missing
    changes = {c.field: (c.loaded, c.now) for c in conflict.changes}
    assert changes == {
        "nombre": ("Ana", "Ana María"),
        "rol": ("Vendedor", "Gerente de ventas"),
        "equipo": ("Norte", "Sur"),
    }
    assert conflict.message.startswith("Alguien guardó cambios en «")
    assert "Revisa lo que cambió y vuelve a guardar." in conflict.message
    # The version shown again is the row's now: with it, the same edit goes through.
    check_version(User.objects.get(pk=user.pk), conflict.version, fields=FIELDS)


def test_a_save_outside_the_form_fields_is_no_conflict():
    user = UserFactory()
    version = version_token(user, FIELDS)
    User.objects.filter(pk=user.pk).update(email="otra@ejemplo.com.mx", phone="+525512345678")
    check_version(User.objects.get(pk=user.pk), version, fields=FIELDS)


@pytest.mark.parametrize("version", ["", "basura", "a" * 5000, "x:y:z", "\x00"])
def test_no_valid_version_is_refused_not_unchecked(version):
    user = UserFactory()
    conflict = _stale(user, version).conflict
    assert conflict.missing and conflict.changes == []
    assert "no indica qué versión" in conflict.message
    check_version(User.objects.get(pk=user.pk), conflict.version, fields=FIELDS)


def test_the_version_of_another_row_is_refused():
    user, other = UserFactory(), UserFactory()
    assert _stale(user, version_token(other, FIELDS)).conflict.missing


def test_no_version_at_all_is_a_caller_that_is_no_form():
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(first_name="Otro")
    check_version(User.objects.get(pk=user.pk), None, fields=FIELDS)


def test_the_form_carries_the_version_of_its_editable_fields():
    team = TeamFactory(name="Norte")
    user = UserFactory(first_name="Ana", team=team)
    form = UserForm(instance=user)
    html = str(form.version_field)
    assert 'type="hidden"' in html and f'name="{VERSION_FIELD}"' in html
    version = form[VERSION_FIELD].value()
    # The disabled field is not in the version: a change to it is no conflict.
    User.objects.filter(pk=user.pk).update(team=TeamFactory(name="Sur"))
    check_version(User.objects.get(pk=user.pk), version, fields=FIELDS)
    User.objects.filter(pk=user.pk).update(first_name="Beatriz")
    assert [c.field for c in _stale(user, version).conflict.changes] == ["nombre"]
    # A form that creates has no version.
    assert UserForm().version_field is None


def test_the_form_shown_again_keeps_the_entries_and_takes_the_current_version():
    user = UserFactory(first_name="Ana", last_name="Pérez", role=Role.VENDEDOR)
    version = UserForm(instance=user)[VERSION_FIELD].value()
    User.objects.filter(pk=user.pk).update(last_name="Gómez")
    data = {"first_name": "Anita", "last_name": "Pérez", "role": Role.VENDEDOR, "version": version}
    form = UserForm(data, instance=user)
    assert form.is_valid() and form.loaded_version == version
    conflict = _stale(user, form.loaded_version).conflict

    form.show_conflict(conflict)

    assert form[VERSION_FIELD].value() == conflict.version != version
    assert form["first_name"].value() == "Anita"
    request = RequestFactory().post("/")
    assert edit_status(request, form) == 409
    unversioned = UserForm({"first_name": "Ana", "role": Role.VENDEDOR}, instance=user)
    assert unversioned.is_valid() and unversioned.loaded_version == ""
