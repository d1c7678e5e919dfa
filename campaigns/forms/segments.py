"""The segment builder's forms: name and kind, and the groups of conditions as plain fields.

The conditions travel as flat form fields (g0-match, g0-c1-field, g0-c1-op, g0-c1-value…) so
that the page works without JavaScript: the buttons "Añadir condición", "Añadir grupo", "Quitar"
and "Actualizar recuento" are submit buttons (name="action") that re-render the form on the
server; htmx only swaps the same fragments in place. `Builder` turns the fields into a
definition (campaigns.segments format) and back, and keeps each condition's errors beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Segment
from campaigns.segments.fields import CONSENT_STATES, FIELDS, MONTHS, OP_LABELS, value_kind
from campaigns.segments.validation import (
    MAX_CONDITIONS,
    MAX_GROUPS,
    condition_errors,
    validate_definition,
)
from contacts.models import Consent, Topic
from crm.core.models import Team
from crm.core.permissions import sales_users

_GROUP_KEY = re.compile(r"^g(\d{1,2})-match$")
_CONDITION_KEY = re.compile(r"^g(\d{1,2})-c(\d{1,2})-field$")
_ACTION = re.compile(
    r"^(?P<verb>add-group|add-condition|remove-group|remove-condition)(?:-(?P<g>\d{1,2}))?"
    r"(?:-(?P<c>\d{1,2}))?$"
)
DEFAULT_FIELD = "lifecycle"

MATCH_CHOICES = [("all", _("todas las condiciones")), ("any", _("alguna de las condiciones"))]
TOP_MATCH_CHOICES = [("all", _("todos los grupos")), ("any", _("alguno de los grupos"))]


class SegmentForm(forms.ModelForm):
    """Name, description and kind; the kind is fixed once the segment exists."""

    class Meta:
        model = Segment
        fields = ["name", "description", "kind"]
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
            "description": forms.TextInput(attrs={"class": "form-control"}),
            "kind": forms.Select(attrs={"class": "form-select"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["maxlength"] = 150
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = _("El tipo no se cambia una vez creado.")


def field_options() -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields grouped for the select's <optgroup>s, in the allow-list's order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, spec in FIELDS.items():
        groups.setdefault(str(spec.group), []).append((name, str(spec.label)))
    return list(groups.items())


def value_choices() -> dict[str, list[tuple[str, str]]]:
    """The options of every choice field, read once per page (users, teams and topics too)."""
    choices = {
        name: [(str(k), str(v)) for k, v in spec.choices()]
        for name, spec in FIELDS.items()
        if spec.choices is not None
    }
    choices["owner"] = [(str(u.pk), str(u)) for u in sales_users().order_by("first_name")]
    choices["team"] = [(str(t.pk), t.name) for t in Team.objects.order_by("name")]
    choices["birthday_month"] = [(str(k), str(v)) for k, v in MONTHS]
    choices["_channel"] = [(k, str(v)) for k, v in Consent.Channel.choices]
    choices["_topic"] = [("", str(_("Todo el canal")))] + [
        (str(t.pk), t.name) for t in Topic.objects.order_by("name")
    ]
    choices["_state"] = [(k, str(v)) for k, v in CONSENT_STATES.items()]
    return choices


@dataclass
class ConditionRow:
    field: str = DEFAULT_FIELD
    op: str = "in"
    values: list[str] = dc_field(default_factory=list)
    value2: str = ""
    channel: str = Consent.Channel.EMAIL
    topic: str = ""
    state: str = "granted"
    errors: list[str] = dc_field(default_factory=list)
    options: list[tuple[str, str, bool]] = dc_field(default_factory=list)

    @property
    def kind(self) -> str:
        return value_kind(self.field, self.op) or "none"

    @property
    def op_choices(self) -> list[tuple[str, str]]:
        """The field's operators (a tampered operator is not offered back)."""
        return [(op, str(OP_LABELS[op])) for op in FIELDS[self.field].ops]

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    def condition(self) -> dict:
        """The condition as the definition stores it (types converted where they parse)."""
        kind = self.kind
        if kind == "choices":
            value = [v for v in self.values if v]
        elif kind == "int_choices":
            value = [_int(v) for v in self.values if v]
        elif kind == "text":
            value = self.value.strip()
        elif kind in ("int", "days", "months"):
            value = _int(self.value)
        elif kind == "int_range":
            value = [_int(self.value), _int(self.value2)]
        elif kind == "date_range":
            value = [self.value.strip() or None, self.value2.strip() or None]
        elif kind == "tags":
            value = [t.strip() for t in self.value.split(",") if t.strip()]
        elif kind == "consent":
            value = {
                "channel": self.channel,
                "topic": _int(self.topic) if self.topic else None,
                "state": self.state,
            }
        else:
            value = None
        return {"field": self.field, "op": self.op, "value": value}

    @classmethod
    def from_condition(cls, condition: dict) -> ConditionRow:
        row = cls(field=condition["field"], op=condition["op"])
        value = condition.get("value")
        kind = row.kind
        if kind in ("choices", "int_choices"):
            row.values = [str(v) for v in value or []]
        elif kind in ("int_range", "date_range"):
            low, high = (value or [None, None])[:2]
            row.values = ["" if low is None else str(low)]
            row.value2 = "" if high is None else str(high)
        elif kind == "tags":
            row.values = [", ".join(value or [])]
        elif kind == "consent":
            value = value or {}
            row.channel = value.get("channel", Consent.Channel.EMAIL)
            row.topic = "" if value.get("topic") is None else str(value["topic"])
            row.state = value.get("state", "granted")
        elif value is not None:
            row.values = [str(value)]
        return row


