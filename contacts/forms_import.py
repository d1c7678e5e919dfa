"""The forms of the import pages: the upload, then the column mapping with the options."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.imports.mapping import FIELDS, clean_mapping
from contacts.imports.models import ImportMapping
from contacts.imports.rows import ImportOptions
from contacts.imports.runner import MAX_BYTES
from contacts.models import Consent
from crm.core.forms_utils import add_service_errors
from crm.core.models import Country, User
from crm.core.permissions import assignable_owners

ACCEPT = ".csv,.txt,.xlsx,.vcf,.vcard,text/csv,text/vcard,text/x-vcard"

DUPLICATE_CHOICES = [
    ("skip", _("Saltarlos: el contacto que ya existe no se toca")),
    ("update", _("Actualizar el contacto que ya existe con los datos del archivo")),
    ("create", _("Crearlos de todos modos, si su correo es distinto")),
]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Archivo"),
        help_text=_(
            "CSV (UTF-8 o Windows-1252, con comas o punto y coma), Excel (XLSX), o vCard (.vcf) "
            "exportado de un teléfono, de Google Contactos o de Outlook."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        error_messages={"empty": _("El archivo está vacío.")},
    )
    saved_mapping = forms.ModelChoiceField(
        label=_("Asignación de columnas guardada"),
        queryset=ImportMapping.objects.none(),
        required=False,
        empty_label=_("— Sugerir a partir de los encabezados —"),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["saved_mapping"].queryset = ImportMapping.objects.filter(owner=user)
        if not self.fields["saved_mapping"].queryset.exists():
            del self.fields["saved_mapping"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise ValidationError(
                _("El archivo pasa de %(mb)s MB; divídelo en partes más pequeñas."),
                params={"mb": MAX_BYTES // (1024 * 1024)},
            )
        if not upload.size:
            raise ValidationError(_("El archivo está vacío."))
        return upload


class ImportMappingForm(forms.Form):
    """One choice per column of the file (`col_0`, `col_1`…), then what to do with the rows.

    `clean()` gives `mapping` ({column: field}) and `options` (an ImportOptions) checked by the
    same rules as the import itself, so the preview and the run cannot disagree with the page.
    """

    owner = forms.ModelChoiceField(label=_("Responsable de los contactos"), queryset=None)
    country = forms.ChoiceField(
        label=_("País de los teléfonos sin prefijo"),
        choices=Country.choices,
        help_text=_("Un número sin +52, +34… se lee como de este país."),
    )
    duplicates = forms.ChoiceField(
        label=_("Si una fila repite un contacto que ya existe"),
        choices=DUPLICATE_CHOICES,
        initial="skip",
        widget=forms.RadioSelect,
        help_text=_("Se comparan el correo, los dígitos del teléfono y el RFC / NIF."),
    )
    create_accounts = forms.BooleanField(
        label=_("Crear las cuentas que no existan"),
        required=False,
        help_text=_("Si no lo marcas, una empresa que no está en el CRM se deja sin cuenta."),
    )
    consent_basis = forms.ChoiceField(
        label=_("Base legal del consentimiento del archivo"),
        choices=[("", "—"), *Consent.LegalBasis.choices],
        required=False,
        help_text=_(
            "Solo con una columna de consentimiento. Sin ella, los contactos importados no "
            "reciben correos comerciales."
        ),
    )
    save_as = forms.CharField(
        label=_("Guardar esta asignación como"),
        max_length=100,
        required=False,
        help_text=_("Opcional: para la próxima importación de un archivo igual."),
    )

    def __init__(self, *args, user: User, header: list[str], samples: list[list[str]], **kw):
        initial_mapping = kw.pop("initial_mapping", {})
        super().__init__(*args, **kw)
        self.user = user
        self.header = header
        self.fields["owner"].queryset = assignable_owners(user)
        self.fields["owner"].initial = user.pk
        self.fields["country"].initial = settings.COMPANY.get("country", "MX")
        base = [("", _("— No importar —"))] + [
            (name, label) for name, label in FIELDS.items() if name != "read_error"
        ]
        self.columns = []
        for index, column in enumerate(header):
            suggested = initial_mapping.get(column, "")
            choices = list(base)
            if suggested == "read_error":  # a vCard the reader could not read: rows in error
                choices.append(("read_error", FIELDS["read_error"]))
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=column or _("(columna sin nombre)"),
                choices=choices,
                required=False,
                initial=suggested,
            )
            values = [row[index] for row in samples if index < len(row) and row[index].strip()]
            self.columns.append({"field": name, "column": column, "samples": values[:3]})

    def column_fields(self):
        return [(self[c["field"]], c) for c in self.columns]

    def clean(self):
        data = super().clean()
        mapping = {
            column: data.get(f"col_{index}") or ""
            for index, column in enumerate(self.header)
            if data.get(f"col_{index}")
        }
        try:
            mapping = clean_mapping(mapping, self.header)
        except ValidationError as exc:
            self.add_error(None, exc)
            return data
        owner = data.get("owner")
        if owner is None:
            return data
        options = ImportOptions(
            owner_id=owner.pk,
            country=data.get("country") or "MX",
            duplicates=data.get("duplicates") or "skip",
            create_accounts=bool(data.get("create_accounts")),
            consent_basis=data.get("consent_basis") or "",
        )
        try:
            options.check(mapping)
        except ValidationError as exc:
            add_service_errors(self, exc)
            return data
        data["mapping"] = mapping
        data["options"] = options
        return data
