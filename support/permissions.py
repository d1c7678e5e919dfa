"""Who sees and works which tickets (DESIGN.md §1), in one place.

Support and administrators see and work every ticket. A rep reads the tickets of the accounts
they own and may open one for such a customer; a manager reads those of their team's accounts
(and opens one for them) but does not change a ticket's internals. Marketing reads no ticket.
"""

from django.db.models import Q

from crm.core.models import Role, User


def can_work_tickets(user: User) -> bool:
    """Change status, priority and assignee, reply and write internal notes."""
    return user.is_admin_role or user.role == Role.SOPORTE


def can_see_tickets(user: User) -> bool:
    return can_work_tickets(user) or user.role in (Role.VENDEDOR, Role.GERENTE)


def ticket_visible_q(user: User, prefix: str = "") -> Q:
    if can_work_tickets(user):
        return Q()
    owner = f"{prefix}account__owner"
    if user.role == Role.GERENTE:
        return Q(**{owner: user}) | Q(**{f"{owner}__team__manager": user})
    if user.role == Role.VENDEDOR:
        return Q(**{owner: user})
    return Q(pk__in=[])


def account_ticketable_q(user: User) -> Q:
    """The accounts `user` may open a ticket for (a Q over accounts.Account)."""
    if can_work_tickets(user):
        return Q()
    if user.role == Role.GERENTE:
        return Q(owner=user) | Q(owner__team__manager=user)
    if user.role == Role.VENDEDOR:
        return Q(owner=user)
    return Q(pk__in=[])


def can_open_tickets(user: User) -> bool:
    return can_see_tickets(user)


def support_agents():
    """The people a ticket may be assigned to."""
    return User.objects.filter(is_active=True, role__in=[Role.SOPORTE, Role.ADMINISTRADOR])
