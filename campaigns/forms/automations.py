"""Forms of automations: the automation and its 1 to 3 steps (an inline formset)."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from campaigns import content
from campaigns.models import Automation, AutomationStep
from campaigns.services import automations as services
from contacts.models import Topic

HOUR_CHOICES = [(h, f"{h:02d}:00") for h in range(24)]


class AutomationForm(forms.ModelForm):
    holiday_names = forms.MultipleChoiceField(
        label=_("Festivos elegidos"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Del calendario elegido; cada uno se envía el día que cae cada año."),
    )
    send_hour = forms.TypedChoiceField(
        label=_("Hora de envío"),
        choices=HOUR_CHOICES,
        coerce=int,
        initial=9,
        help_text=_("Cumpleaños y festivos: hora local de cada contacto (su zona horaria)."),
    )

    class Meta:
        model = Automation
        fields = [
            "name",
            "kind",
            "topic",
            "send_hour",
            "holiday_country",
            "holiday_names",
            "inactive_days",
            "suppress_after_days",
            "remind_owner",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = Topic.objects.order_by("name")
        names: dict[str, str] = {}
        for country in Automation.Country.values:
            for name, label in services.holiday_choices(country):
                names.setdefault(name, f"{label} ({country})")
        self.fields["holiday_names"].choices = list(names.items())
        self.fields["holiday_country"].required = False
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = _("El tipo no cambia una vez creada.")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_holiday_names(self) -> list[str]:
        return list(self.cleaned_data.get("holiday_names") or [])

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        # Fields of another kind are dropped, not refused (the page hides them).
        if kind != Automation.Kind.HOLIDAY:
            data["holiday_country"], data["holiday_names"] = "", []
            self.instance.holiday_country, self.instance.holiday_names = "", []
        if kind != Automation.Kind.REENGAGEMENT:
            data["inactive_days"] = data["suppress_after_days"] = None
        if kind != Automation.Kind.BIRTHDAY:
            data["remind_owner"] = False
        return data

    def service_data(self) -> dict:
        return dict(self.cleaned_data)


class StepForm(forms.ModelForm):
    class Meta:
        model = AutomationStep
        fields = ["order", "delay_days", "delay_hours", "subject", "preheader", "html_body"]
        widgets = {"html_body": forms.Textarea(attrs={"rows": 6})}
        help_texts = {
            "html_body": _(
                "Campos de combinación como en las campañas: {{ nombre }}, {{ empresa }}…"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].widget = forms.Select(choices=[(1, "1"), (2, "2"), (3, "3")])
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean(self):
        data = super().clean()
        for field in ("subject", "preheader", "html_body"):
            for message in content.merge_errors(data.get(field) or ""):
                self.add_error(field, message)
        return data


class BaseStepFormSet(forms.BaseInlineFormSet):
    def kept(self) -> list[forms.ModelForm]:
        """The steps to save: filled or already saved, and not marked for deletion."""
        return [
            f
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and (f.has_changed() or f.instance.pk)
        ]

    def validate_unique(self):
        """Two steps with one order are refused by `clean` in plain Spanish (Django's own
        message names the field by its code name)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = self.kept()
        if not 1 <= len(kept) <= services.MAX_STEPS:
            raise ValidationError(
                _("Una automatización tiene de 1 a %(max)s mensajes.") % {"max": services.MAX_STEPS}
            )
        orders = [f.cleaned_data["order"] for f in kept]
        if len(set(orders)) != len(orders):
            raise ValidationError(_("Dos mensajes no pueden tener el mismo paso."))

    def steps(self) -> list[dict]:
        return [{k: f.cleaned_data.get(k) for k in services.STEP_FIELDS} for f in self.kept()]


StepFormSet = forms.inlineformset_factory(
    Automation,
    AutomationStep,
    form=StepForm,
    formset=BaseStepFormSet,
    extra=1,
    max_num=services.MAX_STEPS,
    validate_max=True,
    can_delete=True,
)
