"""The rows of a list's page: run as prepared statements on PostgreSQL, and read by SQL compiled
once per process (crm.core.db)."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts import selectors
from contacts.models import Consent, Contact
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.db import KeptQuery, KeptRows, prepared
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


# --- KeptQuery: a paginator's steps on SQL compiled once per shape -----------------------------


def _api_pages() -> KeptQuery:
    """A fresh KeptQuery over the API's unfiltered contacts (nothing compiled yet)."""
    return KeptQuery(selectors.contact_api_pages(user=None).queryset)


def _by_orm(kept: KeptQuery) -> list:
    return list(kept._built(kept._bounds()))


def _steps(pages: KeptQuery, pivot: int) -> list[KeptQuery]:
    """What DRF's CursorPagination asks: the first page, a page after a position (given as the
    cursor's text), a page before one (reversed), an offset past equal positions, by name."""
    return [
        pages.order_by("-id")[0:3],
        pages.order_by("-id").filter(id__lt=str(pivot))[0:3],
        pages.order_by("id").filter(id__gt=pivot)[0:2],
        pages.order_by("-id").filter(id__lt=pivot)[1:4],
        pages.order_by("last_name", "id").filter(last_name__gt="M")[0:3],
    ]


@pytest.mark.django_db
def test_kept_query_reads_what_the_orm_reads():
    admin = UserFactory(role=Role.ADMINISTRADOR)
    contacts = _variety(admin) + ContactFactory.create_batch(4, owner=admin)
    pivot = sorted(c.pk for c in contacts)[4]

    for step in _steps(_api_pages(), pivot):
        rows = list(step)
        assert rows == _by_orm(step) and rows
        assert [row._asdict() for row in rows] == [row._asdict() for row in _by_orm(step)]
    archived = contacts[3]
    assert archived.pk not in {row.id for row in _api_pages().order_by("-id")[0:20]}


@pytest.mark.django_db
def test_kept_query_compiles_each_shape_once(monkeypatch):
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ids = sorted(c.pk for c in ContactFactory.create_batch(6, owner=admin))
    pages = _api_pages()
    compiled = []
    compile_ = KeptQuery._compile
    monkeypatch.setattr(
        KeptQuery, "_compile", lambda self, *args: compiled.append(args) or compile_(self, *args)
    )

    after = [[row.id for row in pages.order_by("-id").filter(id__lt=pk)[0:2]] for pk in ids[3:]]
    first = [row.id for row in pages.order_by("-id")[0:2]]
    list(pages.order_by("-id").filter(id__lt=ids[3])[0:5])

    assert after == [[ids[2], ids[1]], [ids[3], ids[2]], [ids[4], ids[3]]]
    assert first == [ids[5], ids[4]]
    assert compiled == [("default", 1), ("default", 0), ("default", 1)]  # three shapes


@pytest.mark.django_db
def test_kept_query_leaves_other_bounds_to_the_orm(monkeypatch):
    """A bound on a text column, a number no bigint holds, a text that is no number: the ORM's
    own query reads them, with its own answer or error."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory.create_batch(3, owner=admin)
    pages = _api_pages()
    monkeypatch.setattr(KeptQuery, "_compile", lambda *args: pytest.fail("compiled"))

    by_name = pages.order_by("last_name", "id").filter(last_name__gt="")[0:5]
    assert list(by_name) == _by_orm(by_name) and len(list(by_name)) == 3
    beyond = pages.order_by("-id").filter(id__lt=2**70)[0:5]
    if connection.vendor == "postgresql":  # SQLite refuses the number itself
        assert [row.id for row in beyond] == [row.id for row in _by_orm(beyond)]
    with pytest.raises(ValueError, match="expected a number"):
        list(pages.order_by("-id").filter(id__lt="abc")[0:5])


@pytest.mark.django_db
def test_kept_query_bounds_on_a_small_integer_column_read_as_the_orm_does():
    """A stand-in no smallint holds: Django drops the bound (always true) or the whole query
    (always false) while compiling it, so no SQL can be kept for it; the ORM reads it."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    for score in (5, 40, 90):
        ContactFactory(owner=admin, lead_score=score)
    pages = _api_pages()

    for step in (
        pages.order_by("-id").filter(lead_score__gte=40)[0:5],
        pages.order_by("-id").filter(lead_score__lt=41)[0:5],
    ):
        assert [row.lead_score for row in step] == [row.lead_score for row in _by_orm(step)]
        assert len(list(step)) == 2
    assert set(pages._compiled.values()) == {None}


@postgres_only
@pytest.mark.django_db
def test_kept_query_pages_run_prepared():
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ids = sorted(c.pk for c in ContactFactory.create_batch(4, owner=admin))
    pages = _api_pages()

    def runs() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements"
                " WHERE statement LIKE %s",
                ['SELECT "contacts_contact"."id" AS "id", "contacts_contact"."first_name" AS %'],
            )
            return cursor.fetchone()[0]

    before = runs()
    for pk in ids[1:]:
        list(pages.order_by("-id").filter(id__lt=pk)[0:2])
    assert runs() == before + 3


@pytest.mark.django_db
def test_the_kept_api_pages_are_every_roles_own_list():
    """The API's unfiltered pages are kept once for every user: right only while every role
    reads every contact (contacts.selectors.contact_base). Should that change, this fails."""
    from django.contrib.contenttypes.models import ContentType

    kept = selectors.contact_api_pages(user=None).queryset
    rows = selectors._kept_api_rows(ContentType.objects.get_for_model(Contact).pk)
    for role in Role.values:
        user = UserFactory(role=role)
        own = selectors.contact_filtered(user=user, filters={}, rows=rows)
        assert str(own.query) == str(kept.query), role


@postgres_only
@pytest.mark.django_db
def test_prepared_queries_are_logged_with_their_sql():
    """connection.queries and the SQL log show a prepared query's text, not None."""
    admin = UserFactory(role=Role.ADMINISTRADOR)
    ContactFactory.create_batch(2, owner=admin)

    with CaptureQueriesContext(connection) as queries:
        _page(admin, 1)
        _page(admin, 1)

    assert all(isinstance(query["sql"], str) for query in queries)
    rows = [query["sql"] for query in queries if query["sql"].startswith(ROWS_SQL)]
    assert len(rows) == 2 and "$1" in rows[0]
