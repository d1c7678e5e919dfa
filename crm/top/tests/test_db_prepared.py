"""The rows of a list's page: run as prepared statements on PostgreSQL, and read by SQL compiled
once per process (crm.core.db)."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from contacts import selectors
from contacts.models import Consent, Contact
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.db import KeptRows, prepared
from crm.core.forms_utils import paginate
from crm.core.models import Role
from crm.core.tests.factories import UserFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


def _statements() -> dict[str, tuple[str, str]]:
    """The statements this connection has prepared: name → (its text, its parameters' types)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement, parameter_types::text FROM pg_prepared_statements")
        return {name: (text, types) for name, text, types in cursor.fetchall()}


def _page(user, number: int, per_page: int = 3):
    request = RequestFactory().get("/", {"page": number})
    return paginate(
        request,
        selectors.contact_filtered(user=user, filters={}),
        per_page,
        rows=selectors.contact_page_rows(user=user),
    )


def _contacts(owner, ids):
    """Contacts with these ids, named in their order (the list sorts by name)."""
    for position, pk in enumerate(ids):
        ContactFactory(pk=pk, owner=owner, last_name=f"Apellido{position:02d}", account=None)


ROWS_SQL = 'SELECT "contacts_contact"."id" AS "pk", "contacts_contact"."first_name"'


def _rows_statements() -> list[list[str]]:
    """The parameters' types of each statement prepared for the list's rows (the connection
    outlives the test: an earlier test may have prepared them already)."""
    return sorted(
        types.strip("{}").split(",")
        for text, types in _statements().values()
        if text.startswith(ROWS_SQL)
    )


@postgres_only
@pytest.mark.django_db
def test_every_page_of_the_contact_list_reads_its_rows_with_one_prepared_statement():
    """Small ids and large ones on the same page, and other full pages, use one statement:
    whole numbers go as bigint (psycopg would send int2 or int4 by their size, and prepare a
    statement per combination)."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    _contacts(admin, [7, 40_000, 12, 3_000_000_000, 25, 70_000, 31])

    pages = [[row.pk for row in _page(admin, number)] for number in (1, 2, 1)]

    assert pages == [[7, 40_000, 12], [3_000_000_000, 25, 70_000], [7, 40_000, 12]]
    # The consent's channel, the tags' content type, the page's 3 ids.
    assert [types for types in _rows_statements() if len(types) == 5] == [["text"] + ["bigint"] * 4]
    # A shorter last page is a query of its own: one more statement.
    assert [row.pk for row in _page(admin, 3)] == [31]
    assert [types for types in _rows_statements() if len(types) == 3] == [["text"] + ["bigint"] * 2]


@postgres_only
@pytest.mark.django_db
def test_a_prepared_page_reads_the_same_rows_as_a_planned_one(settings):
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory.create_batch(4, owner=admin)
    ContactFactory(owner=admin, archived_at=None, email="")

    prepared_rows = [tuple(row) for number in (1, 2) for row in _page(admin, number)]
    settings.DB_PREPARED_STATEMENTS = False
    planned_rows = [tuple(row) for number in (1, 2) for row in _page(admin, number)]

    assert prepared_rows == planned_rows and len(prepared_rows) == 5


@postgres_only
@pytest.mark.django_db
def test_prepared_queries_are_still_counted(django_assert_num_queries):
    """Through Django's own cursor wrapper: the query-count tests see them."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory.create_batch(3, owner=admin)
    _page(admin, 1)

    with django_assert_num_queries(2):  # the page's ids, then its rows
        _page(admin, 1)


@postgres_only
@pytest.mark.django_db
def test_only_the_queries_within_are_prepared():
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory(owner=admin)
    with prepared():
        list(Contact.objects.filter(pk__in=[1, 2]).values_list("pk"))
    before = set(_statements())

    list(Contact.objects.filter(pk__in=[3, 4, 5]).values_list("pk"))
    Contact.objects.filter(owner=admin).count()

    assert set(_statements()) == before


@pytest.mark.django_db
def test_the_cursor_is_put_back_when_a_query_within_fails():
    with pytest.raises(ZeroDivisionError), prepared():
        list(Contact.objects.values_list("pk")[:1])
        1 / 0  # noqa: B018 - fails inside the block

    factory = getattr(connection.connection, "cursor_factory", None)
    assert factory is None or factory.__name__ != "PreparingCursor"


@pytest.mark.django_db
def test_nothing_is_prepared_when_switched_off(settings):
    settings.DB_PREPARED_STATEMENTS = False
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory.create_batch(2, owner=admin)
    before = set(_statements()) if connection.vendor == "postgresql" else set()

    rows = list(_page(admin, 1))

    assert len(rows) == 2
    if connection.vendor == "postgresql":
        assert set(_statements()) == before


def _variety(owner) -> list[Contact]:
    """Rows that differ in every way the list's row can: tags, consent, no account, archived."""
    tagged = ContactFactory(owner=owner, tags=["feria", "vip"])
    ConsentFactory(contact=tagged)
    withdrawn = ContactFactory(owner=owner, job_title="", mobile="")
    ConsentFactory(contact=withdrawn, action=Consent.Action.WITHDRAW)
    alone = ContactFactory(owner=owner, account=None, email="", phone="")
    archived = ContactFactory(owner=UserFactory(first_name="", last_name=""), lead_score=87)
    Contact.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    return [tagged, withdrawn, alone, archived]


@pytest.mark.django_db
def test_kept_rows_are_the_rows_the_orm_reads():
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ids = [contact.pk for contact in reversed(_variety(admin))]
    kept = KeptRows(selectors.contact_list_rows(user=admin))

    rows = kept.by_ids(ids)

    by_orm = {row.pk: row for row in selectors.contact_list_rows(user=admin).filter(pk__in=ids)}
    assert sorted(rows) == sorted(by_orm.values())
    assert {row.pk: row._asdict() for row in rows} == {
        pk: row._asdict() for pk, row in by_orm.items()
    }
    assert kept.by_ids([]) == []
    assert kept.queryset._result_cache is None  # copies are read, never the kept query


@pytest.mark.django_db
def test_kept_rows_compile_once_for_each_number_of_ids(monkeypatch):
    admin = UserFactory(role=Role.ADMINISTRADOR)
    contacts = ContactFactory.create_batch(5, owner=admin)
    kept = KeptRows(selectors.contact_list_rows(user=admin))
    compiled = []
    compile_ = kept._compile
    monkeypatch.setattr(kept, "_compile", lambda *args: compiled.append(args) or compile_(*args))

    first = kept.by_ids([c.pk for c in contacts[:3]])
    second = kept.by_ids([c.pk for c in contacts[2:]])
    last = kept.by_ids([contacts[0].pk])

    assert {r.pk for r in first} == {c.pk for c in contacts[:3]}
    assert {r.pk for r in second} == {c.pk for c in contacts[2:]}
    assert [r.pk for r in last] == [contacts[0].pk]
    assert compiled == [("default", 3), ("default", 1)]


@pytest.mark.django_db
def test_kept_rows_run_their_own_sql_only_where_django_converts_nothing():
    """PostgreSQL gives these columns as Django would; SQLite's dates are converted by Django,
    so there the ORM reads them."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    contact = ContactFactory(owner=admin)
    kept = KeptRows(selectors.contact_list_rows(user=admin))

    kept.by_ids([contact.pk])

    assert (kept._compiled[("default", 1)] is not None) == (connection.vendor == "postgresql")


@pytest.mark.django_db
def test_kept_rows_are_one_counted_query(django_assert_num_queries):
    admin = UserFactory(role=Role.ADMINISTRADOR)
    contacts = ContactFactory.create_batch(2, owner=admin)
    kept = KeptRows(selectors.contact_list_rows(user=admin))
    kept.by_ids([contacts[0].pk])

    with django_assert_num_queries(1):
        assert len(kept.by_ids([c.pk for c in contacts])) == 2
