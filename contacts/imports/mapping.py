"""Which column of the file feeds which field: suggested from the header, saved by name.

Headers are compared folded (lower-case, accent-free, single-spaced), so "Correo
electrónico", "CORREO ELECTRONICO" and "correo  electronico" are one name. The exports of
Google Contacts ("Given Name", "E-mail 1 - Value", "Phone 1 - Value" with its "Phone 1 - Type",
"Labels" or "Group Membership") and Outlook ("First Name", "E-mail Address", "Mobile Phone",
"Business Phone", "Company", "Job Title", "Categories") are recognised, as is the header the
vCard reader gives (readers.VCARD_HEADER).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.imports.models import ImportMapping
from crm.core.models import User
from crm.core.text import fold

# The fields a column may feed, with the name the mapping form shows.
FIELDS = {
    "first_name": gettext_lazy("Nombre"),
    "last_name": gettext_lazy("Apellidos"),
    "full_name": gettext_lazy("Nombre completo (se separa en nombre y apellidos)"),
    "email": gettext_lazy("Correo electrónico"),
    "phone": gettext_lazy("Teléfono"),
    "mobile": gettext_lazy("Móvil"),
    # A Google Contacts "Phone N - Value": mobile or phone by its "Phone N - Type" column.
    "phone_by_type": gettext_lazy("Teléfono (móvil o fijo según su tipo)"),
    "job_title": gettext_lazy("Puesto"),
    "account_name": gettext_lazy("Cuenta (nombre de la empresa)"),
    "account_tax_id": gettext_lazy("Cuenta (RFC / NIF)"),
    "lifecycle": gettext_lazy("Etapa"),
    "lead_source": gettext_lazy("Origen"),
    "lead_score": gettext_lazy("Puntuación"),
    "birthday": gettext_lazy("Cumpleaños"),
    "street": gettext_lazy("Calle y número"),
    "city": gettext_lazy("Ciudad"),
    "region": gettext_lazy("Estado o provincia"),
    "postal_code": gettext_lazy("Código postal"),
    "country": gettext_lazy("País"),
    "notes": gettext_lazy("Notas (se pueden asignar varias columnas)"),
    "consent": gettext_lazy("Consentimiento para correo comercial"),
    # Names separated by commas, semicolons or " ::: " (Google Contacts' labels).
    "tags": gettext_lazy("Etiquetas (separadas por comas o punto y coma)"),
    # The vCard reader's column for a card it could not read: the row is an error.
    "read_error": gettext_lazy("Error de lectura"),
}
# Fields several columns may feed (each value is added as "Column: value").
MULTI = {"notes"}

_SYNONYMS = {
    "first_name": [
        "nombre", "nombres", "nombre de pila", "first name", "firstname", "given name",
        "given names", "forename",
    ],
    "last_name": [
        "apellidos", "apellido", "primer apellido", "last name", "lastname", "family name",
        "surname",
    ],
    "full_name": [
        "nombre completo", "nombre y apellidos", "contacto", "name", "full name",
        "display name", "nombre para mostrar",
    ],
    "email": [
        "correo", "correo electronico", "email", "e-mail", "e mail", "mail",
        "email address", "e-mail address", "e-mail 1 - value", "correo electronico 1",
        "direccion de correo", "direccion de correo electronico",
    ],
    "phone": [
        "telefono", "tel", "tel.", "telefono fijo", "telefono de trabajo", "telefono trabajo",
        "telefono oficina", "telefono de la oficina", "phone", "telephone", "business phone",
        "work phone", "primary phone", "company main phone", "home phone", "telefono particular",
    ],
    "mobile": [
        "movil", "celular", "telefono movil", "telefono celular", "cel", "cel.", "whatsapp",
        "mobile", "mobile phone", "cell", "cell phone", "cellphone",
    ],
    "job_title": [
        "puesto", "cargo", "puesto de trabajo", "job title", "position",
        "organization 1 - title", "organization title",
    ],
    "account_name": [
        "empresa", "compania", "cuenta", "organizacion", "company", "organization",
        "organization 1 - name", "organization name", "company name", "nombre de la empresa",
    ],
    "account_tax_id": [
        "rfc", "nif", "cif", "nif/cif", "rfc de la empresa", "identificador fiscal",
        "tax id", "vat", "vat number",
    ],
    "lifecycle": ["etapa", "ciclo de vida", "lifecycle", "lifecycle stage", "stage"],
    "lead_source": ["origen", "fuente", "origen del lead", "lead source", "source"],
    "lead_score": ["puntuacion", "score", "lead score"],
    "birthday": [
        "cumpleanos", "fecha de nacimiento", "nacimiento", "birthday", "birth date",
        "date of birth",
    ],
    "street": [
        "calle", "direccion", "domicilio", "calle y numero", "street", "address",
        "business street", "home street", "address 1 - street",
    ],
    "city": [
        "ciudad", "municipio", "poblacion", "localidad", "city", "business city", "home city",
        "address 1 - city",
    ],
    "region": [
        "estado", "provincia", "estado o provincia", "region", "state", "business state",
        "home state", "address 1 - region",
    ],
    "postal_code": [
        "codigo postal", "cp", "c.p.", "c. p.", "zip", "zip code", "postal code",
        "business postal code", "home postal code", "address 1 - postal code",
    ],
    "country": [
        "pais", "country", "country/region", "business country/region", "home country/region",
        "address 1 - country",
    ],
    "notes": [
        "notas", "nota", "comentarios", "observaciones", "notes", "comments",
        # The second and third address or number of a card or an export: kept in the notes.
        "correo electronico 2", "correo electronico 3", "telefono 2", "e-mail 2 address",
        "e-mail 3 address", "e-mail 2 - value", "e-mail 3 - value", "other phone",
    ],
    "consent": [
        "consentimiento", "acepta", "acepta publicidad", "acepta comunicaciones", "acepta correos",
        "suscrito", "boletin", "opt-in", "optin", "consent", "newsletter", "marketing",
    ],
    "tags": [
        "etiquetas", "etiqueta", "tags", "tag", "labels", "label", "grupos", "categorias",
        "categories",
        # Google Contacts: "Labels" in today's export, "Group Membership" in the older one.
        "group membership",
    ],
    "read_error": ["error de lectura"],
}  # fmt: skip
_BY_NAME = {fold(name): field for field, names in _SYNONYMS.items() for name in names}
_GOOGLE_PHONE = re.compile(r"^phone (\d+) - value$")


def _key(column: str) -> str:
    return fold(column).strip(" *:")


def type_column(header: list[str], column: str) -> str | None:
    """The "Phone N - Type" (or "- Label") column next to a Google "Phone N - Value"."""
    found = _GOOGLE_PHONE.match(_key(column))
    if not found:
        return None
    wanted = {f"phone {found.group(1)} - type", f"phone {found.group(1)} - label"}
    return next((name for name in header if _key(name) in wanted), None)


def suggest(header: list[str]) -> dict[str, str]:
    """{column: field} for the columns whose name is known; each field is fed by the first
    column naming it (but notes, which gather several)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        key = _key(column)
        field = _BY_NAME.get(key)
        if field is None and _GOOGLE_PHONE.match(key):
            if type_column(header, column):
                field = "phone_by_type"  # several: each goes to mobile or phone by its type
            else:
                field = "phone" if "phone" not in taken else "notes"
        if field is None or (field in taken and field not in MULTI | {"phone_by_type"}):
            continue
        mapping[column] = field
        taken.add(field)
    return mapping