def _int(text: str):
    """A whole number when the text is one, else the text (validation then names the error)."""
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text


@dataclass
class GroupRow:
    match: str = "all"
    conditions: list[ConditionRow] = dc_field(default_factory=list)
    errors: list[str] = dc_field(default_factory=list)


@dataclass
class Builder:
    """The conditions being edited, as rows, and what is wrong with them."""

    match: str = "all"
    groups: list[GroupRow] = dc_field(default_factory=list)
    errors: list[str] = dc_field(default_factory=list)

    match_choices = TOP_MATCH_CHOICES
    group_match_choices = MATCH_CHOICES

    @classmethod
    def from_definition(cls, definition: dict | None) -> Builder:
        definition = definition or {}
        return cls(
            match=definition.get("match", "all"),
            groups=[
                GroupRow(
                    match=group.get("match", "all"),
                    conditions=[ConditionRow.from_condition(c) for c in group["conditions"]],
                )
                for group in definition.get("groups", [])
            ],
        )

    @classmethod
    def from_data(cls, data) -> Builder:
        """The rows as posted (indices sorted; anything beyond the limits is dropped)."""
        builder = cls(match=data.get("match", "all"))
        group_ids = sorted({int(m[1]) for k in data if (m := _GROUP_KEY.match(k))})
        condition_ids: dict[int, list[int]] = {}
        for key in data:
            if m := _CONDITION_KEY.match(key):
                condition_ids.setdefault(int(m[1]), []).append(int(m[2]))
        for g in group_ids[:MAX_GROUPS]:
            group = GroupRow(match=data.get(f"g{g}-match", "all"))
            for c in sorted(condition_ids.get(g, []))[:MAX_CONDITIONS]:
                group.conditions.append(_row_from_data(data, f"g{g}-c{c}-"))
            builder.groups.append(group)
        return builder

    def apply(self, action: str) -> bool:
        """Add or remove a group or a condition; True when the action was one of those."""
        m = _ACTION.match(action or "")
        if not m:
            return False
        verb, g, c = m["verb"], m["g"], m["c"]
        g = int(g) if g is not None else None
        c = int(c) if c is not None else None
        if verb == "add-group" and len(self.groups) < MAX_GROUPS:
            self.groups.append(GroupRow(conditions=[ConditionRow()]))
        elif g is None or g >= len(self.groups):
            return True
        elif verb == "remove-group":
            del self.groups[g]
        elif verb == "add-condition" and len(self.groups[g].conditions) < MAX_CONDITIONS:
            self.groups[g].conditions.append(ConditionRow())
        elif verb == "remove-condition" and c is not None and c < len(self.groups[g].conditions):
            del self.groups[g].conditions[c]
        return True

    def definition(self) -> dict:
        return {
            "match": self.match,
            "groups": [
                {"match": group.match, "conditions": [row.condition() for row in group.conditions]}
                for group in self.groups
            ],
        }

    def validate(self) -> bool:
        """Put each problem beside its condition or group; True when the definition is valid."""
        self.errors = []
        for n, group in enumerate(self.groups, start=1):
            group.errors = []
            if not group.conditions:
                group.errors.append(
                    str(_("El grupo %(n)s está vacío: añade una condición o quítalo.") % {"n": n})
                )
            for row in group.conditions:
                row.errors = [_capital(e) for e in condition_errors(row.condition())]
        has_row_errors = any(g.errors or any(r.errors for r in g.conditions) for g in self.groups)
        if not has_row_errors:
            self.errors = validate_definition(self.definition())
        return not has_row_errors and not self.errors

    def clear_errors(self) -> None:
        self.errors = []
        for group in self.groups:
            group.errors = []
            for row in group.conditions:
                row.errors = []

    def prepare(self, choices: dict[str, list[tuple[str, str]]]) -> Builder:
        """Attach each choice row's options (with the selected ones) for the template."""
        for group in self.groups:
            for row in group.conditions:
                selected = set(row.values)
                row.options = [
                    (key, label, key in selected) for key, label in choices.get(row.field, [])
                ]
        return self

    @property
    def can_add_group(self) -> bool:
        return len(self.groups) < MAX_GROUPS


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _row_from_data(data, prefix: str) -> ConditionRow:
    name = data.get(f"{prefix}field", DEFAULT_FIELD)
    if name not in FIELDS:
        name = DEFAULT_FIELD
    shown = data.get(f"{prefix}shown", name)
    ops = list(FIELDS[name].ops)
    if shown != name:
        # The field was changed: its operators and values are not the old field's.
        return ConditionRow(field=name, op=ops[0])
    # An operator the field does not have is kept as posted (cut short), so that validation
    # names it and nothing is saved; it is never used for anything but that message.
    op = (data.get(f"{prefix}op") or ops[0])[:30]
    getlist = getattr(data, "getlist", None)
    values = getlist(f"{prefix}value") if getlist else [data.get(f"{prefix}value", "")]
    return ConditionRow(
        field=name,
        op=op,
        values=[v for v in values if v is not None],
        value2=data.get(f"{prefix}value2", ""),
        channel=data.get(f"{prefix}channel", Consent.Channel.EMAIL),
        topic=data.get(f"{prefix}topic", ""),
        state=data.get(f"{prefix}state", "granted"),
    )


