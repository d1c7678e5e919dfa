"""A segment definition checked against the allow-list: every problem, in words for a person."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from campaigns.segments.fields import CONSENT_STATES, FIELDS, value_kind
from contacts.models import Consent
from crm.core.text import fold

MATCHES = ("all", "any")
MAX_GROUPS = 10
MAX_CONDITIONS = 20
MAX_LIST = 200
MAX_TEXT = 100
MAX_DAYS = 3650
MAX_MONTHS = 120


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_date(value) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _value_errors(field_name: str, op: str, value) -> list[str]:
    """What is wrong with this value for (field, op), as sentences for a person."""
    kind = value_kind(field_name, op)
    label = FIELDS[field_name].label
    if kind in ("choices", "int_choices"):
        if not isinstance(value, list) or not value:
            return [_("«%(field)s»: elige al menos un valor.") % {"field": label}]
        if len(value) > MAX_LIST:
            return [_("«%(field)s»: demasiados valores.") % {"field": label}]
        if kind == "int_choices" and not all(is_int(v) for v in value):
            return [_("«%(field)s»: los valores deben ser números.") % {"field": label}]
        choices = FIELDS[field_name].choices
        if choices is not None:
            allowed = {key for key, _label in choices()}
            if any(isinstance(v, list | dict) or v not in allowed for v in value):
                return [_("«%(field)s»: hay un valor que no existe.") % {"field": label}]
        return []
    if kind == "text":
        if not isinstance(value, str) or not fold(value):
            return [_("«%(field)s»: escribe un texto.") % {"field": label}]
        if len(value) > MAX_TEXT:
            return [_("«%(field)s»: el texto es demasiado largo.") % {"field": label}]
        return []
    if kind == "int":
        if not is_int(value) or not 0 <= value <= 100:
            return [_("«%(field)s»: escribe un número de 0 a 100.") % {"field": label}]
        return []
    if kind == "int_range":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(is_int(v) and 0 <= v <= 100 for v in value)
        ):
            return [_("«%(field)s»: escribe dos números de 0 a 100.") % {"field": label}]
        if value[0] > value[1]:
            return [_("«%(field)s»: el mínimo es mayor que el máximo.") % {"field": label}]
        return []
    if kind == "date_range":
        if not isinstance(value, list) or len(value) != 2:
            return [_("«%(field)s»: indica las fechas desde y hasta.") % {"field": label}]
        if value[0] is None and value[1] is None:
            return [_("«%(field)s»: indica al menos una fecha.") % {"field": label}]
        dates = [None if v is None else _parse_date(v) for v in value]
        if any(v is not None and d is None for v, d in zip(value, dates, strict=True)):
            return [_("«%(field)s»: la fecha no es válida (AAAA-MM-DD).") % {"field": label}]
        if dates[0] and dates[1] and dates[0] > dates[1]:
            return [_("«%(field)s»: la fecha inicial es posterior a la final.") % {"field": label}]
        return []
    if kind == "days":
        if not is_int(value) or not 1 <= value <= MAX_DAYS:
            return [
                _("«%(field)s»: escribe un número de días entre 1 y %(max)s.")
                % {"field": label, "max": MAX_DAYS}
            ]
        return []
    if kind == "months":
        if not is_int(value) or not 1 <= value <= MAX_MONTHS:
            return [
                _("«%(field)s»: escribe un número de meses entre 1 y %(max)s.")
                % {"field": label, "max": MAX_MONTHS}
            ]
        return []
    if kind == "tags":
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            return [_("«%(field)s»: escribe al menos una etiqueta.") % {"field": label}]
        if len(value) > MAX_LIST or any(len(v) > MAX_TEXT for v in value):
            return [_("«%(field)s»: demasiadas etiquetas o demasiado largas.") % {"field": label}]
        return []
    if kind == "consent":
        if not isinstance(value, dict):
            return [_("«%(field)s»: indica canal, tema y estado.") % {"field": label}]
        errors = []
        if value.get("channel") not in Consent.Channel.values:
            errors.append(_("«%(field)s»: el canal no existe.") % {"field": label})
        topic = value.get("topic")
        if topic is not None and not is_int(topic):
            errors.append(_("«%(field)s»: el tema no es válido.") % {"field": label})
        if value.get("state") not in CONSENT_STATES:
            errors.append(_("«%(field)s»: el estado no es válido.") % {"field": label})
        return errors
    return []  # "none": the value is not read


def condition_errors(condition: dict) -> list[str]:
    """What is wrong with one condition (unknown field, operator or a bad value)."""
    name, op = condition.get("field"), condition.get("op")
    if not isinstance(name, str) or name not in FIELDS:
        return [_("el campo «%(field)s» no existe.") % {"field": name}]
    if not isinstance(op, str) or op not in FIELDS[name].ops:
        return [
            _("el operador «%(op)s» no vale para «%(field)s».")
            % {"op": op, "field": FIELDS[name].label}
        ]
    return _value_errors(name, op, condition.get("value"))


def validate_definition(definition) -> list[str]:
    """Every problem of a definition, in Spanish; an empty list means the compiler accepts it."""
    if not isinstance(definition, dict):
        return [_("La definición del segmento no es válida.")]
    errors: list[str] = []
    if definition.get("match", "all") not in MATCHES:
        errors.append(_("La forma de combinar los grupos debe ser «todos» o «alguno»."))
    groups = definition.get("groups", [])
    if not isinstance(groups, list):
        return [*errors, _("Los grupos del segmento no son válidos.")]
    if len(groups) > MAX_GROUPS:
        errors.append(_("Un segmento admite como máximo %(max)s grupos.") % {"max": MAX_GROUPS})
    for g, group in enumerate(groups, start=1):
        if not isinstance(group, dict):
            errors.append(_("El grupo %(n)s no es válido.") % {"n": g})
            continue
        if group.get("match", "all") not in MATCHES:
            errors.append(
                _("Grupo %(n)s: la forma de combinar debe ser «todas» o «alguna».") % {"n": g}
            )
        conditions = group.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            errors.append(_("El grupo %(n)s está vacío: añade una condición o quítalo.") % {"n": g})
            continue
        if len(conditions) > MAX_CONDITIONS:
            errors.append(
                _("Grupo %(n)s: como máximo %(max)s condiciones.") % {"n": g, "max": MAX_CONDITIONS}
            )
        for condition in conditions:
            if not isinstance(condition, dict):
                errors.append(_("Grupo %(n)s: una condición no es válida.") % {"n": g})
                continue
            errors.extend(
                _("Grupo %(n)s: %(error)s") % {"n": g, "error": error}
                for error in condition_errors(condition)
            )
    return errors