def clean_mapping(mapping: dict[str, str], header: list[str]) -> dict[str, str]:
    """The mapping restricted to the file's columns, or a ValidationError naming what is
    wrong (an unknown field, a field fed twice, no name nor email at all)."""
    present = set(header)
    cleaned = {column: field for column, field in mapping.items() if column in present and field}
    unknown = sorted({field for field in cleaned.values() if field not in FIELDS})
    if unknown:
        raise ValidationError(
            _("Campo desconocido en la asignación: %(fields)s.") % {"fields": ", ".join(unknown)}
        )
    counts: dict[str, int] = {}
    for field in cleaned.values():
        counts[field] = counts.get(field, 0) + 1
    twice = [
        str(FIELDS[field])
        for field, n in counts.items()
        if n > 1 and field not in MULTI | {"phone_by_type"}
    ]
    if twice:
        raise ValidationError(
            _("Cada campo se llena desde una sola columna: %(fields)s.")
            % {"fields": ", ".join(sorted(twice))}
        )
    if not {"first_name", "full_name"} & set(cleaned.values()):
        raise ValidationError(
            _("Asigna una columna al nombre (o al nombre completo): un contacto necesita nombre.")
        )
    return cleaned


@transaction.atomic
def mapping_save(*, owner: User, name: str, columns: dict[str, str]) -> ImportMapping:
    """Save (or replace) the user's mapping called `name`, for the next import."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Escribe un nombre para la asignación.")})
    unknown = sorted({field for field in columns.values() if field and field not in FIELDS})
    if unknown:
        raise ValidationError(
            _("Campo desconocido en la asignación: %(fields)s.") % {"fields": ", ".join(unknown)}
        )
    saved, _created = ImportMapping.objects.update_or_create(
        owner=owner, name=name, defaults={"columns": {k: v for k, v in columns.items() if v}}
    )
    return saved


def mapping_get(*, name: str, owner: User | None = None) -> ImportMapping:
    """A saved mapping by name: the user's own, else (for the command line, no user) the only
    one of that name."""
    found = ImportMapping.objects.filter(name=name)
    if owner is not None:
        found = found.filter(owner=owner)
    mappings = list(found[:2])
    if len(mappings) != 1:
        raise ValidationError(
            _("No hay una asignación guardada llamada «%(name)s».") % {"name": name}
            if not mappings
            else _("Hay varias asignaciones llamadas «%(name)s».") % {"name": name}
        )
    return mappings[0]


def mapping_for(
    header: list[str], *, name: str | None = None, owner: User | None = None
) -> dict[str, str]:
    """The saved mapping `name` for this file's columns, completed by suggestions for the
    columns it does not name; the suggestions alone without a name."""
    suggested = suggest(header)
    if not name:
        return suggested
    saved = mapping_get(name=name, owner=owner).columns
    merged = {column: field for column, field in saved.items() if column in header}
    used = set(merged.values())
    for column, field in suggested.items():
        if column not in merged and (field in MULTI or field not in used):
            merged[column] = field
    return merged