class SegmentFilterForm(forms.Form):
    """The segment list's filters: name, kind, archived."""

    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    kind = forms.ChoiceField(
        label=_("Tipo"),
        required=False,
        choices=[("", "—"), *Segment.Kind.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    archived = forms.BooleanField(
        label=_("Ver archivados"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


class AddContactsForm(forms.Form):
    """Contacts chosen on a list page, and the static list they go to (or a new one)."""

    contacts = forms.TypedMultipleChoiceField(coerce=int, required=True)
    segment = forms.ModelChoiceField(
        label=_("Lista existente"),
        queryset=Segment.objects.none(),
        required=False,
        empty_label=_("— Elige una lista —"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    new_name = forms.CharField(
        label=_("o crea una lista nueva"),
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )

    def __init__(self, *args, segments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if segments is not None:
            self.fields["segment"].queryset = segments
        # Any whole numbers: the service keeps only live contacts.
        posted = self.data.getlist("contacts") if hasattr(self.data, "getlist") else []
        self.fields["contacts"].choices = [(v, v) for v in posted if str(v).isdigit()]
        self.fields["contacts"].error_messages["required"] = _("Selecciona al menos un contacto.")
        self.fields["contacts"].error_messages["invalid_choice"] = _(
            "La selección de contactos no es válida."
        )

    def has_target(self) -> bool:
        return bool(self.data.get("segment") or (self.data.get("new_name") or "").strip())

    def clean(self):
        data = super().clean()
        if self.has_target() and data.get("segment") and (data.get("new_name") or "").strip():
            raise forms.ValidationError(
                _("Elige una lista existente o escribe un nombre, no ambos.")
            )
        return data
