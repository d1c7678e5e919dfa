"""Forms of the campaign editor: a boletín, a campaign, the list's filters, the test send."""

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Field, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from campaigns.selectors.campaigns import segment_choices
from contacts.models import Topic
from crm.core.forms_utils import FastSelect

SAMPLE = "ejemplo"


class TopicForm(forms.ModelForm):
    class Meta:
        model = Topic
        fields = ["name", "description", "public"]
        labels = {"name": _("Nombre del boletín")}
        help_texts = {
            "public": _(
                "Los contactos lo ven en su centro de preferencias y pueden suscribirse o darse "
                "de baja de él."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def validate_unique(self) -> None:
        """The service checks the name (case-insensitively) and says so in Spanish."""


class CampaignFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "placeholder": _("Nombre o asunto"),
                "type": "search",
            }
        ),
    )
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=[("", _("Todos")), *Campaign.Status.choices],
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    topic = forms.ModelChoiceField(
        label=_("Boletín"),
        required=False,
        queryset=Topic.objects.order_by("name"),
        empty_label=_("Todos"),
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )

    def filters(self) -> dict:
        """The valid filters (an invalid value is ignored, the list never fails)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: value for key, value in data.items() if value}


def _merge_help() -> str:
    return str(
        _(
            "Campos de combinación como {{ nombre }} o, con respaldo, "
            '{{ nombre|default:"cliente" }} (la lista completa está junto al formulario). El pie '
            "con la baja y la dirección de la empresa se añade solo."
        )
    )


class CampaignForm(forms.ModelForm):
    """A campaign's settings and content. The service sanitises and checks the content."""

    from_email = forms.ChoiceField(label=_("Correo del remitente"))

    class Meta:
        model = Campaign
        fields = [
            "name",
            "topic",
            "segment",
            "subject",
            "subject_b",
            "ab_sample_pct",
            "ab_metric",
            "ab_wait_hours",
            "preheader",
            "from_name",
            "from_email",
            "reply_to",
            "html_body",
            "text_body",
            "cost",
            "currency",
            "conversion_window_days",
            "rate_per_minute",
        ]
        labels = {"topic": _("Boletín"), "html_body": _("Contenido (HTML)")}
        help_texts = {
            "subject_b": _(
                "Opcional: con un asunto B se prueba en una muestra y el ganador va al resto."
            ),
            "preheader": _("El texto que el buzón muestra junto al asunto."),
            "text_body": _(
                "Se genera desde el HTML mientras no lo edites; si lo editas se conserva."
            ),
            "rate_per_minute": _("0: tan rápido como se pueda."),
            "conversion_window_days": _(
                "Las oportunidades ganadas en las cuentas de los destinatarios en estos días "
                "cuentan como conversiones."
            ),
        }
        widgets = {
            "html_body": forms.Textarea(attrs={"rows": 14, "class": "font-monospace"}),
            "text_body": forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}),
        }

    def __init__(self, *args, show_amounts: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.fields["segment"].queryset = segment_choices(
            current=instance.segment if instance.pk and instance.segment_id else None
        )
        self.fields["segment"].required = True
        self.fields["topic"].queryset = Topic.objects.order_by("name")
        senders = list(settings.CAMPAIGN_SENDERS)
        if instance.from_email and instance.from_email not in senders:
            senders.append(instance.from_email)  # shown, but the service refuses it
        self.fields["from_email"].choices = [(s, s) for s in senders]
        if not instance.pk:
            self.initial.setdefault("from_name", settings.CAMPAIGN_FROM_NAME)
            self.initial.setdefault("from_email", settings.CAMPAIGN_FROM_EMAIL)
            self.initial.setdefault("reply_to", settings.CAMPAIGN_REPLY_TO)
            self.initial.setdefault("currency", settings.COMPANY_CURRENCY)
        else:
            self.initial.setdefault(
                "from_email", instance.from_email or settings.CAMPAIGN_FROM_EMAIL
            )
        self.fields["html_body"].help_text = _merge_help()
        self.fields["html_body"].required = False  # "empty" is the content check's message
        self.fields["text_body"].required = False
        self.show_amounts = show_amounts
        if not show_amounts:
            del self.fields["cost"]
            del self.fields["currency"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = self._layout()

    def _layout(self) -> Layout:
        regenerate = HTML(
            '{% load i18n %}<button type="submit" name="regenerate_text" value="1" '
            'class="btn btn-sm btn-outline-secondary mb-3" formnovalidate>'
            '<i class="bi bi-arrow-repeat"></i> {% translate "Regenerar desde HTML" %}</button>'
        )
        money = (
            [
                Row(
                    Column("cost", css_class="col-8 col-md-4"),
                    Column("currency", css_class="col-4 col-md-2"),
                )
            ]
            if self.show_amounts
            else []
        )
        return Layout(
            Fieldset(
                _("Campaña"),
                "name",
                Row(Column("topic", css_class="col-md-6"), Column("segment", css_class="col-md-6")),
            ),
            Fieldset(
                _("Asunto"),
                "subject",
                "preheader",
                "subject_b",
                Row(
                    Column("ab_sample_pct", css_class="col-6 col-md-4"),
                    Column("ab_metric", css_class="col-6 col-md-4"),
                    Column("ab_wait_hours", css_class="col-6 col-md-4"),
                ),
            ),
            Fieldset(
                _("Remitente"),
                Row(
                    Column("from_name", css_class="col-md-4"),
                    Column("from_email", css_class="col-md-4"),
                    Column("reply_to", css_class="col-md-4"),
                ),
            ),
            Fieldset(_("Contenido"), Field("html_body"), Field("text_body"), regenerate),
            Fieldset(
                _("Costo y seguimiento"),
                *money,
                Row(
                    Column("conversion_window_days", css_class="col-6 col-md-4"),
                    Column("rate_per_minute", css_class="col-6 col-md-4"),
                ),
            ),
        )

    def validate_unique(self) -> None:
        """No unique fields; the service runs the model's checks with the content's."""

    def _post_clean(self) -> None:
        # The service applies the data and runs full_clean with its own Spanish messages;
        # the form only parses the fields (so a rejected save leaves the instance untouched).
        pass


def split_addresses(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", value or "") if part]


class CampaignTestSendForm(forms.Form):
    """To whom the test goes (the user, and a few more) and as whom it is rendered."""

    contact = forms.CharField(required=False, widget=forms.HiddenInput)
    variant = forms.ChoiceField(
        label=_("Asunto"),
        required=False,
        choices=[("a", _("Asunto A")), ("b", _("Asunto B"))],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    extra = forms.CharField(
        label=_("Enviar también a (opcional, hasta 5)"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "placeholder": _("correo@ejemplo.com, otro@ejemplo.com"),
                "autocomplete": "off",
            }
        ),
    )

    def contact_id(self) -> int | None:
        value = (self.cleaned_data.get("contact") or "").strip()
        return int(value) if value.isdigit() else None

    def extra_addresses(self) -> list[str]:
        return split_addresses(self.cleaned_data.get("extra", ""))
