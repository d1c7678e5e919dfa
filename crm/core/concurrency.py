"""Edits that never overwrite a save made meanwhile (issue 13 §2, "no lost update").

An edit form carries, in a hidden field, the version of the row it was loaded with: a signed
token holding the row's values of the form's fields (and the row's last history record then,
to tell who saved since). The service that writes the edit locks the row
(`select_for_update`) and calls `check_version` before it writes anything: when a field of the
form no longer holds what the form was loaded with, or the form carries no valid version (a
page from before this check, a tampered one), it raises `StaleEdit`. The transaction writes
nothing, and the view shows the form again (409) with the user's entries, what changed, and the
row's current version, so that saving again re-applies them deliberately.

The values decide, not `updated_at` alone: a comment on a ticket, a stage move or a new line
item touch `updated_at` without touching what the edit form changes, and must not make the user
type everything again; a `QuerySet.update()` may change a field without touching `updated_at`,
and must not be overwritten either.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django import forms
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from simple_history.manager import HistoryManager

VERSION_FIELD = "version"
SALT = "crm.core.concurrency.version"
SHOWN_CHARS = 120  # of a long text, in the list of changes


@dataclass
class Change:
    field: str  # its verbose name
    loaded: str  # as the form was loaded with it
    now: str  # as the row holds it now


@dataclass
class Conflict:
    record: str
    version: str  # the row's current version, for the form shown again
    changes: list[Change] = field(default_factory=list)
    user: str | None = None  # who saved meanwhile, when the history says
    missing: bool = False  # the form carried no valid version

    @property
    def message(self) -> str:
        if self.missing:
            return _(
                "Esta página no indica qué versión de «%(record)s» estabas editando (quizá es "
                "una página antigua), así que no se ha guardado nada. Revisa los datos actuales "
                "y vuelve a guardar."
            ) % {"record": self.record}
        if self.user:
            return _(
                "%(user)s guardó cambios en «%(record)s» mientras tenías abierto este formulario. "
                "Revisa lo que cambió y vuelve a guardar."
            ) % {"user": self.user, "record": self.record}
        return _(
            "Alguien guardó cambios en «%(record)s» mientras tenías abierto este formulario. "
            "Revisa lo que cambió y vuelve a guardar."
        ) % {"record": self.record}


class StaleEdit(Exception):
    """The row changed since the edit form was loaded: nothing was written."""

    def __init__(self, conflict: Conflict):
        super().__init__(conflict.message)
        self.conflict = conflict


# --- The version --------------------------------------------------------------------------------


def _reference(row: models.Model) -> str:
    return f"{row._meta.label_lower}:{row.pk}"


def _value(row: models.Model, name: str):
    """A field's value as the token keeps it: JSON, comparable, independent of the form."""
    model_field = row._meta.get_field(name)
    if model_field.many_to_many:  # tags (django-taggit) and other many-to-many: sorted names
        return sorted(str(item) for item in model_field.value_from_object(row))
    value = getattr(row, model_field.attname)
    if value is None or isinstance(value, bool):
        return value
    return str(value)


def _history(row: models.Model) -> HistoryManager | None:
    manager = getattr(row, "history", None)
    return manager if isinstance(manager, HistoryManager) else None


def _last_history_id(row: models.Model) -> int | None:
    manager = _history(row)
    if manager is None:
        return None
    return manager.order_by("-pk").values_list("pk", flat=True).first()


def version_data(row: models.Model, fields: Iterable[str]) -> dict:
    """What a version is made of: the row, the values of `fields`, its last history record."""
    return {
        "r": _reference(row),
        "v": {name: _value(row, name) for name in fields},
        "h": _last_history_id(row),
    }


def version_token(row: models.Model, fields: Iterable[str]) -> str:
    """The version of `row` for an edit form that changes `fields` (signed, with the time of
    signing: two tokens of the same version differ; compare their data, not the tokens)."""
    return signing.dumps(version_data(row, fields), salt=SALT, compress=True)


