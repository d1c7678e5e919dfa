"""Adjustments (note required, history kept, only the rep's manager) and quotas."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from opportunities.models import ForecastAdjustment, Quota
from opportunities.selectors.forecast import Period
from opportunities.services.forecast import forecast_adjust, quota_set, quotas_set

pytestmark = pytest.mark.django_db

Q4 = Period("quarter", 2026, 4)


def test_manager_adjusts_a_rep_and_every_adjustment_is_kept(manager, rep):
    first = forecast_adjust(
        actor=manager, owner=rep, period=Q4, amount=Decimal("500000"), note="Cliente grande"
    )
    second = forecast_adjust(
        actor=manager, owner=rep, period=Q4, amount=Decimal("450000"), note="  Se retrasa  "
    )
    assert (first.period_start, first.period_end) == (date(2026, 10, 1), date(2026, 12, 31))
    assert second.note == "Se retrasa"
    assert second.by == manager
    assert list(ForecastAdjustment.objects.values_list("amount", flat=True)) == [
        Decimal("450000"),
        Decimal("500000"),
    ]


@pytest.mark.parametrize("note", ["", "   "])
def test_the_note_is_required(manager, rep, note):
    with pytest.raises(ValidationError) as error:
        forecast_adjust(actor=manager, owner=rep, period=Q4, amount=Decimal("1"), note=note)
    assert "note" in error.value.message_dict
    assert not ForecastAdjustment.objects.exists()


def test_a_negative_adjustment_is_refused(manager, rep):
    with pytest.raises(ValidationError):
        forecast_adjust(actor=manager, owner=rep, period=Q4, amount=Decimal("-1"), note="x")
    assert not ForecastAdjustment.objects.exists()


def test_only_the_reps_manager_or_an_admin_adjusts(manager, rep, other_rep, admin_user):
    other_manager = UserFactory(role=Role.GERENTE)
    for actor, owner in (
        (rep, rep),  # a rep, not even their own
        (manager, other_rep),  # another team's rep
        (other_manager, rep),  # a manager of no team of rep's
        (manager, manager),  # nobody adjusts themselves
    ):
        with pytest.raises(PermissionDenied):
            forecast_adjust(actor=actor, owner=owner, period=Q4, amount=Decimal("1"), note="x")
    assert not ForecastAdjustment.objects.exists()
    forecast_adjust(actor=admin_user, owner=other_rep, period=Q4, amount=Decimal("1"), note="x")
    assert ForecastAdjustment.objects.count() == 1


def test_manager_sets_changes_and_removes_quotas_of_the_team(manager, rep):
    quota = quota_set(actor=manager, owner=rep, month=date(2026, 10, 15), amount=Decimal("100"))
    assert (quota.month, quota.amount, quota.set_by) == (date(2026, 10, 1), Decimal("100"), manager)
    changed = quotas_set(
        actor=manager,
        amounts={
            (rep.pk, date(2026, 10, 1)): Decimal("120"),
            (rep.pk, date(2026, 11, 1)): Decimal("130"),
            (rep.pk, date(2026, 12, 1)): None,
        },
    )
    assert changed == 2
    assert dict(Quota.objects.values_list("month", "amount")) == {
        date(2026, 10, 1): Decimal("120"),
        date(2026, 11, 1): Decimal("130"),
    }
    assert quota_set(actor=manager, owner=rep, month=date(2026, 11, 1), amount=None) is None
    assert Quota.objects.count() == 1


def test_quotas_only_for_the_managers_team_and_all_or_nothing(manager, rep, other_rep):
    with pytest.raises(PermissionDenied):
        quotas_set(
            actor=manager,
            amounts={
                (rep.pk, date(2026, 10, 1)): Decimal("1"),
                (other_rep.pk, date(2026, 10, 1)): Decimal("1"),
            },
        )
    with pytest.raises(PermissionDenied):
        quota_set(actor=rep, owner=rep, month=date(2026, 10, 1), amount=Decimal("1"))
    with pytest.raises(ValidationError):
        quota_set(actor=manager, owner=rep, month=date(2026, 10, 1), amount=Decimal("-5"))
    assert not Quota.objects.exists()
