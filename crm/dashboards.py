"""What each role's home page shows (later issues add their own figures)."""

from itertools import chain

from accounts.models import Account
from contacts.models import Contact
from crm.models import Role, User


def home_for(*, user: User) -> dict:
    if user.role == Role.GERENTE:
        scope = {"owner__team__manager": user}
        scope_label = "team"
    elif user.role == Role.VENDEDOR:
        scope = {"owner": user}
        scope_label = "mine"
    else:
        scope = {}
        scope_label = "all"
    accounts = Account.objects.filter(archived_at__isnull=True, **scope)
    contacts = Contact.objects.filter(archived_at__isnull=True, **scope)
    return {
        "scope": scope_label,
        "accounts_count": accounts.count(),
        "contacts_count": contacts.count(),
        "accounts_active": accounts.filter(status="activo").count(),
        "leads_count": contacts.filter(lifecycle__in=["lead", "mql", "sql"]).count(),
        "recent_changes": recent_changes(scope=scope),
    }


def recent_changes(*, scope: dict, limit: int = 10) -> list:
    """The latest changes to the accounts and contacts in scope, newest first."""
    accounts = (
        Account.history.filter(**scope)
        .select_related("history_user")
        .order_by("-history_date")[:limit]
    )
    contacts = (
        Contact.history.filter(**scope)
        .select_related("history_user")
        .order_by("-history_date")[:limit]
    )
    merged = sorted(chain(accounts, contacts), key=lambda r: r.history_date, reverse=True)
    return merged[:limit]
