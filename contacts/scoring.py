"""The lead score: its rules, how a profile rule matches, the decay of behaviour points, and the
one place that writes a contact's score (with its history and the move to MQL).

The behaviour points come from what the contact did (opens, clicks, forms), which the layers
above know about: campaigns.scoring adds them up with `behaviour_sum` and stores the result
with `contact_score_set` (one contact) or `contact_scores_apply` (the nightly job, in bulk).

A profile rule is matched twice, and the two must agree (a test holds them together): in Python
for one contact (`profile_points`) and in SQL for all of them (`profile_expression`). Text is
compared folded the same way on both sides (`column_fold`: lower-case, Spanish accents off).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, FloatField, Func, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.db.models.lookups import In, Regex
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Industry, Size
from contacts.models import (
    SCORE_MAX,
    SCORE_MIN,
    Contact,
    LeadSource,
    Lifecycle,
    ScoreChange,
    ScoreRule,
)
from crm.core.audit import audit
from crm.core.models import AuditEvent, Country, User
from crm.core.rules import rule_set_active, rule_update
from crm.core.text import Folded, column_fold
from crm.core.webhooks import webhook_emit

Field = ScoreRule.Field

# --- Who manages the rules ---------------------------------------------------------------------


def can_manage_scoring(user) -> bool:
    """Marketing sets the rules; administrators too. Nobody else sees the pages."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_admin_role or user.is_marketing


def mql_threshold() -> int:
    return settings.LEAD_MQL_THRESHOLD


# --- Folding text the same way in Python and in SQL --------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_NOT_WORD = "[^a-z0-9]"


def job_title_pattern(phrases: list[str]) -> str:
    """One regular expression for "any of these words or phrases, as whole words", written in
    the part of the syntax PostgreSQL and Python's `re` (SQLite's REGEXP) read alike."""
    joined = "|".join(f"{_NOT_WORD}+".join(_WORD.findall(phrase)) for phrase in phrases)
    return f"(^|{_NOT_WORD})({joined})($|{_NOT_WORD})"


# --- Profile rules -------------------------------------------------------------------------------

# The allow-list of profile fields: the contact's column, and the values a rule may name (None:
# free text, folded).
PROFILE_COLUMNS: dict[str, str] = {
    Field.INDUSTRY: "account__industry",
    Field.SIZE: "account__size",
    Field.REGION: "region",
    Field.COUNTRY: "country",
    Field.JOB_TITLE: "job_title",
    Field.LEAD_SOURCE: "lead_source",
}
PROFILE_CHOICES: dict[str, list[tuple[str, str]] | None] = {
    Field.INDUSTRY: Industry.choices,
    Field.SIZE: Size.choices,
    Field.REGION: None,
    Field.COUNTRY: Country.choices,
    Field.JOB_TITLE: None,
    Field.LEAD_SOURCE: LeadSource.choices,
}
MAX_VALUES = 50
MAX_VALUE_LENGTH = 100


def clean_rule_values(field: str, values: list[str]) -> list[str]:
    """The values a profile rule stores: choice codes checked against the allow-list, or free
    text folded (job title words and phrases: letters, digits and spaces only)."""
    if field not in PROFILE_CHOICES:
        raise ValidationError({"field": _("Elige un dato de la lista.")})
    choices = PROFILE_CHOICES[field]
    cleaned: list[str] = []
    if choices is not None:
        known = {code for code, _label in choices}
        for value in values:
            if value not in known:
                raise ValidationError(
                    {"values": _("«%(value)s» no es una opción válida.") % {"value": value}}
                )
            cleaned.append(value)
    else:
        for value in values:
            folded = " ".join(column_fold(value).split())
            if not folded:
                continue
            if len(folded) > MAX_VALUE_LENGTH:
                raise ValidationError(
                    {
                        "values": _("Cada valor tiene como máximo %(n)s caracteres.")
                        % {"n": MAX_VALUE_LENGTH}
                    }
                )
            if field == Field.JOB_TITLE and " ".join(_WORD.findall(folded)) != folded:
                raise ValidationError(
                    {
                        "values": _(
                            "«%(value)s»: usa solo letras, números y espacios en las palabras "
                            "del puesto."
                        )
                        % {"value": value}
                    }
                )
            cleaned.append(folded)
    cleaned = list(dict.fromkeys(cleaned))
    if not cleaned:
        raise ValidationError({"values": _("Indica al menos un valor.")})
    if len(cleaned) > MAX_VALUES:
        raise ValidationError(
            {"values": _("Como máximo %(n)s valores por regla.") % {"n": MAX_VALUES}}
        )
    return cleaned


def rule_values_display(rule: ScoreRule) -> str:
    """The values of a profile rule as people read them ("Construcción, Comercio")."""
    labels = dict(PROFILE_CHOICES.get(rule.field) or [])
    return ", ".join(str(labels.get(value, value)) for value in rule.values)


