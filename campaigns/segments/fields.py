"""The allow-list of the segment builder: each field, its operators, the kind of value each takes,
and the labels the builder and the detail page show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy

from accounts.models import Industry, Relationship, Size, Tier
from contacts.models import LeadSource, Lifecycle
from crm.core.models import Country

CONSENT_STATES = {
    "granted": gettext_lazy("otorgado"),
    "withdrawn": gettext_lazy("retirado"),
    "none": gettext_lazy("sin registro"),
}

MONTHS = [
    (1, gettext_lazy("enero")),
    (2, gettext_lazy("febrero")),
    (3, gettext_lazy("marzo")),
    (4, gettext_lazy("abril")),
    (5, gettext_lazy("mayo")),
    (6, gettext_lazy("junio")),
    (7, gettext_lazy("julio")),
    (8, gettext_lazy("agosto")),
    (9, gettext_lazy("septiembre")),
    (10, gettext_lazy("octubre")),
    (11, gettext_lazy("noviembre")),
    (12, gettext_lazy("diciembre")),
]

OP_LABELS = {
    "in": gettext_lazy("es alguno de"),
    "not_in": gettext_lazy("no es ninguno de"),
    "eq": gettext_lazy("es"),
    "contains": gettext_lazy("contiene"),
    "between": gettext_lazy("entre"),
    "gte": gettext_lazy("mayor o igual que"),
    "lte": gettext_lazy("menor o igual que"),
    "any": gettext_lazy("tiene alguna de"),
    "all": gettext_lazy("tiene todas"),
    "none": gettext_lazy("no tiene ninguna de"),
    "last_days": gettext_lazy("en los últimos N días"),
    "in_last_days": gettext_lazy("en los últimos N días"),
    "not_in_last_days": gettext_lazy("no en los últimos N días"),
    "never": gettext_lazy("nunca"),
    "is": gettext_lazy("es"),
    "exists": gettext_lazy("tiene"),
    "not_exists": gettext_lazy("no tiene"),
    "in_last_months": gettext_lazy("en los últimos N meses"),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of the builder: its label, operators and the kind of value each takes.

    `value_kind` per op: "choices", "int_choices", "text", "int_range", "int", "date_range",
    "days", "months", "tags", "consent", "none". `choices` returns (value, label) pairs; ids of
    users, teams and topics are read from the database by the form, not here.
    """

    label: object
    ops: dict[str, str]
    choices: Callable[[], list] | None = None
    group: object = ""
    extra: dict = field(default_factory=dict)


def _text_choices(enum) -> Callable[[], list]:
    return lambda: list(enum.choices)


FIELDS: dict[str, FieldSpec] = {
    "lifecycle": FieldSpec(
        gettext_lazy("Etapa del contacto"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Lifecycle),
        gettext_lazy("Contacto"),
    ),
    "lead_source": FieldSpec(
        gettext_lazy("Origen"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(LeadSource),
        gettext_lazy("Contacto"),
    ),
    "lead_score": FieldSpec(
        gettext_lazy("Puntuación"),
        {"between": "int_range", "gte": "int", "lte": "int"},
        group=gettext_lazy("Contacto"),
    ),
    "tier": FieldSpec(
        gettext_lazy("Clasificación de la cuenta"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Tier),
        gettext_lazy("Cuenta"),
    ),
    "industry": FieldSpec(
        gettext_lazy("Sector de la cuenta"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Industry),
        gettext_lazy("Cuenta"),
    ),
    "size": FieldSpec(
        gettext_lazy("Tamaño de la cuenta"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Size),
        gettext_lazy("Cuenta"),
    ),
    "relationship": FieldSpec(
        gettext_lazy("Tipo de relación de la cuenta"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Relationship),
        gettext_lazy("Cuenta"),
    ),
    "country": FieldSpec(
        gettext_lazy("País"),
        {"in": "choices", "not_in": "choices"},
        _text_choices(Country),
        gettext_lazy("Ubicación"),
    ),
    "region": FieldSpec(
        gettext_lazy("Estado o provincia"),
        {"eq": "text", "contains": "text"},
        group=gettext_lazy("Ubicación"),
    ),
    "city": FieldSpec(
        gettext_lazy("Ciudad"),
        {"eq": "text", "contains": "text"},
        group=gettext_lazy("Ubicación"),
    ),
    "tags": FieldSpec(
        gettext_lazy("Etiquetas"),
        {"any": "tags", "all": "tags", "none": "tags"},
        group=gettext_lazy("Contacto"),
    ),
    "owner": FieldSpec(
        gettext_lazy("Responsable"), {"in": "int_choices"}, group=gettext_lazy("Contacto")
    ),
    "team": FieldSpec(
        gettext_lazy("Equipo del responsable"),
        {"in": "int_choices"},
        group=gettext_lazy("Contacto"),
    ),
    "birthday_month": FieldSpec(
        gettext_lazy("Mes de cumpleaños"),
        {"in": "int_choices"},
        lambda: list(MONTHS),
        gettext_lazy("Contacto"),
    ),
    "created": FieldSpec(
        gettext_lazy("Fecha de alta"),
        {"between": "date_range", "last_days": "days"},
        group=gettext_lazy("Fechas"),
    ),
    "last_contacted": FieldSpec(
        gettext_lazy("Último contacto"),
        {
            "between": "date_range",
            "last_days": "days",
            "not_in_last_days": "days",
            "never": "none",
        },
        group=gettext_lazy("Fechas"),
    ),
    "consent": FieldSpec(
        gettext_lazy("Consentimiento"), {"is": "consent"}, group=gettext_lazy("Consentimiento")
    ),
    "opened": FieldSpec(
        gettext_lazy("Abrió un correo"),
        {"in_last_days": "days", "not_in_last_days": "days", "never": "none"},
        group=gettext_lazy("Interacción"),
    ),
    "clicked": FieldSpec(
        gettext_lazy("Hizo clic en un correo"),
        {"in_last_days": "days", "not_in_last_days": "days", "never": "none"},
        group=gettext_lazy("Interacción"),
    ),
    "emailed": FieldSpec(
        gettext_lazy("Recibió una campaña"),
        {"in_last_days": "days", "not_in_last_days": "days"},
        group=gettext_lazy("Interacción"),
    ),
    "open_opportunities": FieldSpec(
        gettext_lazy("Oportunidades abiertas"),
        {"exists": "none", "not_exists": "none"},
        group=gettext_lazy("Ventas y soporte"),
    ),
    "won_opportunity": FieldSpec(
        gettext_lazy("Oportunidad ganada"),
        {"in_last_months": "months"},
        group=gettext_lazy("Ventas y soporte"),
    ),
    "open_tickets": FieldSpec(
        gettext_lazy("Incidencias abiertas"),
        {"exists": "none", "not_exists": "none"},
        group=gettext_lazy("Ventas y soporte"),
    ),
}


def value_kind(field_name: str, op: str) -> str | None:
    spec = FIELDS.get(field_name)
    return spec.ops.get(op) if spec else None
