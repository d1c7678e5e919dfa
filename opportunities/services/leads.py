"""Lead routing (issue 9): every MQL crossing reaches one rep with a call task, and the rep
accepts it (SQL) or rejects it with a reason (back to lead).

The job (`leads_route`, every minute) reads the contacts that became MQL by their score
(contacts.ScoreChange with became_mql) and have no assignment for that crossing, and routes
each in its own transaction: the account's owner first, then the routing rules in their order
(territory; turns in a team), then the contact's owner or their team's manager, never an
inactive user. The UNIQUE crossing of LeadAssignment makes a second run (or a concurrent one)
route nothing twice; the contact's row lock and the rule's row lock keep two runs from taking
the same turn. Contacts stays unaware of all this (it sits below opportunities): no hook there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from contacts.models import Contact, Lifecycle, ScoreChange
from contacts.services import contact_update
from crm.core.audit import audit
from crm.core.models import AuditEvent, Country, Role, User
from crm.core.rules import rule_set_active, rule_update
from crm.core.text import column_fold
from crm.core.webhooks import webhook_emit
from opportunities.models import (
    Activity,
    ActivityKind,
    LeadAssignment,
    RejectReason,
    RoutingRule,
)
from opportunities.selectors.activities import user_zone
from opportunities.selectors.leads import lead_visible_q, mql_unrouted
from opportunities.services.activities import activity_cancel, activity_plan, site_url

logger = logging.getLogger(__name__)

SALES_ROLES = (Role.VENDEDOR, Role.GERENTE)
WORK_START, WORK_END = time(9), time(18)  # the working day the response time counts in
BATCH = 500  # crossings routed per run at most; the next run takes the rest
TASK_MINUTES = 15
MAX_VALUES = 50
MAX_VALUE_LENGTH = 100
NOTE_MAX = 500


def response_hours() -> int:
    return int(getattr(settings, "LEAD_RESPONSE_HOURS", 4))


def account_owner_first() -> bool:
    """The built-in first rule; LEAD_ROUTE_ACCOUNT_OWNER_FIRST = False in settings turns it off."""
    return bool(getattr(settings, "LEAD_ROUTE_ACCOUNT_OWNER_FIRST", True))


def can_manage_routing(user) -> bool:
    """Administrators and marketing set the routing rules (marketing owns the path to MQL)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_admin_role or user.is_marketing


# --- The due time --------------------------------------------------------------------------------


def working_hours_after(start: datetime, hours: float, zone) -> datetime:
    """`start` plus `hours` of working time (Monday to Friday, 9:00-18:00 in `zone`).

    A lead that arrives on Friday evening is due on Monday morning, not on Saturday night.
    """
    cursor = start.astimezone(zone)
    remaining = timedelta(hours=hours)
    while True:
        day = cursor.date()
        opens = datetime.combine(day, WORK_START, tzinfo=zone)
        closes = datetime.combine(day, WORK_END, tzinfo=zone)
        if day.weekday() >= 5 or cursor >= closes:
            cursor = datetime.combine(day + timedelta(days=1), WORK_START, tzinfo=zone)
            continue
        cursor = max(cursor, opens)
        if remaining <= closes - cursor:
            return cursor + remaining
        remaining -= closes - cursor
        cursor = datetime.combine(day + timedelta(days=1), WORK_START, tzinfo=zone)


# --- Choosing the rep ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    rep: User
    method: str
    rule: RoutingRule | None = None


def _eligible(user: User | None) -> bool:
    return user is not None and user.is_active and user.role in SALES_ROLES


def folded_region(text: str | None) -> str:
    return " ".join(column_fold(text).split())


def rule_matches(rule: RoutingRule, contact: Contact) -> bool:
    if rule.kind == RoutingRule.Kind.ROUND_ROBIN:
        return True
    if not rule.regions and not rule.countries:
        return False
    if rule.regions and folded_region(contact.region) not in rule.regions:
        return False
    return not rule.countries or contact.country in rule.countries


def team_reps(team_id: int):
    """The reps who take turns in a team: its active sellers (role Vendedor), by id."""
    return User.objects.filter(team_id=team_id, is_active=True, role=Role.VENDEDOR).order_by("pk")


def _next_turn(rule: RoutingRule) -> User | None:
    """The team's rep after the last one this rule gave a lead to (wrapping round), with the
    turn moved under the rule's row lock: concurrent runs queue here and each gets the next."""
    locked = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    reps = team_reps(locked.team_id)
    rep = reps.filter(pk__gt=locked.last_assigned_id or 0).first() or reps.first()
    if rep is not None:
        locked.last_assigned = rep
        locked.save(update_fields=["last_assigned"])
    return rep