def _profile_value(contact: Contact, field: str) -> str | None:
    if field in (Field.INDUSTRY, Field.SIZE):
        if contact.account_id is None:
            return None
        return getattr(contact.account, "industry" if field == Field.INDUSTRY else "size")
    return getattr(contact, PROFILE_COLUMNS[field])


def rule_matches(rule: ScoreRule, contact: Contact) -> bool:
    """Whether a profile rule applies to `contact` (its account loaded, for industry and size)."""
    value = _profile_value(contact, rule.field)
    if value is None:
        return False
    if rule.field == Field.JOB_TITLE:
        return bool(re.search(job_title_pattern(rule.values), column_fold(value)))
    if rule.field == Field.REGION:
        return column_fold(value) in rule.values
    return value in rule.values


def profile_q(rule: ScoreRule) -> Q:
    """The same test as `rule_matches`, as a filter on contacts."""
    column = PROFILE_COLUMNS[rule.field]
    if rule.field == Field.JOB_TITLE:
        return Q(Regex(Folded(column), job_title_pattern(rule.values)))
    if rule.field == Field.REGION:
        return Q(In(Folded(column, compared_with=tuple(rule.values)), list(rule.values)))
    return Q(**{f"{column}__in": rule.values})


def profile_expression(rule: ScoreRule) -> Case:
    """The rule's points for each contact (0 when it does not match), as an annotation."""
    return Case(When(profile_q(rule), then=Value(rule.points)), default=Value(0))


@dataclass(frozen=True)
class Part:
    """What one rule gave a contact."""

    rule_id: int
    name: str
    points: float


def profile_points(contact: Contact, rules: list[ScoreRule]) -> list[Part]:
    """The profile rules that apply to `contact` and their points (pure: no query, provided the
    contact's account is loaded)."""
    return [
        Part(rule.pk, rule.name, float(rule.points))
        for rule in rules
        if rule.is_profile and rule.active and rule_matches(rule, contact)
    ]


# --- Behaviour: the decay ----------------------------------------------------------------------


def decayed(points: float, age_days: float, half_life_days: float) -> float:
    """points × 0.5^(age / half-life): an event one half-life old counts half."""
    return points * 0.5 ** (max(age_days, 0.0) / half_life_days)


