"""Segments: a definition (data, validated against an allow-list) compiled to a Contact filter.

A definition is
    {"match": "all" | "any", "groups": [
        {"match": "all" | "any", "conditions": [{"field": ..., "op": ..., "value": ...}, ...]},
    ...]}
Groups combine with the top-level `match`, conditions inside a group with the group's; no
deeper nesting. No groups: every live contact. Field and operator names come from the allow-list
in this module only; user input is never used as an ORM lookup or SQL.

The values each (field, op) takes (`FIELDS` is the allow-list; `validate_definition` checks them):
- in / not_in: a non-empty list of the field's choices (codes such as "mql", "A", "MX"; ids for
  owner and team; 1-12 for birthday_month). `not_in` also matches contacts with no value (a
  contact without an account is "not in" any tier).
- eq / contains (region, city): a non-empty text, compared accent- and case-insensitively.
- between: [low, high]; numbers for lead_score (both required), ISO dates "YYYY-MM-DD" for created
  and last_contacted (either end may be null, not both). Both ends included.
- gte / lte (lead_score): a number 0-100.
- last_days / in_last_days / not_in_last_days: whole days (1-3650); `not_in_last_days` includes
  those that never did it (never contacted, never opened…).
- in_last_months (won_opportunity): whole months (1-120).
- never, exists, not_exists: no value (ignored).
- tags any / all / none: a non-empty list of tag names (case-insensitive, as taggit is set up).
- consent is: {"channel": "email"|"sms"|"whatsapp"|"telefono", "topic": topic id or null (the
  whole channel), "state": "granted"|"withdrawn"|"none"}: the latest ledger entry
  (contacts.ConsentLatest) for that channel and topic.

Engagement reads the campaigns ledger: opened / clicked are TrackingEvents of a person (machine
opens by privacy proxies do not count), emailed is a Send marked sent. Opportunities and tickets
count when they are the contact's own or their account's. Every relation is an EXISTS subquery
over an indexed foreign key, so a count stays one scan of contacts at 100,000 rows.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Contains, Exact
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from taggit.models import Tag, TaggedItem

from accounts.models import Industry, Relationship, Size, Tier
from contacts.models import Consent, ConsentLatest, Contact, LeadSource, Lifecycle
from crm.core.models import Country
from crm.core.text import fold

MATCHES = ("all", "any")
MAX_GROUPS = 10
MAX_CONDITIONS = 20
MAX_LIST = 200
MAX_TEXT = 100
MAX_DAYS = 3650
MAX_MONTHS = 120

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


# --- The allow-list ---------------------------------------------------------------------------


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


# --- Validation -------------------------------------------------------------------------------


def _is_int(value) -> bool:
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
        if kind == "int_choices" and not all(_is_int(v) for v in value):
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
        if not _is_int(value) or not 0 <= value <= 100:
            return [_("«%(field)s»: escribe un número de 0 a 100.") % {"field": label}]
        return []
    if kind == "int_range":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_is_int(v) and 0 <= v <= 100 for v in value)
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
        if not _is_int(value) or not 1 <= value <= MAX_DAYS:
            return [
                _("«%(field)s»: escribe un número de días entre 1 y %(max)s.")
                % {"field": label, "max": MAX_DAYS}
            ]
        return []
    if kind == "months":
        if not _is_int(value) or not 1 <= value <= MAX_MONTHS:
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
        if topic is not None and not _is_int(topic):
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


# --- The compiler: one function per field, written here ---------------------------------------

# Lower-case and strip the accents Spanish and Portuguese names carry, so "Querétaro" matches
# "QUERETARO" on PostgreSQL without the unaccent extension (translate() maps char by char).
_ACCENTS = "áàâäãéèêëíìîïóòôöõúùûüñçÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇ"
_PLAIN = "aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc"


class Folded(Func):
    """An accent-free, lower-case copy of a text column (crm.core.text.fold, in the database)."""

    output_field = Contact._meta.get_field("city")

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"LOWER({sql})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite has no translate(): the very function the search columns are written with,
        # registered on this connection (idempotent; the raw connection exists once compiled).
        connection.ensure_connection()
        connection.connection.create_function("crm_fold", 1, fold, deterministic=True)
        sql, params = compiler.compile(self.source_expressions[0])
        return f"crm_fold({sql})", params

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"TRANSLATE(LOWER({sql}), %s, %s)", (*params, _ACCENTS, _PLAIN)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _months_ago(now: datetime, months: int) -> datetime:
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    day = min(now.day, calendar.monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day)


def _choice_q(column: str) -> Callable:
    """in / not_in over one column (a fixed lookup name: `column` comes from this module)."""

    def build(op: str, value, now: datetime) -> Q:
        q = Q(**{f"{column}__in": value})
        return q if op == "in" else ~q

    return build


def _text_q(column: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        lookup = Exact if op == "eq" else Contains
        return Q(lookup(Folded(column), fold(value)))

    return build


def _lead_score_q(op: str, value, now: datetime) -> Q:
    if op == "between":
        return Q(lead_score__gte=value[0], lead_score__lte=value[1])
    if op == "gte":
        return Q(lead_score__gte=value)
    return Q(lead_score__lte=value)


def _tags_q(op: str, value, now: datetime) -> Q:
    names = sorted({v.strip().lower() for v in value})
    items = TaggedItem.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id=OuterRef("pk")
    )

    def having(tag_names: list[str]) -> Exists:
        tags = Tag.objects.annotate(_lower=Lower("name")).filter(_lower__in=tag_names)
        return Exists(items.filter(tag__in=tags.values("pk")))

    if op == "any":
        return Q(having(names))
    if op == "none":
        return ~Q(having(names))
    q = Q()
    for name in names:
        q &= Q(having([name]))
    return q


def _date_q(column: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        if op == "between":
            low, high = (None if v is None else date.fromisoformat(v) for v in value)
            q = Q()
            if low is not None:
                q &= Q(**{f"{column}__gte": _day_start(low)})
            if high is not None:
                q &= Q(**{f"{column}__lt": _day_start(high + timedelta(days=1))})
            return q
        if op == "never":
            return Q(**{f"{column}__isnull": True})
        cutoff = now - timedelta(days=value)
        recent = Q(**{f"{column}__gte": cutoff})
        return recent if op == "last_days" else ~recent  # ~: NULL (never) included

    return build


def _consent_q(op: str, value, now: datetime) -> Q:
    latest = ConsentLatest.objects.filter(contact=OuterRef("pk"), channel=value["channel"])
    topic = value.get("topic")
    latest = latest.filter(topic__isnull=True) if topic is None else latest.filter(topic_id=topic)
    state = value["state"]
    if state == "none":
        return ~Q(Exists(latest))
    action = Consent.Action.GRANT if state == "granted" else Consent.Action.WITHDRAW
    return Q(Exists(latest.filter(action=action)))


def _event_q(kind_name: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        from campaigns.models import TrackingEvent

        kind = TrackingEvent.Kind.OPEN if kind_name == "open" else TrackingEvent.Kind.CLICK
        events = TrackingEvent.objects.filter(contact=OuterRef("pk"), kind=kind, is_machine=False)
        if op == "never":
            return ~Q(Exists(events))
        recent = Q(Exists(events.filter(at__gte=now - timedelta(days=value))))
        return recent if op == "in_last_days" else ~recent

    return build


def _emailed_q(op: str, value, now: datetime) -> Q:
    from campaigns.models import Send

    sends = Send.objects.filter(
        contact=OuterRef("pk"), status=Send.Status.SENT, sent_at__gte=now - timedelta(days=value)
    )
    recent = Q(Exists(sends))
    return recent if op == "in_last_days" else ~recent


def _own_or_account(queryset) -> Q:
    """Rows of `queryset` that are the contact's own or their account's (two indexed EXISTS)."""
    return Q(Exists(queryset.filter(contact=OuterRef("pk")))) | Q(
        Exists(queryset.filter(account=OuterRef("account_id")))
    )


def _open_opportunities_q(op: str, value, now: datetime) -> Q:
    from opportunities.models import Opportunity

    q = _own_or_account(Opportunity.objects.filter(stage__is_won=False, stage__is_lost=False))
    return q if op == "exists" else ~q


def _won_opportunity_q(op: str, value, now: datetime) -> Q:
    from opportunities.models import Opportunity

    return _own_or_account(
        Opportunity.objects.filter(stage__is_won=True, closed_at__gte=_months_ago(now, value))
    )


def _open_tickets_q(op: str, value, now: datetime) -> Q:
    from support.models import OPEN_STATUSES, Ticket

    q = _own_or_account(Ticket.objects.filter(status__in=OPEN_STATUSES))
    return q if op == "exists" else ~q


BUILDERS: dict[str, Callable[[str, object, datetime], Q]] = {
    "lifecycle": _choice_q("lifecycle"),
    "lead_source": _choice_q("lead_source"),
    "lead_score": _lead_score_q,
    "tier": _choice_q("account__tier"),
    "industry": _choice_q("account__industry"),
    "size": _choice_q("account__size"),
    "relationship": _choice_q("account__relationship"),
    "country": _choice_q("country"),
    "region": _text_q("region"),
    "city": _text_q("city"),
    "tags": _tags_q,
    "owner": _choice_q("owner_id"),
    "team": _choice_q("owner__team_id"),
    "birthday_month": _choice_q("birthday__month"),
    "created": _date_q("created_at"),
    "last_contacted": _date_q("last_contacted_at"),
    "consent": _consent_q,
    "opened": _event_q("open"),
    "clicked": _event_q("click"),
    "emailed": _emailed_q,
    "open_opportunities": _open_opportunities_q,
    "won_opportunity": _won_opportunity_q,
    "open_tickets": _open_tickets_q,
}
if set(BUILDERS) != set(FIELDS):  # an allow-list entry without code (or code without entry)
    raise RuntimeError("campaigns.segments: FIELDS and BUILDERS differ")


class InvalidDefinition(ValueError):
    """A definition that validate_definition rejects reached the compiler."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _combine(parts: list[Q], match: str) -> Q:
    q = Q()
    for part in parts:
        q = (q & part) if match == "all" else (q | part)
    return q


