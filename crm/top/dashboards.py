"""What each role's home page shows (later issues add their own figures).

Every figure is an aggregate or a bounded list, so the home costs the same number of queries
whatever the size of the portfolio.
"""

from itertools import chain

from accounts.models import Account
from campaigns.selectors.dashboard import marketing_home
from contacts.models import Contact
from crm.core.models import Role, User
from opportunities.money import Rates
from opportunities.permissions import can_manage_team, can_sell
from opportunities.selectors.activities import agenda_today, visits_pending
from opportunities.selectors.analytics import team_activity_week
from opportunities.selectors.forecast import current_quarter, forecast_for, pipeline_by_stage
from support.permissions import can_work_tickets
from support.selectors.dashboard import support_home as support_queue_counts


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
        **sales_home(user=user),
        **support_home(user=user),
        **marketing_home(user=user),
    }


def sales_home(*, user: User) -> dict:
    """The sales figures of the home: a rep's pipeline and quarter, a manager's team quarter.

    Support and marketing see no amounts (DESIGN.md §1): they get nothing from here.
    """
    if not can_sell(user):
        return {}
    rates = Rates()
    quarter = current_quarter()
    forecast = forecast_for(user=user, period=quarter, rates=rates)
    if can_manage_team(user):
        activity = team_activity_week(user=user)
        return {
            "sales_role": "manager",
            "quarter": quarter,
            "team_forecast": forecast,
            "team_rows": [
                (row, activity["by_owner"].get(row.owner.pk, 0)) for row in forecast.rows
            ],
            "team_activity": activity,
        }
    return {
        "sales_role": "rep",
        "quarter": quarter,
        "my_quarter": forecast.row_for(user.pk),
        "my_pipeline": pipeline_by_stage(user=user, rates=rates),
        "agenda_today": agenda_today(user=user),
        "visits_pending": visits_pending(user=user, limit=5),
    }


def support_home(*, user: User) -> dict:
    """The support figures of the home: the backlog, my queue and what is breached (support
    agents and administrators, who work tickets); nothing for the other roles."""
    if not can_work_tickets(user):
        return {}
    return {"support_queues": support_queue_counts(user=user)}


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