class DecayedPoints(Func):
    """`decayed(points, age of the row's time in days at `now`, half_life)` in SQL."""

    output_field = FloatField()

    def __init__(self, at, *, now: datetime, points: int, half_life: int):
        self.now, self.points, self.half_life = now, points, half_life
        super().__init__(at)

    def _at(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        now = connection.ops.adapt_datetimefield_value(self.now)
        return sql, params, now

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(connection.vendor)

    def as_postgresql(self, compiler, connection, **extra_context):
        at, params, now = self._at(compiler, connection)
        age = f"GREATEST(EXTRACT(EPOCH FROM (%s::timestamptz - {at}))::double precision, 0)"
        return (
            f"(%s::double precision * POWER(0.5::double precision, "
            f"{age} / 86400.0 / %s::double precision))",
            (self.points, now, *params, self.half_life),
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        at, params, now = self._at(compiler, connection)
        age = f"MAX(julianday(%s) - julianday({at}), 0.0)"
        return (
            f"(CAST(%s AS REAL) * POWER(0.5, {age} / CAST(%s AS REAL)))",
            (self.points, now, *params, self.half_life),
        )


def behaviour_sum(rule: ScoreRule, *, now: datetime, at_field: str = "at"):
    """The aggregate of a behaviour rule over rows of events (one per event, with a time in
    `at_field`): the decayed points added up, capped at the rule's `max_points`."""
    # Coalesced: PostgreSQL's LEAST and GREATEST skip a NULL (no event) instead of returning it.
    total = Coalesce(
        Sum(DecayedPoints(F(at_field), now=now, points=rule.points, half_life=rule.half_life_days)),
        Value(0.0, output_field=FloatField()),
    )
    if rule.max_points:
        cap = Value(float(rule.max_points), output_field=FloatField())
        if rule.points >= 0:
            return Least(total, cap)
        return Greatest(total, Value(-float(rule.max_points), output_field=FloatField()))
    return total


# --- The score from its parts ------------------------------------------------------------------


def _stable(value: float) -> float:
    # Sums of floats in a different order (one contact, or all grouped) differ in the last bits.
    return round(float(value), 6)


def score_total(parts: list[Part]) -> tuple[int, list[dict]]:
    """The score (0..100, rounded half up) and the breakdown kept with it (non-zero parts)."""
    parts = sorted((p for p in parts if _stable(p.points)), key=lambda p: p.rule_id)
    total = sum(_stable(p.points) for p in parts)
    score = min(SCORE_MAX, max(SCORE_MIN, math.floor(total + 0.5)))
    breakdown = [
        {"rule": p.rule_id, "name": p.name, "points": round(_stable(p.points), 1)} for p in parts
    ]
    return score, breakdown


def active_rules() -> list[ScoreRule]:
    return list(ScoreRule.objects.filter(active=True).order_by("pk"))


def scorable_contacts() -> QuerySet[Contact]:
    """The contacts the score is kept for: not archived, erased or merged into another."""
    return Contact.objects.filter(
        archived_at__isnull=True, erased_at__isnull=True, merged_into__isnull=True
    )


# --- Writing the score -------------------------------------------------------------------------


def _moves_to_mql(old: int, new: int, lifecycle: str) -> bool:
    """Crossing the threshold upwards moves a subscriber or a lead to MQL, never anyone back."""
    threshold = mql_threshold()
    return old < threshold <= new and lifecycle in (Lifecycle.SUBSCRIBER, Lifecycle.LEAD)


def _apply(contact: Contact, score: int, reason: str, at: datetime) -> bool:
    """Set the score on the loaded contact, with its history's reason; True if it became MQL."""
    old = contact.lead_score
    contact.lead_score = score
    if _moves_to_mql(old, score, contact.lifecycle):
        contact.lifecycle = Lifecycle.MQL
        contact._change_reason = _("Puntuación %(score)s ≥ umbral %(threshold)s") % {
            "score": score,
            "threshold": mql_threshold(),
        }
        return True
    contact._change_reason = _("Puntuación recalculada (%(reason)s)") % {
        "reason": ScoreChange.Reason(reason).label
    }
    return False


def _emit_mql(contact: Contact) -> None:
    webhook_emit(
        "contact.updated",
        {
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "owner_id": contact.owner_id,
            "lifecycle": contact.lifecycle,
        },
    )


@transaction.atomic
def contact_score_set(
    *,
    contact: Contact,
    score: int,
    breakdown: list[dict],
    reason: str,
    at: datetime | None = None,
) -> ScoreChange | None:
    """Store a computed score: the contact's field and its history, a ScoreChange when the score
    changes (None otherwise), and the move to MQL when it crosses the threshold upwards."""
    at = at or timezone.now()
    score = min(SCORE_MAX, max(SCORE_MIN, int(score)))
    contact = scorable_contacts().select_for_update().filter(pk=contact.pk).first()
    if contact is None or contact.lead_score == score:
        return None
    old = contact.lead_score
    became_mql = _apply(contact, score, reason, at)
    contact._history_user = None
    # Not updated_at: a derived score that decays every night is no edit ("modificados
    # recientemente" would list everybody).
    contact.save(update_fields=["lead_score", "lifecycle"])
    if became_mql:
        _emit_mql(contact)
    return ScoreChange.objects.create(
        contact=contact,
        at=at,
        old_score=old,
        new_score=score,
        reason=reason,
        breakdown=breakdown,
        became_mql=became_mql,
    )


@dataclass(frozen=True)
class ScoreUpdate:
    """A score the nightly job computed for a contact that had `old`."""

    contact_id: int
    old: int
    score: int
    breakdown: list[dict]


def contact_scores_apply(
    *, updates: list[ScoreUpdate], reason: str, at: datetime | None = None
) -> int:
    """Store many computed scores at once (one batch, one transaction): bulk updates with their
    history rows, bulk ScoreChanges, the MQL moves. A contact whose score moved since it was
    read (an event recomputed it meanwhile) is left as it is. Returns the contacts changed."""
    at = at or timezone.now()
    by_id = {u.contact_id: u for u in updates}
    with transaction.atomic():
        contacts = list(
            scorable_contacts().select_for_update().filter(pk__in=list(by_id)).order_by("pk")
        )
        changed, rows, moved = [], [], []
        for contact in contacts:
            update = by_id[contact.pk]
            if contact.lead_score != update.old or update.score == update.old:
                continue
            became_mql = _apply(contact, update.score, reason, at)
            changed.append(contact)
            if became_mql:
                moved.append(contact)
            rows.append(
                ScoreChange(
                    contact_id=contact.pk,
                    at=at,
                    old_score=update.old,
                    new_score=update.score,
                    reason=reason,
                    breakdown=update.breakdown,
                    became_mql=became_mql,
                )
            )
        if changed:
            # One UPDATE per (score, lifecycle) pair, at most ~200 per batch: Django's
            # bulk_update builds a CASE per row and costs more than the rest of the job.
            groups: dict[tuple[int, str], list[int]] = defaultdict(list)
            for contact in changed:
                groups[contact.lead_score, contact.lifecycle].append(contact.pk)
            for (score, lifecycle), ids in groups.items():
                Contact.objects.filter(pk__in=ids).update(lead_score=score, lifecycle=lifecycle)
            if connection.vendor == "postgresql":
                plain = [c for c in changed if c not in moved]
                _history_insert_select(
                    plain, at=at, reason=plain[0]._change_reason if plain else ""
                )
                Contact.history.bulk_history_create(moved, update=True, default_date=at)
                _score_changes_copy(rows)
            else:
                Contact.history.bulk_history_create(changed, update=True, default_date=at)
                ScoreChange.objects.bulk_create(rows)
        for contact in moved:
            _emit_mql(contact)
    return len(changed)


def _history_insert_select(contacts: list[Contact], *, at: datetime, reason: str) -> None:
    """PostgreSQL: the history rows of contacts whose score changed (all with one reason), copied
    from their rows in one INSERT … SELECT: the same rows bulk_history_create writes, without
    building 100,000 objects in Python."""
    if not contacts:
        return
    history = Contact.history.model
    quote = connection.ops.quote_name
    columns, values, params = [], [], []
    literal = {
        "history_date": at,
        "history_change_reason": reason,
        "history_type": "~",
        "history_user_id": None,
    }
    for field in history._meta.concrete_fields:
        if field.attname == "history_id":
            continue
        columns.append(quote(field.column))
        if field.attname in literal:
            values.append("%s")
            params.append(literal[field.attname])
        else:
            values.append(quote(Contact._meta.get_field(field.name).column))
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {quote(Contact._meta.db_table)} WHERE id = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, [c.pk for c in contacts]])


