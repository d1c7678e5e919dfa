"""Writes of the forecast: a manager's adjustment with its note, and the reps' quotas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.core.models import User
from opportunities.models import ForecastAdjustment, Quota
from opportunities.selectors.forecast import Period, manageable_reps


def _check_manages(*, actor: User, owner: User) -> None:
    """Only the manager of the rep's team (or an administrator); nobody adjusts themselves."""
    if not manageable_reps(user=actor).filter(pk=owner.pk).exists():
        raise PermissionDenied(_("No puedes cambiar la previsión ni la cuota de este vendedor."))


@transaction.atomic
def forecast_adjust(
    *, actor: User, owner: User, period: Period, amount: Decimal, note: str
) -> ForecastAdjustment:
    """Record the manager's figure for a rep's period; earlier adjustments stay as history."""
    _check_manages(actor=actor, owner=owner)
    note = (note or "").strip()
    errors = {}
    if not note:
        errors["note"] = _("Explica el ajuste en una nota.")
    if amount is None or amount < 0:
        errors["amount"] = _("La previsión ajustada no puede ser negativa.")
    if errors:
        raise ValidationError(errors)
    adjustment = ForecastAdjustment(
        owner=owner,
        period_start=period.start,
        period_end=period.end,
        amount=amount,
        note=note,
        by=actor,
    )
    adjustment.full_clean()
    adjustment.save()
    return adjustment


@transaction.atomic
def quota_set(*, actor: User, owner: User, month: date, amount: Decimal | None) -> Quota | None:
    """Set (or, with no amount, remove) a rep's quota for one month."""
    _check_manages(actor=actor, owner=owner)
    quotas_set(actor=actor, amounts={(owner.pk, month): amount})
    if amount is None:
        return None
    return Quota.objects.get(owner=owner, month=month.replace(day=1))


@transaction.atomic
def quotas_set(*, actor: User, amounts: dict[tuple[int, date], Decimal | None]) -> int:
    """Set many quotas at once (the yearly grid); an empty amount removes the quota.

    All or nothing: one rep outside the actor's teams refuses the whole grid. Returns how many
    rows changed.
    """
    owner_ids = {owner_id for owner_id, _month in amounts}
    allowed = set(manageable_reps(user=actor).filter(pk__in=owner_ids).values_list("pk", flat=True))
    if owner_ids - allowed:
        raise PermissionDenied(_("No puedes cambiar la previsión ni la cuota de este vendedor."))
    for (_owner, _month), amount in amounts.items():
        if amount is not None and amount < 0:
            raise ValidationError(_("Una cuota no puede ser negativa."))
    months = {month.replace(day=1) for _owner, month in amounts}
    existing = {
        (quota.owner_id, quota.month): quota
        for quota in Quota.objects.select_for_update().filter(
            owner_id__in=owner_ids, month__in=months
        )
    }
    to_create, to_update, to_delete = [], [], []
    for (owner_id, month), amount in amounts.items():
        month = month.replace(day=1)
        quota = existing.get((owner_id, month))
        if amount is None:
            if quota:
                to_delete.append(quota.pk)
        elif quota is None:
            to_create.append(Quota(owner_id=owner_id, month=month, amount=amount, set_by=actor))
        elif quota.amount != amount:
            quota.amount = amount
            quota.set_by = actor
            to_update.append(quota)
    Quota.objects.bulk_create(to_create)
    Quota.objects.bulk_update(to_update, ["amount", "set_by"])
    Quota.objects.filter(pk__in=to_delete).delete()
    return len(to_create) + len(to_update) + len(to_delete)
