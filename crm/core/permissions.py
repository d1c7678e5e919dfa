"""Who may change a record, by its owner: the one rule that accounts and contacts share.

Everyone reads the shared portfolio (DESIGN.md §1); a rep edits their own records, a manager
those of the teams they lead (and their own), an administrator all; support and marketing read.
"""

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from crm.core.models import Role, User

logger = logging.getLogger(__name__)


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


# The owner filter of every list offers the sales users by name, on every page and keystroke:
# their names are kept in the cache (Redis: one GET instead of a query), forgotten whenever a
# user is saved or deleted (crm.core.apps), and at the latest after SALES_NAMES_SECONDS for a
# change made without signals (an update() or the database by hand). A cache that does not
# answer (Redis down) costs the query again, never the page.
SALES_NAMES_KEY = "crm:sales-user-names"
SALES_NAMES_SECONDS = 5 * 60


def sales_user_names() -> list[tuple[int, str]]:
    """(pk, name) of `sales_users()`, in the users' order (names, then user name)."""
    try:
        names = cache.get(SALES_NAMES_KEY)
    except Exception:  # noqa: BLE001 - Redis unreachable: read the users
        logger.warning("Nombres de vendedores leídos sin caché: no responde", exc_info=True)
        names = None
    if names is not None:
        return names
    rows = sales_users().values_list("pk", "first_name", "last_name", "username")
    names = [(pk, User.name_of(first, last, username)) for pk, first, last, username in rows]
    try:
        cache.set(SALES_NAMES_KEY, names, SALES_NAMES_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("Nombres de vendedores no guardados en la caché", exc_info=True)
    return names


# What a user's name in the filter, and whether they are in it, is made of: a save of other
# columns only (update_fields: the last login at each sign-in) keeps the names.
SALES_NAMES_FIELDS = frozenset({"first_name", "last_name", "username", "is_active", "role"})


def forget_sales_user_names(update_fields=None, **kwargs) -> None:
    """A user saved or deleted (post_save, post_delete): the names are read again. Forgotten
    now and once more when the transaction commits, so that a page drawn in between (which
    still read the old names) does not keep them for SALES_NAMES_SECONDS."""
    if update_fields is not None and not SALES_NAMES_FIELDS & set(update_fields):
        return
    _forget_sales_user_names()
    transaction.on_commit(_forget_sales_user_names)


def _forget_sales_user_names() -> None:
    try:
        cache.delete(SALES_NAMES_KEY)
    except Exception:  # noqa: BLE001 - its copy expires within SALES_NAMES_SECONDS
        logger.warning("Nombres de vendedores no borrados de la caché", exc_info=True)


def assignable_owners(user: User):
    """The users a record's owner may be set to by `user`."""
    active = sales_users()
    if user.is_admin_role:
        return User.objects.filter(Q(pk=user.pk) | Q(pk__in=active))
    if user.role == Role.GERENTE:
        return active.filter(Q(pk=user.pk) | Q(team__manager=user))
    return User.objects.filter(pk=user.pk)


# Exports (DESIGN.md §1: a rep never exports the whole database). Per list, the roles that may
# export it and which rows: ALL, every row the list shows them; PORTFOLIO, only the records they
# own (a manager: also those of the teams they lead), even where they read more on screen.
ALL, PORTFOLIO = "all", "portfolio"
_SELLERS = {Role.VENDEDOR: PORTFOLIO, Role.GERENTE: PORTFOLIO}
EXPORT_SCOPES: dict[str, dict[str, str]] = {
    "accounts": {**_SELLERS, Role.ADMINISTRADOR: ALL},
    "contacts": {**_SELLERS, Role.MARKETING: ALL, Role.ADMINISTRADOR: ALL},
    "opportunities": {**_SELLERS, Role.ADMINISTRADOR: ALL},
    "activities": {**_SELLERS, Role.ADMINISTRADOR: ALL},
    "tickets": {**_SELLERS, Role.SOPORTE: ALL, Role.ADMINISTRADOR: ALL},
    # Figures per campaign, no customer's data: whoever reads the results.
    "campaign_results": {Role.MARKETING: ALL, Role.GERENTE: ALL, Role.ADMINISTRADOR: ALL},
}


def export_scope(user: User, name: str) -> str | None:
    """ALL, PORTFOLIO, or None when `user` may not export the list `name`."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_admin_role:
        return ALL
    return EXPORT_SCOPES.get(name, {}).get(user.role)


def can_export(user: User, name: str) -> bool:
    return export_scope(user, name) is not None


def export_scope_q(user: User, name: str, owner_field: str = "owner") -> Q:
    """The rows of list `name` that `user` may export (on top of what the list shows them)."""
    scope = export_scope(user, name)
    if scope == ALL:
        return Q()
    if scope == PORTFOLIO:
        return editable_by_owner_q(user, owner_field)
    return Q(pk__in=[])