def choose_rep(contact: Contact, rules: list[RoutingRule]) -> Choice | None:
    """Who gets the lead: the account's owner, the first rule that matches and has someone
    active, the contact's owner, their team's manager; None when nobody can take it."""
    if account_owner_first() and contact.account_id and _eligible(contact.account.owner):
        return Choice(contact.account.owner, LeadAssignment.Method.ACCOUNT_OWNER)
    for rule in rules:
        if not rule.active or not rule_matches(rule, contact):
            continue
        if rule.rep_id:
            if _eligible(rule.rep):
                return Choice(rule.rep, LeadAssignment.Method.RULE, rule)
            continue
        rep = _next_turn(rule)
        if rep is not None:
            return Choice(rep, LeadAssignment.Method.RULE, rule)
    if _eligible(contact.owner):
        return Choice(contact.owner, LeadAssignment.Method.CONTACT_OWNER)
    team = contact.owner.team
    manager = team.manager if team is not None else None
    if _eligible(manager):
        return Choice(manager, LeadAssignment.Method.MANAGER)
    return None


# --- The job -------------------------------------------------------------------------------------


def _active_rules() -> list[RoutingRule]:
    return list(
        RoutingRule.objects.filter(active=True).select_related("rep").order_by("order", "pk")
    )


def _set_owner(contact: Contact, rep: User, reason: str) -> None:
    """The contact's owner becomes the rep, with its history row (no user: the job did it).

    contacts.services.contact_update needs a person allowed to edit the contact; the routing
    job is nobody, so it writes the owner the way the scoring job writes the lifecycle."""
    if contact.owner_id == rep.pk:
        return
    contact.owner = rep
    contact._history_user = None
    contact._change_reason = reason
    contact.save(update_fields=["owner", "updated_at"])
    webhook_emit(
        "contact.updated",
        {
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "owner_id": contact.owner_id,
            "lifecycle": contact.lifecycle,
        },
    )


def _supersede(contact: Contact) -> None:
    """A contact that crossed again while an older assignment was still unanswered: the older
    one is closed (and its call cancelled), the new crossing is the one to answer."""
    older = (
        LeadAssignment.objects.select_for_update(of=("self",))
        .select_related("rep", "task")
        .filter(contact=contact, status=LeadAssignment.Status.PENDING)
    )
    for old in older:
        old.status = LeadAssignment.Status.SUPERSEDED
        old.save(update_fields=["status", "updated_at"])
        if old.task is not None and old.task.status == Activity.Status.PLANNED:
            activity_cancel(actor=old.rep, activity=old.task)


def _route_one(*, contact_id: int, change_id: int, rules: list[RoutingRule], now: datetime):
    """Route one crossing in one transaction; None when it needs nothing (or nobody can)."""
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("account__owner", "owner__team__manager")
        .filter(pk=contact_id, lifecycle=Lifecycle.MQL)
        .first()
    )
    if contact is None or LeadAssignment.objects.filter(score_change_id=change_id).exists():
        return None
    change = ScoreChange.objects.get(pk=change_id)
    choice = choose_rep(contact, rules)
    if choice is None:
        logger.warning("MQL %s: no active rep to route it to", contact_id)
        return None
    _supersede(contact)
    due = working_hours_after(now, response_hours(), user_zone(choice.rep))
    with translation.override(settings.LANGUAGE_CODE):
        method = LeadAssignment.Method(choice.method).label
        reason = _("Lead asignado a %(rep)s (%(method)s)") % {"rep": choice.rep, "method": method}
        assignment = LeadAssignment(
            contact=contact,
            score_change=change,
            mql_at=change.at,
            rep=choice.rep,
            method=choice.method,
            rule=choice.rule,
            assigned_at=now,
            due_at=due,
        )
        assignment.save()
        assignment.task = activity_plan(
            actor=choice.rep,
            kind=ActivityKind.CALL,
            planned_at=due,
            contact=contact,
            subject=_("Llamar al lead %(name)s (MQL, %(score)s puntos)")
            % {"name": contact.full_name, "score": contact.lead_score},
            duration_minutes=TASK_MINUTES,
            notes=_("Acepta el lead (pasa a SQL) o recházalo con un motivo: %(url)s")
            % {"url": site_url() + reverse("opportunities:lead-detail", args=[assignment.pk])},
        )
        assignment.save(update_fields=["task"])
        _set_owner(contact, choice.rep, reason)
    audit(
        actor=None,
        action=AuditEvent.Action.CREATE,
        target=assignment,
        detail={
            "contact": contact.pk,
            "rep": choice.rep.pk,
            "method": choice.method,
            "rule": choice.rule.pk if choice.rule else None,
            "score_change": change_id,
        },
    )
    return assignment


