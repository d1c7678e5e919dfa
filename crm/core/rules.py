"""The shared writes of the rules users keep in order (marketing's score rules, the lead
routing rules): edit under the row's lock, and switch on or off. Rules are never deleted: the
history and the assignments name them. Each app checks who may act before calling these."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import models, transaction

from crm.core.audit import audit
from crm.core.models import AuditEvent, User


@transaction.atomic
def rule_update(
    *,
    actor: User,
    rule: models.Model,
    data: dict,
    fields: Iterable[str],
    validate: Callable[[models.Model], None],
    detail: Callable[[models.Model], dict],
):
    """Set the given `fields` of `data` on the locked row, validate, save and audit."""
    rule = type(rule).objects.select_for_update().get(pk=rule.pk)
    allowed = set(fields)
    for field, value in data.items():
        if field in allowed:
            setattr(rule, field, value)
    validate(rule)
    rule.save()
    audit(actor=actor, action=AuditEvent.Action.UPDATE, target=rule, detail=detail(rule))
    return rule


@transaction.atomic
def rule_set_active(*, actor: User, rule: models.Model, active: bool):
    """Deactivate (or activate again) a rule; audited only when it changes."""
    rule = type(rule).objects.select_for_update().get(pk=rule.pk)
    if rule.active != active:
        rule.active = active
        rule.save(update_fields=["active", "updated_at"])
        audit(actor=actor, action=AuditEvent.Action.UPDATE, target=rule, detail={"active": active})
    return rule