def compile_definition(definition: dict, *, now: datetime | None = None) -> Q:
    """The Q over Contact for a definition; raises InvalidDefinition unless it validates."""
    definition = definition or {}
    if errors := validate_definition(definition):
        raise InvalidDefinition(errors)
    now = now or timezone.now()
    groups = []
    for group in definition.get("groups", []):
        conditions = [
            BUILDERS[c["field"]](c["op"], c.get("value"), now) for c in group["conditions"]
        ]
        groups.append(_combine(conditions, group.get("match", "all")))
    return _combine(groups, definition.get("match", "all"))


def segment_queryset(segment) -> QuerySet[Contact]:
    """The live contacts of a segment (dynamic: its conditions; static: its members)."""
    live = Contact.objects.filter(archived_at__isnull=True)
    if segment.is_static:
        return live.filter(pk__in=segment.memberships.values("contact_id"))
    return live.filter(compile_definition(segment.definition))


def definition_queryset(definition: dict) -> QuerySet[Contact]:
    """The live contacts of a definition not (yet) saved: the builder's preview."""
    return Contact.objects.filter(archived_at__isnull=True).filter(compile_definition(definition))


# --- In words (the detail page) ---------------------------------------------------------------


def describe_condition(condition: dict, *, names: dict | None = None) -> str:
    """One condition as a sentence fragment: "Sector de la cuenta es alguno de: Manufactura".

    `names` maps ("owner"|"team"|"topic", id) to a display name (the caller reads them).
    """
    names = names or {}
    spec = FIELDS[condition["field"]]
    op, value = condition["op"], condition.get("value")
    kind = spec.ops[op]
    label, op_label = str(spec.label), str(OP_LABELS[op])
    if kind in ("choices", "int_choices"):
        labels = dict(spec.choices()) if spec.choices else {}
        key = condition["field"]
        shown = [str(labels.get(v) or names.get((key, v)) or v) for v in value]
        return _("%(field)s %(op)s: %(values)s") % {
            "field": label,
            "op": op_label,
            "values": ", ".join(shown),
        }
    if kind == "tags":
        return _("%(field)s: %(op)s %(values)s") % {
            "field": label,
            "op": op_label,
            "values": ", ".join(value),
        }
    if kind == "text":
        return _("%(field)s %(op)s «%(value)s»") % {"field": label, "op": op_label, "value": value}
    if kind == "int":
        return _("%(field)s %(op)s %(value)s") % {"field": label, "op": op_label, "value": value}
    if kind == "int_range":
        return _("%(field)s entre %(low)s y %(high)s") % {
            "field": label,
            "low": value[0],
            "high": value[1],
        }
    if kind == "date_range":
        low, high = value
        if low and high:
            return _("%(field)s entre el %(low)s y el %(high)s") % {
                "field": label,
                "low": low,
                "high": high,
            }
        if low:
            return _("%(field)s desde el %(low)s") % {"field": label, "low": low}
        return _("%(field)s hasta el %(high)s") % {"field": label, "high": high}
    if kind == "days":
        if op == "not_in_last_days":
            return _("%(field)s: no en los últimos %(n)s días (o nunca)") % {
                "field": label,
                "n": value,
            }
        return _("%(field)s en los últimos %(n)s días") % {"field": label, "n": value}
    if kind == "months":
        return _("%(field)s en los últimos %(n)s meses") % {"field": label, "n": value}
    if kind == "consent":
        channel = dict(Consent.Channel.choices).get(value["channel"], value["channel"])
        topic = (
            _("todo el canal")
            if value.get("topic") is None
            else names.get(("topic", value["topic"]), value["topic"])
        )
        return _("Consentimiento de %(channel)s (%(topic)s): %(state)s") % {
            "channel": channel,
            "topic": topic,
            "state": CONSENT_STATES[value["state"]],
        }
    return _("%(field)s: %(op)s") % {"field": label, "op": op_label}


def referenced_ids(definition: dict) -> dict[str, set[int]]:
    """The owner, team and topic ids a definition names (to show their names)."""
    found: dict[str, set[int]] = {"owner": set(), "team": set(), "topic": set()}
    for group in (definition or {}).get("groups", []):
        for condition in group.get("conditions", []):
            name, value = condition.get("field"), condition.get("value")
            if name in ("owner", "team") and isinstance(value, list):
                found[name].update(v for v in value if _is_int(v))
            elif name == "consent" and isinstance(value, dict) and _is_int(value.get("topic")):
                found["topic"].add(value["topic"])
    return found


__all__ = [
    "FIELDS",
    "InvalidDefinition",
    "compile_definition",
    "definition_queryset",
    "describe_condition",
    "segment_queryset",
    "validate_definition",
]
