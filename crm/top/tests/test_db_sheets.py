"""A record read for its page by its key runs as a prepared statement on PostgreSQL
(crm.core.db.get_prepared): each sheet's read gives every role what the ORM's own `get` gives,
the same record with the same related objects, annotations and prefetched tags, or the same
DoesNotExist."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import account_detail
from accounts.tests.factories import AccountFactory
from contacts.models import Contact
from contacts.selectors import contact_detail
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.models import Activity, LeadAssignment, Opportunity
from opportunities.selectors.activities import activity_detail
from opportunities.selectors.leads import lead_detail
from opportunities.selectors.pipeline import opportunity_detail
from opportunities.tests.factories import (
    ActivityFactory,
    LeadAssignmentFactory,
    OpportunityFactory,
)
from support.models import Ticket
from support.selectors.tickets import ticket_visible
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)

# sheet → (its read, its model)
SHEETS = {
    "account": (account_detail, Account),
    "contact": (contact_detail, Contact),
    "opportunity": (opportunity_detail, Opportunity),
    "activity": (activity_detail, Activity),
    "lead": (lead_detail, LeadAssignment),
    "ticket": (ticket_visible, Ticket),
}


@pytest.fixture
def world():
    """Two teams' reps with a record of each kind, their manager, support, marketing, admin."""
    team = TeamFactory()
    manager = UserFactory(role=Role.GERENTE, team=team)
    team.manager = manager
    team.save()
    rep = UserFactory(team=team)
    users = {
        "rep": rep,
        "teammate": UserFactory(team=team),
        "other rep": UserFactory(team=TeamFactory()),
        "manager": manager,
        "support": UserFactory(role=Role.SOPORTE),
        "marketing": UserFactory(role=Role.MARKETING),
        "admin": UserFactory(role=Role.ADMINISTRADOR, is_staff=True, is_superuser=True),
    }
    account = AccountFactory(owner=rep)
    account.tags.add("distribuidor", "norte")
    contact = ContactFactory(owner=rep, account=account)
    contact.tags.add("feria 2026")
    opportunity = OpportunityFactory(owner=rep, account=account, contact=contact)
    records = {
        "account": account,
        "contact": contact,
        "opportunity": opportunity,
        "activity": ActivityFactory(
            owner=rep,
            account=account,
            contact=contact,
            opportunity=opportunity,
            status=Activity.Status.DONE,
            done_at=timezone.now(),
        ),
        "lead": LeadAssignmentFactory(rep=rep),
        "ticket": TicketFactory(account=account, contact=contact, assignee=users["support"]),
    }
    return users, records


def _snapshot(obj, depth: int = 0) -> dict:
    """The record's columns and annotations, with its related objects and prefetched rows."""
    if obj is None:
        return {}
    found = {key: value for key, value in vars(obj).items() if not key.startswith("_")}
    for name, related in obj._state.fields_cache.items():
        found[f"→{name}"] = _snapshot(related, depth + 1) if depth < 3 else related.pk
    for name, rows in getattr(obj, "_prefetched_objects_cache", {}).items():
        found[f"⇉{name}"] = sorted(row.pk for row in rows)
    return found


def _read(sheet: str, user, pk):
    read, model = SHEETS[sheet]
    try:
        return _snapshot(read(user=user, pk=pk))
    except model.DoesNotExist:
        return "DoesNotExist"


@pytest.mark.parametrize("sheet", sorted(SHEETS))
def test_each_sheet_reads_for_every_role_what_the_orm_reads(world, sheet, settings):
    users, records = world
    pk = records[sheet].pk
    answers = {}
    for role, user in users.items():
        prepared_read = _read(sheet, user, pk)
        settings.DB_PREPARED_STATEMENTS = False
        planned_read = _read(sheet, user, pk)
        settings.DB_PREPARED_STATEMENTS = True
        assert prepared_read == planned_read, role
        answers[role] = prepared_read
    # The comparison means something: the owner sees the record, with what its page shows.
    assert answers["rep"] != "DoesNotExist"
    assert any(key.startswith("→") for key in answers["rep"])
    # A key no record has is DoesNotExist both ways.
    assert _read(sheet, users["admin"], 10**9) == "DoesNotExist"


@pytest.mark.parametrize("sheet", sorted(SHEETS))
def test_a_key_beyond_any_id_is_not_found(world, sheet):
    """Django drops a lookup outside the column's range before any SQL (no bigint holds it):
    a 404, not a database error, prepared or not."""
    users, _records = world
    assert _read(sheet, users["admin"], 2**70) == "DoesNotExist"


@pytest.mark.parametrize(
    "url_name",
    [
        "support:ticket-detail",
        "accounts:account-detail",
        "contacts:contact-detail",
        "opportunities:opportunity-detail",
    ],
)
def test_a_sheet_for_a_key_beyond_any_id_answers_404(client, world, url_name):
    users, _records = world
    client.force_login(users["support"] if url_name.startswith("support") else users["rep"])
    assert client.get(reverse(url_name, args=[2**70])).status_code == 404


@postgres_only
@pytest.mark.parametrize("sheet", sorted(SHEETS))
def test_each_sheet_runs_its_read_prepared(world, sheet):
    users, records = world
    read, model = SHEETS[sheet]

    def runs() -> int:
        """Runs of this connection's prepared statements that read the sheet's table by its
        key (a query bound on the client is not listed at all)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(generic_plans + custom_plans), 0)"
                " FROM pg_prepared_statements WHERE statement LIKE %s AND statement LIKE %s",
                [f'SELECT "{model._meta.db_table}"."id"%', f'%"{model._meta.db_table}"."id" = $%'],
            )
            return cursor.fetchone()[0]

    before = runs()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            read(user=users["rep"], pk=records[sheet].pk)
    assert runs() - before == 3
    assert all(query["sql"] for query in queries.captured_queries)  # logged as any query
