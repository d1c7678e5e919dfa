"""Forms of the forecast: the period, the manager's adjustment and the yearly quota grid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext_lazy as _

from crm.core.models import User
from opportunities.selectors.forecast import FIGURES, Period, period_parse


class PeriodForm(forms.Form):
    """?period=2026-Q4 or 2026-11; a malformed one falls back to the current quarter."""

    period = forms.CharField(label=_("Periodo"), required=False, max_length=7)

    def clean_period(self) -> Period:
        try:
            return period_parse(self.cleaned_data.get("period"))
        except ValueError as exc:
            raise forms.ValidationError(
                _("Periodo no válido: use 2026-Q4 (trimestre) o 2026-11 (mes).")
            ) from exc

    def chosen_period(self) -> Period:
        if self.is_valid():
            return self.cleaned_data["period"]
        return period_parse(None)


def period_choices(around: Period) -> list[tuple[str, str]]:
    """The quarters of the year before, this year and the next, and the months of this year."""
    quarter = around.as_quarter()
    quarters = [
        Period("quarter", year, q)
        for year in range(quarter.year - 1, quarter.year + 2)
        for q in range(1, 5)
    ]
    months = [Period("month", around.year, m) for m in range(1, 13)]
    return [
        (str(_("Trimestres")), [(p.key, p.label) for p in quarters]),
        (str(_("Meses")), [(p.key, p.label) for p in months]),
    ]


class DealsFilterForm(PeriodForm):
    figure = forms.ChoiceField(choices=[(f, f) for f in FIGURES], required=False)
    owner = forms.IntegerField(required=False, min_value=1)
    currency = forms.CharField(required=False, max_length=3)


class ForecastAdjustmentForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("Vendedor"), queryset=User.objects.none(), empty_label=None
    )
    amount = forms.DecimalField(
        label=_("Previsión ajustada"), min_value=Decimal("0"), max_digits=14, decimal_places=2
    )
    note = forms.CharField(
        label=_("Nota"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Por qué se ajusta: obligatoria, queda en el historial."),
    )
    period = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, reps=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = reps if reps is not None else User.objects.none()
        self.fields["owner"].widget.attrs.update({"class": "form-select"})
        self.fields["amount"].widget.attrs.update({"class": "form-control", "step": "0.01"})
        self.fields["note"].widget.attrs.update({"class": "form-control"})

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(_("Explica el ajuste en una nota."))
        return note

    def clean_period(self) -> Period:
        try:
            return period_parse(self.cleaned_data["period"])
        except ValueError as exc:
            raise forms.ValidationError(_("Periodo no válido.")) from exc


class QuotaGridForm(forms.Form):
    """One field per rep and month of the year: `q_<rep id>_<month>`; empty removes it."""

    def __init__(self, *args, reps: list[User], year: int, quotas: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = reps
        self.year = year
        self.months = [date(year, month, 1) for month in range(1, 13)]
        for rep in reps:
            for month in self.months:
                name = self.field_name(rep.pk, month)
                self.fields[name] = forms.DecimalField(
                    label=f"{rep} · {MONTHS_3[month.month]} {year}",
                    required=False,
                    min_value=Decimal("0"),
                    max_digits=14,
                    decimal_places=2,
                    initial=quotas.get((rep.pk, month)),
                    widget=forms.NumberInput(
                        attrs={"class": "form-control form-control-sm quota-input", "step": "any"}
                    ),
                )

    @staticmethod
    def field_name(owner_id: int, month: date) -> str:
        return f"q_{owner_id}_{month.month}"

    def rows(self) -> list[tuple[User, list]]:
        return [
            (rep, [self[self.field_name(rep.pk, month)] for month in self.months])
            for rep in self.reps
        ]

    def month_labels(self) -> list[str]:
        return [MONTHS_3[month.month] for month in self.months]

    def amounts(self) -> dict[tuple[int, date], Decimal | None]:
        return {
            (rep.pk, month): self.cleaned_data.get(self.field_name(rep.pk, month))
            for rep in self.reps
            for month in self.months
        }