def _score_changes_copy(rows: list[ScoreChange]) -> None:
    """PostgreSQL: ScoreChange rows through COPY (bulk_create prepares every value in Python)."""
    columns = ("contact_id", "at", "old_score", "new_score", "reason", "breakdown", "became_mql")
    sql = f"COPY {ScoreChange._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                (
                    row.contact_id,
                    row.at,
                    row.old_score,
                    row.new_score,
                    row.reason,
                    json.dumps(row.breakdown),
                    row.became_mql,
                )
            )


# --- The rules: reads and writes for marketing ---------------------------------------------------

RULE_FIELDS = ("name", "kind", "field", "values", "event", "points", "half_life_days", "max_points")


def score_rule_list() -> QuerySet[ScoreRule]:
    return ScoreRule.objects.select_related("created_by").order_by("-active", "kind", "name", "pk")


def contact_score_changes(*, contact: Contact, limit: int = 5) -> list[ScoreChange]:
    """The contact's latest score changes, newest first (the first one explains the score)."""
    return list(contact.score_changes.order_by("-at", "-id")[:limit])


def _check_actor(actor: User) -> None:
    if not can_manage_scoring(actor):
        raise PermissionDenied(_("Tu rol no puede cambiar las reglas de puntuación."))


def _normalise(rule: ScoreRule) -> None:
    """Blank what the other kind of rule uses, and check the values of a profile rule."""
    if rule.kind == ScoreRule.Kind.PROFILE:
        rule.event, rule.half_life_days, rule.max_points = "", None, None
        rule.values = clean_rule_values(rule.field, list(rule.values or []))
    elif rule.kind == ScoreRule.Kind.BEHAVIOUR:
        rule.field, rule.values = "", []
        errors = {}
        if not rule.event:
            errors["event"] = _("Elige el evento que da puntos.")
        if not rule.half_life_days:
            errors["half_life_days"] = _(
                "Indica en cuántos días los puntos de un evento pierden la mitad de su valor."
            )
        if errors:
            raise ValidationError(errors)


def _validate(rule: ScoreRule) -> None:
    _normalise(rule)
    if rule.points == 0:
        raise ValidationError({"points": _("Una regla da o quita puntos: no puede valer 0.")})
    rule.full_clean()


def _audit_detail(rule: ScoreRule) -> dict:
    return {field: getattr(rule, field) for field in (*RULE_FIELDS, "active")}


@transaction.atomic
def score_rule_create(*, actor: User, data: dict) -> ScoreRule:
    _check_actor(actor)
    rule = ScoreRule(created_by=actor, **{k: v for k, v in data.items() if k in RULE_FIELDS})
    _validate(rule)
    rule.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, target=rule, detail=_audit_detail(rule))
    return rule


def score_rule_update(*, actor: User, rule: ScoreRule, data: dict) -> ScoreRule:
    _check_actor(actor)
    return rule_update(
        actor=actor,
        rule=rule,
        data=data,
        fields=(*RULE_FIELDS, "active"),
        validate=_validate,
        detail=_audit_detail,
    )


def score_rule_set_active(*, actor: User, rule: ScoreRule, active: bool) -> ScoreRule:
    """Deactivate (or activate again) a rule; rules are never deleted: the history names them."""
    _check_actor(actor)
    return rule_set_active(actor=actor, rule=rule, active=active)