def _read(token: str, row: models.Model) -> dict | None:
    """The loaded version, if `token` is a valid one of this row."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("r") != _reference(row)
        or not isinstance(data.get("v"), dict)
    ):
        return None
    return data


def check_version(row: models.Model, version: str | None, *, fields: Iterable[str]) -> None:
    """Refuse the edit of `row` (just locked with select_for_update) loaded at `version`, when
    one of `fields` changed since: raises StaleEdit, before anything is written.

    `version` None: the caller is no edit form (an import, a task) and asks for no check. An
    edit form always passes what it carried: an empty or invalid version is refused as stale.
    """
    if version is None:
        return
    fields = list(fields)
    loaded = _read(version, row)
    if loaded is None:
        raise StaleEdit(Conflict(record=str(row), version=version_token(row, fields), missing=True))
    values = loaded["v"]
    fields = [name for name in fields if name in values]  # what the form showed
    now = {name: _value(row, name) for name in fields}
    changed = [name for name in fields if values[name] != now[name]]
    if not changed:
        return
    raise StaleEdit(
        Conflict(
            record=str(row),
            version=version_token(row, fields),
            changes=[
                Change(
                    field=str(row._meta.get_field(name).verbose_name),
                    loaded=_display(row, name, values[name]),
                    now=_display(row, name, now[name]),
                )
                for name in changed
            ],
            user=_saved_by(row, loaded.get("h")),
        )
    )


def _saved_by(row: models.Model, since: int | None) -> str | None:
    """Who made the last save recorded after the loaded version (django-simple-history)."""
    manager = _history(row)
    if manager is None:
        return None
    if not isinstance(since, int):
        since = 0  # the row had no history record when the form was loaded (e.g. imported)
    record = (
        manager.filter(pk__gt=since, history_user__isnull=False)
        .select_related("history_user")
        .order_by("-pk")
        .first()
    )
    return str(record.history_user) if record else None


def _display(row: models.Model, name: str, raw) -> str:
    if raw in (None, "", []):
        return "—"
    if isinstance(raw, list):
        return ", ".join(raw)
    if isinstance(raw, bool):
        return _("Sí") if raw else _("No")
    model_field = row._meta.get_field(name)
    if model_field.choices:
        return str({str(k): v for k, v in model_field.flatchoices}.get(raw, raw))
    if model_field.is_relation:
        related = model_field.related_model._base_manager.filter(pk=raw).first()
        return str(related) if related is not None else raw
    try:
        value = model_field.to_python(raw)
    except ValidationError:
        return raw
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        value = timezone.localtime(value)
    return Truncator(str(formats.localize(value))).chars(SHOWN_CHARS)


# --- The form and the view ----------------------------------------------------------------------


class VersionedFormMixin:
    """For a ModelForm that edits a row: the hidden `version` the service checks.

    Put before forms.ModelForm in the bases. Render `form.version_field` inside the <form>
    (partials/record_form.html does) and `form.conflict` when the service refused the save.
    """

    conflict: Conflict | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields[VERSION_FIELD] = forms.CharField(required=False, widget=forms.HiddenInput)

    def version_fields(self) -> list[str]:
        """The form's fields the user can change and the row holds (not the disabled ones)."""
        names = []
        for name, form_field in self.fields.items():
            if name == VERSION_FIELD or form_field.disabled:
                continue
            try:
                self.instance._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            names.append(name)
        return names

    def get_initial_for_field(self, form_field, field_name):
        if field_name == VERSION_FIELD:
            # Read when the page is drawn, after the subclass disabled its fixed fields. A form
            # shown again keeps the version it was posted with (its instance holds the user's
            # entries by then).
            return "" if self.is_bound else version_token(self.instance, self.version_fields())
        return super().get_initial_for_field(form_field, field_name)

    @property
    def version_field(self):
        return self[VERSION_FIELD] if VERSION_FIELD in self.fields else None

    @property
    def loaded_version(self) -> str:
        """What the posted form carried ("" when nothing: the service refuses it)."""
        return self.cleaned_data.get(VERSION_FIELD) or ""

    def show_conflict(self, conflict: Conflict) -> None:
        """The form again with the user's entries, and the row's current version: saving it
        again re-applies them."""
        self.conflict = conflict
        self.data = self.data.copy()
        self.data[VERSION_FIELD] = conflict.version


def edit_status(request: HttpRequest, form) -> int:
    """The status of an edit page: 409 for a refused stale save, 422 for a form with errors."""
    if getattr(form, "conflict", None) is not None:
        return 409
    return 200 if request.method == "GET" or not form.errors else 422