def leads_route(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Route every MQL crossing that has no assignment yet; returns how many were routed.

    One query finds them; each is routed in its own transaction (a failure leaves the others
    routed, and that one for the next run). Running it twice routes each crossing once.
    """
    now = now or timezone.now()
    pending = list(mql_unrouted().values_list("pk", "mql_change_id")[:limit])
    if not pending:
        return 0
    rules = _active_rules()
    routed = 0
    for contact_id, change_id in pending:
        try:
            with transaction.atomic():
                if _route_one(contact_id=contact_id, change_id=change_id, rules=rules, now=now):
                    routed += 1
        except IntegrityError:  # a concurrent run routed this crossing first
            continue
        except (ValidationError, PermissionDenied):  # e.g. the contact was erased meanwhile
            logger.exception("MQL %s not routed", contact_id)
    return routed


# --- The rep's answer ----------------------------------------------------------------------------


def _respondable(*, actor: User, assignment: LeadAssignment) -> LeadAssignment:
    """The assignment, locked, if the actor may answer it (its rep, their manager, an
    administrator) and nobody has yet."""
    locked = (
        LeadAssignment.objects.select_for_update(of=("self",))
        .select_related("contact", "task", "rep")
        .filter(lead_visible_q(actor), pk=assignment.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("No puedes responder a este lead."))
    if locked.status != LeadAssignment.Status.PENDING:
        raise ValidationError(_("Este lead ya tiene respuesta."), code="state")
    return locked


def _answer(assignment: LeadAssignment, *, actor: User, status: str, now: datetime) -> None:
    assignment.status = status
    assignment.responded_at = now
    assignment.responded_by = actor
    assignment.full_clean(exclude=["contact", "score_change", "rep", "rule", "task"])
    assignment.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=assignment,
        detail={
            "status": status,
            "reason": assignment.reject_reason,
            "contact": assignment.contact_id,
        },
    )


@transaction.atomic
def lead_accept(*, actor: User, assignment: LeadAssignment) -> LeadAssignment:
    """The rep takes the lead: the contact becomes SQL (its history says who), the call stays
    in the agenda. A contact already past MQL (made customer meanwhile) keeps its stage."""
    assignment = _respondable(actor=actor, assignment=assignment)
    contact = assignment.contact
    if contact.lifecycle in (Lifecycle.SUBSCRIBER, Lifecycle.LEAD, Lifecycle.MQL):
        contact_update(actor=actor, contact=contact, data={"lifecycle": Lifecycle.SQL})
    _answer(assignment, actor=actor, status=LeadAssignment.Status.ACCEPTED, now=timezone.now())
    return assignment


@transaction.atomic
def lead_reject(
    *, actor: User, assignment: LeadAssignment, reason: str, note: str = ""
) -> LeadAssignment:
    """The rep turns the lead down with a reason: an MQL goes back to lead, the call is
    cancelled. "Otro motivo" needs a note."""
    note = (note or "").strip()
    errors = {}
    if reason not in RejectReason.values:
        errors["reason"] = _("Elige un motivo de la lista.")
    elif reason == RejectReason.OTHER and not note:
        errors["note"] = _("Explica el motivo en la nota.")
    if len(note) > NOTE_MAX:
        errors["note"] = _("La nota tiene como máximo %(n)s caracteres.") % {"n": NOTE_MAX}
    if errors:
        raise ValidationError(errors)
    assignment = _respondable(actor=actor, assignment=assignment)
    contact = assignment.contact
    if contact.lifecycle == Lifecycle.MQL:
        contact_update(actor=actor, contact=contact, data={"lifecycle": Lifecycle.LEAD})
    task = assignment.task
    if task is not None and task.status == Activity.Status.PLANNED:
        activity_cancel(actor=actor, activity=task)
    assignment.reject_reason = reason
    assignment.reject_note = note
    _answer(assignment, actor=actor, status=LeadAssignment.Status.REJECTED, now=timezone.now())
    return assignment


# --- The rules -----------------------------------------------------------------------------------

RULE_FIELDS = ("name", "kind", "regions", "countries", "rep", "team")


def _check_actor(actor: User) -> None:
    if not can_manage_routing(actor):
        raise PermissionDenied(_("Solo los administradores y marketing gestionan el reparto."))


def clean_regions(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        folded = folded_region(value)
        if not folded:
            continue
        if len(folded) > MAX_VALUE_LENGTH:
            raise ValidationError(
                {
                    "regions": _("Cada estado tiene como máximo %(n)s caracteres.")
                    % {"n": MAX_VALUE_LENGTH}
                }
            )
        cleaned.append(folded)
    cleaned = list(dict.fromkeys(cleaned))
    if len(cleaned) > MAX_VALUES:
        raise ValidationError(
            {"regions": _("Como máximo %(n)s estados por regla.") % {"n": MAX_VALUES}}
        )
    return cleaned


def _validate(rule: RoutingRule) -> None:
    """The shape of the rule (the model's check, with the field that is wrong) and its target
    (an active seller; a team that has some)."""
    errors: dict[str, str] = {}
    rule.regions = clean_regions(list(rule.regions or []))
    rule.countries = list(dict.fromkeys(rule.countries or []))
    if any(code not in Country.values for code in rule.countries):
        errors["countries"] = _("Elige países de la lista.")
    if rule.kind == RoutingRule.Kind.ROUND_ROBIN:
        rule.regions, rule.countries, rule.rep = [], [], None
        if rule.team_id is None:
            errors["team"] = _("Elige el equipo cuyos vendedores se turnan.")
    elif rule.kind == RoutingRule.Kind.TERRITORY:
        if not rule.regions and not rule.countries:
            errors["regions"] = _("Indica al menos un estado o un país.")
        if (rule.rep_id is None) == (rule.team_id is None):
            errors["rep"] = _("Elige un vendedor o un equipo, uno de los dos.")
    if rule.rep_id is not None and not _eligible(rule.rep):
        errors["rep"] = _("Elige un vendedor activo.")
    if rule.team_id is not None and "team" not in errors and not team_reps(rule.team_id).exists():
        errors["team"] = _("Ese equipo no tiene vendedores activos.")
    if errors:
        raise ValidationError(errors)
    rule.full_clean()


def _audit_detail(rule: RoutingRule) -> dict:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "regions": rule.regions,
        "countries": rule.countries,
        "rep": rule.rep_id,
        "team": rule.team_id,
        "order": rule.order,
        "active": rule.active,
    }


@transaction.atomic
def routing_rule_create(*, actor: User, data: dict) -> RoutingRule:
    """A new rule, last in the order."""
    _check_actor(actor)
    rule = RoutingRule(created_by=actor, **{k: v for k, v in data.items() if k in RULE_FIELDS})
    last = RoutingRule.objects.aggregate(last=Max("order"))["last"]
    rule.order = 10 if last is None else last + 10
    _validate(rule)
    rule.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, target=rule, detail=_audit_detail(rule))
    return rule


def routing_rule_update(*, actor: User, rule: RoutingRule, data: dict) -> RoutingRule:
    _check_actor(actor)
    return rule_update(
        actor=actor,
        rule=rule,
        data=data,
        fields=(*RULE_FIELDS, "active"),
        validate=_validate,
        detail=_audit_detail,
    )


def routing_rule_set_active(*, actor: User, rule: RoutingRule, active: bool) -> RoutingRule:
    """Deactivate (or activate again); rules are kept: the assignments name them."""
    _check_actor(actor)
    return rule_set_active(actor=actor, rule=rule, active=active)


@transaction.atomic
def routing_rule_move(*, actor: User, rule: RoutingRule, up: bool) -> RoutingRule:
    """One place up or down; the order is renumbered 10, 20, 30… under the rules' locks."""
    _check_actor(actor)
    rules = list(RoutingRule.objects.select_for_update().order_by("order", "pk"))
    index = next((i for i, r in enumerate(rules) if r.pk == rule.pk), None)
    if index is None:
        raise RoutingRule.DoesNotExist
    other = index - 1 if up else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    for position, each in enumerate(rules, start=1):
        if each.order != position * 10:
            each.order = position * 10
            each.save(update_fields=["order", "updated_at"])
    moved = rules[other] if 0 <= other < len(rules) else rules[index]
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=moved,
        detail={"order": moved.order},
    )
    return moved
