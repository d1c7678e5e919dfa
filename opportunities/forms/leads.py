"""Forms of lead routing: a rule, the rep's rejection, and the report's filters."""

from __future__ import annotations

from datetime import date

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import LeadSource
from crm.core.models import Country
from opportunities.models import RejectReason, RoutingRule
from opportunities.selectors.leads import rule_targets
from opportunities.services.leads import MAX_VALUES, NOTE_MAX

MAX_REPORT_MONTHS = 36


class RoutingRuleForm(forms.ModelForm):
    """A territory (states and/or countries → a rep or a team's turns) or a team's turns."""

    regions_text = forms.CharField(
        label=_("Estados o provincias"),
        required=False,
        max_length=5000,
        help_text=_(
            "Separados por comas, sin importar mayúsculas ni acentos (p. ej. «Jalisco, Nuevo "
            "León»). Vacío: cualquiera."
        ),
    )
    countries = forms.MultipleChoiceField(
        label=_("Países"),
        required=False,
        choices=Country.choices,
        help_text=_("Uno o varios (Ctrl o Cmd para varios). Vacío: cualquiera."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    class Meta:
        model = RoutingRule
        fields = ["name", "kind", "rep", "team", "active"]
        help_texts = {
            "rep": _("Territorio: el vendedor que recibe sus leads…"),
            "team": _("…o el equipo cuyos vendedores se turnan (turnos: siempre un equipo)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reps, teams = rule_targets()
        self.fields["rep"].queryset = reps
        self.fields["team"].queryset = teams
        if self.instance.pk is None:
            del self.fields["active"]
        else:
            self.initial["regions_text"] = ", ".join(self.instance.regions)
            self.initial["countries"] = list(self.instance.countries)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-8"), Column("kind", css_class="col-md-4")),
            Row(
                Column("regions_text", css_class="col-md-6"),
                Column("countries", css_class="col-md-6"),
            ),
            Row(Column("rep", css_class="col-md-6"), Column("team", css_class="col-md-6")),
            *(["active"] if "active" in self.fields else []),
        )

    def clean_regions_text(self) -> list[str]:
        values = [v.strip() for v in (self.cleaned_data.get("regions_text") or "").split(",")]
        values = [v for v in values if v]
        if len(values) > MAX_VALUES:
            raise forms.ValidationError(
                _("Como máximo %(n)s estados por regla."), params={"n": MAX_VALUES}
            )
        return values

    def rule_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data["regions"] = self.cleaned_data.get("regions_text", [])
        data["countries"] = self.cleaned_data.get("countries", [])
        return data

    def _post_clean(self):
        # The service validates the rule (and reports on these fields); the model's own
        # full_clean here would run before the regions are folded.
        pass


class LeadRejectForm(forms.Form):
    reason = forms.ChoiceField(label=_("Motivo"), choices=RejectReason.choices)
    note = forms.CharField(
        label=_("Nota"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Obligatoria con «Otro motivo»."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class LeadListForm(forms.Form):
    estado = forms.ChoiceField(
        choices=[
            ("pendientes", _("Pendientes")),
            ("respondidos", _("Respondidos")),
            ("todos", _("Todos")),
        ],
        required=False,
    )

    def chosen(self) -> str:
        if self.is_valid():
            return self.cleaned_data.get("estado") or "pendientes"
        return "pendientes"


def _month_start(value: date) -> date:
    return value.replace(day=1)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class LeadReportForm(forms.Form):
    """?desde=2026-01&hasta=2026-06&origen=web: months (YYYY-MM) and a lead source."""

    desde = forms.DateField(
        label=_("Desde"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(format="%Y-%m", attrs={"type": "month"}),
    )
    hasta = forms.DateField(
        label=_("Hasta"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(format="%Y-%m", attrs={"type": "month"}),
    )
    origen = forms.ChoiceField(
        label=_("Origen"),
        required=False,
        choices=[("", _("Todos los orígenes")), *LeadSource.choices],
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("desde"), data.get("hasta")
        for name, value in (("desde", start), ("hasta", end)):
            if value and not 2000 <= value.year <= 2100:
                self.add_error(name, _("Elige un mes entre 2000 y 2100."))
                return data
        if start and end and start > end:
            self.add_error("hasta", _("El mes final no puede ser anterior al inicial."))
        elif (
            start
            and end
            and (end.year - start.year) * 12 + end.month - start.month >= (MAX_REPORT_MONTHS)
        ):
            self.add_error(
                "hasta",
                _("Como máximo %(n)s meses.") % {"n": MAX_REPORT_MONTHS},
            )
        return data

    def chosen(self) -> tuple[date, date, str]:
        """The months and the source; the last six months (this one included) by default."""
        today = timezone.localdate()
        end, start, source = _month_start(today), _months_before(today, 5), ""
        if self.is_bound and self.is_valid():
            end = self.cleaned_data.get("hasta") or end
            start = self.cleaned_data.get("desde") or _months_before(end, 5)
            if start > end:
                start = _months_before(end, 5)
            source = self.cleaned_data.get("origen") or ""
        return _month_start(start), _month_start(end), source
