"""Forms of the surveys: the customer's answer, and an NPS round over a contact segment."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.db.models import Exists, Model, OuterRef
from django.utils.translation import gettext_lazy as _

from contacts.forms import ContactFilterForm
from crm.core.forms_utils import FastSelect
from crm.core.models import Team, User
from support.permissions import support_agents
from support.services.surveys import score_options

COMMENT_MAX = 2000


class SurveyAnswerForm(forms.Form):
    """The public page behind a survey link: the score (preselected by the email's button)
    and an optional comment."""

    score = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="")
    comment = forms.CharField(
        label=_("Comentario (opcional)"),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = score_options(kind)
        self.fields["score"].choices = [(o["value"], str(o["value"])) for o in self.options]
        self.fields["score"].error_messages["required"] = _("Elija una puntuación.")
        self.fields["score"].error_messages["invalid_choice"] = _("Elija una puntuación.")

    def selected(self) -> int | None:
        value = self["score"].value()
        try:
            return int(value)
        except (TypeError, ValueError):
            return None


class NpsRoundForm(forms.Form):
    name = forms.CharField(
        label=_("Nombre de la encuesta"),
        max_length=120,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": _("p. ej. NPS clientes 2026-T1")}
        ),
    )


class SegmentForm(ContactFilterForm):
    """The contact list's filters, as the segment of an NPS round (never archived contacts)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["archived"]
        del self.fields["sort"]


def filters_json(filters: dict) -> dict:
    """The cleaned filters made JSON-safe for SurveyRound.filters (records by their id)."""
    return {
        key: value.pk if isinstance(value, Model) else value
        for key, value in filters.items()
        if key not in ("archived", "sort")
    }


def filters_querystring(filters: dict) -> str:
    """The contact list's query string for stored filters ("see these contacts")."""
    pairs: list[tuple[str, object]] = []
    for key, value in filters.items():
        if key == "tags":
            pairs.extend(("tag", tag) for tag in value[:1])
        elif isinstance(value, list):
            pairs.extend((key, item) for item in value)
        elif value is True:
            pairs.append((key, "on"))
        else:
            pairs.append((key, value))
    return urlencode(pairs)


PERIOD_CHOICES = [
    ("7", _("Últimos 7 días")),
    ("30", _("Últimos 30 días")),
    ("90", _("Últimos 90 días")),
    ("180", _("Últimos 6 meses")),
    ("365", _("Últimos 12 meses")),
]
DEFAULT_PERIOD = 30


class DashboardFilterForm(forms.Form):
    """The filters of the support dashboard: the period, a team, an agent."""

    period = forms.TypedChoiceField(
        label=_("Periodo"),
        choices=PERIOD_CHOICES,
        coerce=int,
        required=False,
        initial=str(DEFAULT_PERIOD),
        empty_value=DEFAULT_PERIOD,
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    team = forms.ModelChoiceField(
        label=_("Equipo"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("Todos"),
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    agent = forms.ModelChoiceField(
        label=_("Agente"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Todos"),
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(
            Exists(support_agents().filter(team=OuterRef("pk")))
        ).order_by("name")
        self.fields["agent"].queryset = support_agents().order_by("first_name", "last_name")

    def chosen(self) -> dict:
        """days, team, agent; an invalid value falls back to its default, never an error."""
        if not self.is_bound:
            return {"days": DEFAULT_PERIOD, "team": None, "agent": None}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "days": data.get("period") or DEFAULT_PERIOD,
            "team": data.get("team"),
            "agent": data.get("agent"),
        }
