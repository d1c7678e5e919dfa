"""Forms of the suppression list (staff) and of the public preference centre."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from campaigns.models import Suppression
from campaigns.services.suppression import IMPORT_MAX_BYTES, normalize_email
from crm.core.forms_utils import FastSelect


class SuppressionFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "placeholder": _("Correo o nota"),
                "type": "search",
            }
        ),
    )
    reason = forms.ChoiceField(
        label=_("Motivo"),
        required=False,
        choices=[("", _("Todos los motivos")), *Suppression.Reason.choices],
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )

    def filters(self) -> dict:
        """The cleaned filters; an invalid value is dropped, not an error (as other lists)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}


class SuppressionForm(forms.Form):
    email = forms.CharField(label=_("Correo electrónico"), max_length=254)
    note = forms.CharField(
        label=_("Nota"),
        required=False,
        max_length=300,
        help_text=_("Por qué no se le debe escribir (p. ej. «lo pidió por teléfono»)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_email(self) -> str:
        value = normalize_email(self.cleaned_data["email"])
        if Suppression.objects.filter(email=value).exists():
            raise ValidationError(
                _("%(email)s ya está en la lista de supresión.") % {"email": value}
            )
        return value


class SuppressionImportForm(forms.Form):
    file = forms.FileField(
        label=_("Archivo CSV"),
        help_text=_(
            "Un correo por línea, o una columna «email» o «correo» con encabezado. "
            "UTF-8 o Windows-1252 (Excel), hasta 5 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    note = forms.CharField(label=_("Nota"), required=False, max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise ValidationError(
                _("El archivo pasa de %(mb)s MB; divídelo en partes más pequeñas.")
                % {"mb": IMPORT_MAX_BYTES // (1024 * 1024)}
            )
        return upload


class PreferencesForm(forms.Form):
    """The preference centre: a checkbox per public topic, and "no email at all"."""

    topics = forms.TypedMultipleChoiceField(
        label=_("Quiero recibir"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    nothing = forms.BooleanField(label=_("No quiero recibir ningún correo"), required=False)

    def __init__(self, *args, topics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].choices = [(topic.pk, topic.name) for topic in topics]
