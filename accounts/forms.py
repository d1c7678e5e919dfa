from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Industry, Relationship, Size, Status, Tier
from crm.core.concurrency import VersionedFormMixin
from crm.core.forms_utils import ListFilterForm, TagsField, multi_choice
from crm.core.models import Country, User
from crm.core.permissions import assignable_owners
from crm.core.text import format_phone

SORT_CHOICES = [
    ("name", _("Nombre (A-Z)")),
    ("-name", _("Nombre (Z-A)")),
    ("-updated", _("Modificadas recientemente")),
    ("tier", _("Clasificación")),
    ("city", _("Ciudad")),
    ("owner", _("Responsable")),
]


class AccountForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = Account
        fields = [
            "name",
            "legal_name",
            "tax_id",
            "country",
            "industry",
            "size",
            "relationship",
            "status",
            "phone",
            "email",
            "website",
            "street",
            "city",
            "region",
            "postal_code",
            "tier_override",
            "owner",
            "tags",
            "notes",
        ]
        field_classes = {"tags": TagsField}
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        }
        help_texts = {
            "tax_id": _(
                "RFC en México; NIF, NIE o CIF en España. Se comprueba el dígito verificador."
            ),
            "tier_override": _("«Automática» usa la clasificación calculada por las ventas."),
            "tags": _("Separadas por comas."),
        }

    PHONE_FIELDS: tuple[str, ...] = ("phone",)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(user)
        self.fields["owner"].required = False
        self.fields["owner"].empty_label = "—"
        if self.instance.pk:
            # Shown as people write them; the model stores E.164 again on save.
            for name in self.PHONE_FIELDS:
                self.initial[name] = format_phone(getattr(self.instance, name))
        self.fields["owner"].help_text = _("Si lo dejas vacío, la cuenta es tuya.")
        self.fields["tier_override"].choices = [("", _("Automática")), *Tier.choices]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Empresa"),
                Row(
                    Column("name", css_class="col-md-6"), Column("legal_name", css_class="col-md-6")
                ),
                Row(
                    Column("country", css_class="col-md-4"), Column("tax_id", css_class="col-md-8")
                ),
                Row(
                    Column("industry", css_class="col-md-3"),
                    Column("size", css_class="col-md-3"),
                    Column("relationship", css_class="col-md-3"),
                    Column("status", css_class="col-md-3"),
                ),
            ),
            Fieldset(
                _("Contacto y dirección"),
                Row(
                    Column("phone", css_class="col-md-4"),
                    Column("email", css_class="col-md-4"),
                    Column("website", css_class="col-md-4"),
                ),
                Row(
                    Column("street", css_class="col-md-6"),
                    Column("postal_code", css_class="col-md-2"),
                    Column("city", css_class="col-md-4"),
                ),
                Row(Column("region", css_class="col-md-6")),
            ),
            Fieldset(
                _("Gestión"),
                Row(
                    Column("owner", css_class="col-md-4"),
                    Column("tier_override", css_class="col-md-4"),
                    Column("tags", css_class="col-md-4"),
                ),
                "notes",
            ),
        )


class AccountFilterForm(ListFilterForm):
    status = multi_choice(_("Situación"), Status.choices)
    tier = multi_choice(_("Clasificación"), Tier.choices)
    industry = multi_choice(_("Sector"), Industry.choices)
    size = multi_choice(_("Tamaño"), Size.choices)
    relationship = multi_choice(_("Relación"), Relationship.choices)
    country = multi_choice(_("País"), Country.choices)

    MORE = ("industry", "size", "relationship", "country", "tag", "city", "region")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sort"].choices = SORT_CHOICES
        self.fields["mine"].label = _("Solo las mías")
        self.fields["archived"].label = _("Archivadas")
