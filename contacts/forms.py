from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from crm.core.concurrency import VersionedFormMixin
from crm.core.forms_utils import FastSelect, IdField, ListFilterForm, TagsField, multi_choice
from crm.core.models import Country, User
from crm.core.permissions import assignable_owners
from crm.core.text import format_phone
from crm.core.widgets import RecordPicker

SORT_CHOICES = [
    ("name", _("Apellidos (A-Z)")),
    ("-name", _("Apellidos (Z-A)")),
    ("-score", _("Mayor puntuación")),
    ("-updated", _("Modificados recientemente")),
    ("account", _("Cuenta")),
    ("city", _("Ciudad")),
]

CONSENT_FILTER_CHOICES = [
    ("", "—"),
    ("grant", _("Con consentimiento")),
    ("withdraw", _("Retirado")),
    ("none", _("Sin registro")),
]


class ContactForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "job_title",
            "account",
            "lifecycle",
            "lead_source",
            "lead_score",
            "birthday",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "owner",
            "tags",
            "notes",
        ]
        field_classes = {"tags": TagsField}
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "mobile": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "lead_score": forms.NumberInput(attrs={"min": 0, "max": 100}),
        }
        help_texts = {"tags": _("Separadas por comas.")}

    PHONE_FIELDS: tuple[str, ...] = ("phone", "mobile")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(user)
        self.fields["owner"].required = False
        self.fields["owner"].empty_label = "—"
        if self.instance.pk:
            # Shown as people write them; the model stores E.164 again on save.
            for name in self.PHONE_FIELDS:
                self.initial[name] = format_phone(getattr(self.instance, name))
        self.fields["owner"].help_text = _("Si lo dejas vacío, el contacto es tuyo.")
        self.fields["account"].queryset = Account.objects.filter(archived_at__isnull=True)
        self.fields["account"].widget = RecordPicker(
            search_url=reverse_lazy("accounts:account-picker"), label_for=_account_label
        )
        self.fields["lead_score"].validators.append(_max_100)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Persona"),
                Row(
                    Column("first_name", css_class="col-md-5"),
                    Column("last_name", css_class="col-md-7"),
                ),
                Row(
                    Column("account", css_class="col-md-7"),
                    Column("job_title", css_class="col-md-5"),
                ),
                Row(
                    Column("email", css_class="col-md-4"),
                    Column("mobile", css_class="col-md-4"),
                    Column("phone", css_class="col-md-4"),
                ),
                Row(Column("birthday", css_class="col-md-4")),
            ),
            Fieldset(
                _("Lead"),
                Row(
                    Column("lifecycle", css_class="col-md-4"),
                    Column("lead_source", css_class="col-md-4"),
                    Column("lead_score", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                _("Dirección"),
                Row(
                    Column("street", css_class="col-md-6"),
                    Column("postal_code", css_class="col-md-2"),
                    Column("city", css_class="col-md-4"),
                ),
                Row(
                    Column("region", css_class="col-md-6"), Column("country", css_class="col-md-6")
                ),
            ),
            Fieldset(
                _("Gestión"),
                Row(Column("owner", css_class="col-md-6"), Column("tags", css_class="col-md-6")),
                "notes",
            ),
        )


def _account_label(pk) -> str:
    return Account.objects.filter(pk=pk).values_list("name", flat=True).first() or ""


def _max_100(value: int) -> None:
    if value is not None and value > 100:
        raise forms.ValidationError(_("La puntuación va de 0 a 100."))


class ContactFilterForm(ListFilterForm):
    lifecycle = multi_choice(_("Etapa"), Lifecycle.choices)
    consent = forms.ChoiceField(
        label=_("Consentimiento"),
        choices=CONSENT_FILTER_CHOICES,
        required=False,
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    lead_source = multi_choice(_("Origen"), LeadSource.choices)
    country = multi_choice(_("País"), Country.choices)
    min_score = forms.IntegerField(
        label=_("Puntuación mínima"), required=False, min_value=0, max_value=100
    )
    account = IdField(required=False)

    MORE = ("lead_source", "country", "min_score", "tag", "city", "region")
    TEXT_FIELDS = (*ListFilterForm.TEXT_FIELDS, "min_score")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sort"].choices = SORT_CHOICES
        self.fields["mine"].label = _("Solo los míos")
        self.fields["archived"].label = _("Archivados")


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("Canal"), choices=Consent.Channel.choices)
    action = forms.ChoiceField(label=_("Acción"), choices=Consent.Action.choices)
    source = forms.ChoiceField(
        label=_("Cómo se obtuvo"),
        choices=[
            (Consent.Source.PHONE, Consent.Source.PHONE.label),
            (Consent.Source.IN_PERSON, Consent.Source.IN_PERSON.label),
            (Consent.Source.EMAIL, Consent.Source.EMAIL.label),
            (Consent.Source.STAFF, Consent.Source.STAFF.label),
        ],
    )
    legal_basis = forms.ChoiceField(label=_("Base legal"), choices=Consent.LegalBasis.choices)
    text_version = forms.CharField(
        label=_("Versión del aviso mostrado"),
        max_length=50,
        required=False,
        help_text=_("Por ejemplo, «aviso de privacidad v3»."),
    )
    note = forms.CharField(label=_("Nota"), max_length=300, required=False)
