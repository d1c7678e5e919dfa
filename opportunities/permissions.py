"""Who sees which opportunities and activities (DESIGN.md §1), in one place.

A rep sees and changes only their own; a manager those of the teams they lead and their own;
an administrator all. Support reads every activity (the customer's history) but no
opportunity or amount; marketing neither.
"""

from django.db.models import Q

from crm.core.models import Role, User


def _by_owner_q(user: User, owner_field: str = "owner") -> Q:
    if user.is_admin_role:
        return Q()
    if user.role == Role.GERENTE:
        return Q(**{owner_field: user}) | Q(**{f"{owner_field}__team__manager": user})
    if user.role == Role.VENDEDOR:
        return Q(**{owner_field: user})
    return Q(pk__in=[])


def opportunity_visible_q(user: User) -> Q:
    return _by_owner_q(user)


def opportunity_editable_q(user: User) -> Q:
    return _by_owner_q(user)


def activity_visible_q(user: User) -> Q:
    if user.role == Role.SOPORTE:
        return Q()
    return _by_owner_q(user)


def can_see_activities(user: User) -> bool:
    """Sellers (their own), support (the customer's history) and administrators."""
    return can_sell(user) or user.role == Role.SOPORTE


def can_log_calls(user: User) -> bool:
    """Whoever answers a customer's phone logs the call: sellers, and support (¿Quién llama?)."""
    return can_sell(user) or user.role == Role.SOPORTE


def activity_editable_q(user: User) -> Q:
    return _by_owner_q(user)


def can_sell(user: User) -> bool:
    """Reps, managers and administrators work opportunities and plan activities."""
    return user.is_admin_role or user.role in (Role.VENDEDOR, Role.GERENTE)


def can_manage_team(user: User) -> bool:
    """Managers and administrators: forecasts of others, quotas, adjustments, analytics."""
    return user.is_admin_role or user.role == Role.GERENTE


def team_members(user: User):
    """The reps whose forecast `user` may read: themselves, their teams' members, or all."""
    sellers = User.objects.filter(is_active=True, role__in=[Role.VENDEDOR, Role.GERENTE])
    if user.is_admin_role:
        return sellers
    if user.role == Role.GERENTE:
        return sellers.filter(Q(pk=user.pk) | Q(team__manager=user))
    return sellers.filter(pk=user.pk)
