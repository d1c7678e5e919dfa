"""Who may change a record, by its owner: the one rule that accounts and contacts share.

Everyone reads the shared portfolio (DESIGN.md §1); a rep edits their own records, a manager
those of the teams they lead (and their own), an administrator all; support and marketing read.
"""

from django.db.models import Q

from crm.core.models import Role, User


def editable_by_owner_q(user: User, owner_field: str = "owner") -> Q:
    if user.is_admin_role:
        return Q()
    if user.role == Role.GERENTE:
        return Q(**{owner_field: user}) | Q(**{f"{owner_field}__team__manager": user})
    if user.role == Role.VENDEDOR:
        return Q(**{owner_field: user})
    return Q(pk__in=[])


def can_create_records(user: User) -> bool:
    return user.is_admin_role or user.role in (Role.VENDEDOR, Role.GERENTE)


def sales_users():
    """The people who own accounts and contacts: active reps and managers."""
    return User.objects.filter(is_active=True, role__in=[Role.VENDEDOR, Role.GERENTE])


def assignable_owners(user: User):
    """The users a record's owner may be set to by `user`."""
    active = sales_users()
    if user.is_admin_role:
        return User.objects.filter(Q(pk=user.pk) | Q(pk__in=active))
    if user.role == Role.GERENTE:
        return active.filter(Q(pk=user.pk) | Q(team__manager=user))
    return User.objects.filter(pk=user.pk)
