"""Forms of sign-up forms: marketing's editor, and the public form a visitor fills."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import SIGNUP_FIELDS, SIGNUP_LABEL_MAX, SignupForm
from crm.core.models import Country, Role, User
from crm.core.text import normalize_phone

OMIT, OPTIONAL, REQUIRED = "", "opcional", "obligatorio"
USE_CHOICES = [
    (OMIT, _("No se pide")),
    (OPTIONAL, _("Opcional")),
    (REQUIRED, _("Obligatorio")),
]
# The honeypot: a field people never see nor fill (hidden by CSS, skipped by the tab key);
# a robot that fills every input gives itself away.
HONEYPOT = "sitio_web"
TOKEN = "token"
CONSENT = "consentimiento"
# What the page carries from its own address and referrer to the POST (the UTM parameters
# and where the visitor came from), as hidden inputs.
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
REFERRER = "origen"


def owner_choices():
    """Who may own the contacts a form creates: active reps, managers and administrators."""
    return User.objects.filter(
        Q(role__in=[Role.VENDEDOR, Role.GERENTE, Role.ADMINISTRADOR]), is_active=True
    ).order_by("first_name", "last_name", "username")


class SignupFormForm(forms.ModelForm):
    """Marketing's editor: the texts, the fields asked (from the allow-list), the consent."""

    class Meta:
        model = SignupForm
        fields = [
            "name",
            "slug",
            "title",
            "intro",
            "active",
            "topic",
            "consent_text",
            "consent_version",
            "double_opt_in",
            "thank_you",
            "owner",
        ]
        labels = {"name": _("Nombre interno")}
        help_texts = {
            "title": _("Lo ve el visitante, como encabezado del formulario."),
            "consent_text": _(
                "Lo que acepta el visitante al marcar la casilla (se guarda con cada "
                "consentimiento, con su versión)."
            ),
            "consent_version": _(
                "Cámbiala cada vez que cambies el texto, p. ej. «boletin-2026-01»."
            ),
            "double_opt_in": _(
                "Recomendado: el consentimiento cuenta cuando la persona abre el enlace del "
                "correo de confirmación. Las direcciones de la lista de supresión siempre lo "
                "necesitan."
            ),
            "owner": _("A quién se asignan los contactos nuevos que lleguen por el formulario."),
        }
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 3}),
            "thank_you": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices()
        self.fields["topic"].empty_label = _("— Ninguno (solo el consentimiento de correo) —")
        current = {item["name"]: item for item in (self.instance.fields or [])}
        if not self.instance.pk:
            current = {
                "first_name": {"required": True, "label": ""},
                "email": {"required": True, "label": ""},
            }
        rows = []
        for name, (label, _max_length) in SIGNUP_FIELDS.items():
            use, text = f"use_{name}", f"label_{name}"
            item = current.get(name)
            choices = USE_CHOICES[2:] if name == "email" else USE_CHOICES
            self.fields[use] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=OMIT
            )
            self.fields[text] = forms.CharField(
                label=_("Etiqueta de «%(field)s»") % {"field": label},
                max_length=SIGNUP_LABEL_MAX,
                required=False,
            )
            if item is not None:
                self.initial.setdefault(use, REQUIRED if item.get("required") else OPTIONAL)
                self.initial.setdefault(text, item.get("label", ""))
            elif name == "email":
                self.initial.setdefault(use, REQUIRED)
            self.fields[text].widget.attrs["placeholder"] = label
            rows.append(Row(Column(use, css_class="col-md-4"), Column(text, css_class="col-md-8")))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(_("El formulario"), "name", "slug", "title", "intro", "active"),
            Fieldset(_("Campos que pide"), *rows),
            Fieldset(
                _("Consentimiento"), "topic", "consent_text", "consent_version", "double_opt_in"
            ),
            Fieldset(_("Después del envío"), "thank_you", "owner"),
        )

    def clean(self):
        data = super().clean()
        fields = []
        for name in SIGNUP_FIELDS:
            use = REQUIRED if name == "email" else data.get(f"use_{name}") or OMIT
            if use == OMIT:
                continue
            fields.append(
                {
                    "name": name,
                    "required": use == REQUIRED,
                    "label": (data.get(f"label_{name}") or "").strip(),
                }
            )
        data["fields"] = fields
        return data

    def validate_unique(self) -> None:
        """The service checks the address and says so in Spanish."""

    def service_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in self.Meta.fields}
        data["fields"] = self.cleaned_data["fields"]
        return data


class PublicSignupForm(forms.Form):
    """What a visitor fills: the fields the form asks (labels as marketing wrote them), the
    consent checkbox, the signed token and the honeypot. Errors are the page's language's
    (the view shows it in Spanish, the site's language)."""

    def __init__(self, *args, signup_form: SignupForm, **kwargs):
        super().__init__(*args, **kwargs)
        self.signup_form = signup_form
        self.specs = signup_form.field_specs
        for spec in self.specs:
            name, label, required = spec["name"], spec["label"], spec["required"]
            attrs = {"autocomplete": AUTOCOMPLETE.get(name, "on")}
            if name == "email":
                field = forms.EmailField(label=label, required=True, max_length=spec["max_length"])
            elif name == "country":
                field = forms.ChoiceField(
                    label=label,
                    required=required,
                    choices=[("", "—"), *Country.choices],
                )
            else:
                field = forms.CharField(
                    label=label, required=required, max_length=spec["max_length"]
                )
                if name in ("phone", "mobile"):
                    attrs.update({"inputmode": "tel", "type": "tel"})
            attrs["class"] = "form-select" if name == "country" else "form-control"
            field.widget.attrs.update(attrs)
            self.fields[name] = field
        self.fields[CONSENT] = forms.BooleanField(
            label=signup_form.consent_text,
            required=True,
            error_messages={"required": _("Marca la casilla para aceptar y suscribirte.")},
            widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        )
        self.fields[TOKEN] = forms.CharField(
            widget=forms.HiddenInput, max_length=200, required=False
        )
        self.fields[HONEYPOT] = forms.CharField(
            label=_("Deja este campo vacío"),
            required=False,
            max_length=200,
            widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
        )
        for key in (*UTM_KEYS, REFERRER):
            self.fields[key] = forms.CharField(
                widget=forms.HiddenInput, required=False, max_length=500
            )

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    @property
    def visible_fields_asked(self):
        return [self[spec["name"]] for spec in self.specs]

    @property
    def is_robot(self) -> bool:
        """The honeypot was filled (read from the raw data: a robot's value may be invalid)."""
        return bool((self.data.get(HONEYPOT) or "").strip())

    def clean(self):
        data = super().clean()
        region = data.get("country") or settings.PHONE_DEFAULT_REGION
        for name in ("phone", "mobile"):
            if data.get(name):
                try:
                    data[name] = normalize_phone(data[name], region)
                except ValidationError as exc:
                    self.add_error(name, exc)
        for name in ("first_name", "last_name", "job_title", "company", "city", "region"):
            if isinstance(data.get(name), str):
                data[name] = " ".join(data[name].split())
        return data

    def values(self) -> dict:
        """The cleaned values of the fields asked, by name."""
        return {
            spec["name"]: self.cleaned_data.get(spec["name"]) or ""
            for spec in self.specs
            if self.cleaned_data.get(spec["name"])
        }


AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "email": "email",
    "phone": "tel",
    "mobile": "tel",
    "job_title": "organization-title",
    "company": "organization",
    "city": "address-level2",
    "region": "address-level1",
    "country": "country",
}
