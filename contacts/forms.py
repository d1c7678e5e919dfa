from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from contacts.models import (
    HALF_LIFE_MAX_DAYS,
    RULE_POINTS_LIMIT,
    Consent,
    Contact,
    LeadSource,
    Lifecycle,
    ScoreRule,
)
from contacts.scoring import PROFILE_CHOICES, clean_rule_values
from crm.core.concurrency import VersionedFormMixin
from crm.core.forms_utils import (
    FastSelect,
    FastTextInput,
    IdField,
    ListFilterForm,
    TagsField,
    multi_choice,
)
from crm.core.models import Country, User
from crm.core.permissions import assignable_owners
from crm.core.text import format_phone
from crm.core.widgets import RecordPicker
from crm.core.zones import ZONE_CHOICES

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
            "birthday",
            "time_zone",
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
        self.fields["time_zone"].choices = [
            ("", _("Automática: la de su país, o la de la empresa")),
            *ZONE_CHOICES,
        ]
        self.fields["account"].queryset = Account.objects.filter(archived_at__isnull=True)
        self.fields["account"].widget = RecordPicker(
            search_url=reverse_lazy("accounts:account-picker"), label_for=_account_label
        )
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
                Row(
                    Column("birthday", css_class="col-md-4"),
                    Column("time_zone", css_class="col-md-8"),
                ),
            ),
            Fieldset(
                _("Lead"),
                Row(
                    Column("lifecycle", css_class="col-md-6"),
                    Column("lead_source", css_class="col-md-6"),
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


# The consent form is on every contact's sheet (contacts/_consent_fields.html): its widgets are
# drawn in Python with the classes crispy gave them (crm.core.forms_utils).
def _consent_choice(label, choices) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, choices=choices, widget=FastSelect(attrs={"class": "select form-select"})
    )


def _consent_text(label, max_length: int, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=False,
        widget=FastTextInput(attrs={"class": "textinput form-control"}),
        **kwargs,
    )


class ConsentForm(forms.Form):
    channel = _consent_choice(_("Canal"), Consent.Channel.choices)
    action = _consent_choice(_("Acción"), Consent.Action.choices)
    source = _consent_choice(
        _("Cómo se obtuvo"),
        [
            (Consent.Source.PHONE, Consent.Source.PHONE.label),
            (Consent.Source.IN_PERSON, Consent.Source.IN_PERSON.label),
            (Consent.Source.EMAIL, Consent.Source.EMAIL.label),
            (Consent.Source.STAFF, Consent.Source.STAFF.label),
        ],
    )
    legal_basis = _consent_choice(_("Base legal"), Consent.LegalBasis.choices)
    text_version = _consent_text(
        _("Versión del aviso mostrado"),
        50,
        help_text=_("Por ejemplo, «aviso de privacidad v3»."),
    )
    note = _consent_text(_("Nota"), 300)


# --- Lead scoring rules (contacts.scoring) ---------------------------------------------------


def _value_choices() -> list:
    """The values a profile rule may name, grouped by their field ("industria:agro", …)."""
    groups = []
    for field, label in ScoreRule.Field.choices:
        if PROFILE_CHOICES[field] is not None:
            groups.append(
                (label, [(f"{field}:{code}", name) for code, name in PROFILE_CHOICES[field]])
            )
    return groups


class ScoreRuleForm(forms.ModelForm):
    """A rule of the lead score. A profile rule names its values from the list (sector, size,
    country, origin) or types them (states, words of the job title); a behaviour rule, an event
    and its half-life."""

    choice_values = forms.MultipleChoiceField(
        label=_("Valores"),
        required=False,
        help_text=_("Para sector, tamaño, país u origen: uno o varios (Ctrl o Cmd para varios)."),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    text_values = forms.CharField(
        label=_("Valores escritos"),
        required=False,
        max_length=2000,
        help_text=_(
            "Para estado o palabras del puesto: separados por comas, sin importar mayúsculas "
            "ni acentos (p. ej. «director, gerente de compras»)."
        ),
    )

    class Meta:
        model = ScoreRule
        fields = [
            "name",
            "kind",
            "field",
            "event",
            "points",
            "half_life_days",
            "max_points",
            "active",
        ]
        help_texts = {
            "points": _("De -100 a 100. Negativos para restar (p. ej. un sector que no compra)."),
            "half_life_days": _(
                "Comportamiento: a los N días un evento cuenta la mitad; a los 2N, un cuarto."
            ),
            "max_points": _("Comportamiento: lo más que la regla suma por contacto (opcional)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["choice_values"].choices = _value_choices()
        self.fields["field"].required = False
        self.fields["event"].required = False
        bounds = {
            "points": (-RULE_POINTS_LIMIT, RULE_POINTS_LIMIT),
            "half_life_days": (1, HALF_LIFE_MAX_DAYS),
            "max_points": (1, RULE_POINTS_LIMIT),
        }
        for name, (low, high) in bounds.items():
            self.fields[name].validators += [MinValueValidator(low), MaxValueValidator(high)]
        self.fields["points"].widget.attrs.update(min=-RULE_POINTS_LIMIT, max=RULE_POINTS_LIMIT)
        self.fields["half_life_days"].widget.attrs.update(min=1, max=HALF_LIFE_MAX_DAYS)
        self.fields["max_points"].widget.attrs.update(min=1, max=RULE_POINTS_LIMIT)
        if self.instance.pk is None:
            del self.fields["active"]
        elif self.instance.is_profile:
            if PROFILE_CHOICES.get(self.instance.field) is None:
                self.initial["text_values"] = ", ".join(self.instance.values)
            else:
                self.initial["choice_values"] = [
                    f"{self.instance.field}:{value}" for value in self.instance.values
                ]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-8"), Column("kind", css_class="col-md-4")),
            Fieldset(
                _("Perfil"),
                Row(Column("field", css_class="col-md-4")),
                Row(
                    Column("choice_values", css_class="col-md-6"),
                    Column("text_values", css_class="col-md-6"),
                ),
            ),
            Fieldset(
                _("Comportamiento"),
                Row(
                    Column("event", css_class="col-md-4"),
                    Column("half_life_days", css_class="col-md-4"),
                    Column("max_points", css_class="col-md-4"),
                ),
            ),
            Row(Column("points", css_class="col-md-4")),
            *(["active"] if "active" in self.fields else []),
        )

    def clean(self):
        """The values of the chosen field, and the other kind's fields blanked, so the model's
        checks see the rule as it will be stored."""
        data = super().clean()
        kind, field = data.get("kind"), data.get("field")
        if kind == ScoreRule.Kind.PROFILE:
            if not field:
                self.add_error("field", _("Elige el dato del contacto o de su cuenta."))
                return data
            if PROFILE_CHOICES[field] is None:
                values = (data.get("text_values") or "").split(",")
            else:
                chosen = data.get("choice_values") or []
                values = [v.split(":", 1)[1] for v in chosen if v.startswith(f"{field}:")]
                if len(values) != len(chosen):
                    self.add_error(
                        "choice_values",
                        _("Elige solo valores del dato «%(field)s».")
                        % {"field": ScoreRule.Field(field).label},
                    )
                    return data
            try:
                data["values"] = clean_rule_values(field, values)
            except forms.ValidationError as exc:
                for messages in exc.message_dict.values():
                    for message in messages:
                        self.add_error(
                            "text_values" if PROFILE_CHOICES[field] is None else "choice_values",
                            message,
                        )
                return data
            self.instance.values = data["values"]
            data["event"], data["half_life_days"], data["max_points"] = "", None, None
        elif kind == ScoreRule.Kind.BEHAVIOUR:
            if not data.get("event"):
                self.add_error("event", _("Elige el evento que da puntos."))
            if not data.get("half_life_days"):
                self.add_error(
                    "half_life_days",
                    _("Indica en cuántos días un evento pierde la mitad de sus puntos."),
                )
            data["field"], data["values"] = "", []
            self.instance.values = []
        if data.get("points") == 0:
            self.add_error("points", _("Una regla da o quita puntos: no puede valer 0."))
        return data

    def rule_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data["values"] = self.cleaned_data.get("values", [])
        return data
