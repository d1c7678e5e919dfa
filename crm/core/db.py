"""Prepared statements on PostgreSQL for the queries whose plan cannot depend on their values.

Django binds parameters on the client (psycopg's ClientCursor): PostgreSQL parses and plans
every query again. For most queries that is right: a search's best plan depends on the word.
But the rows of a page, read by their primary keys once the page's ids are known
(crm.core.forms_utils.paginate), have the same best plan whatever the ids are, and planning
them costs more than running them: the contact list's rows (two subqueries, two joins, 25
ids) plan in 0.55 ms and run in 0.38 ms. Within `prepared()`, the queries go to the server as
prepared statements: parsed and planned once per connection, then only bound and run.

Only the queries of `KeptRows` (the contact list's rows), of `KeptQuery` (the API's unfiltered
contact pages, a page after an id), of `get_prepared` (a record read for its page by its key:
the sheets of accounts, contacts, deals, activities, leads and tickets) and the unfiltered
board's cards
(opportunities.selectors.pipeline) are run so, whose SQL is known to bind on the server (Django
binds on the client by default because some of its SQL cannot: a parameter whose type the
server cannot tell, the same value in SELECT and GROUP BY); each has a test that runs it both
ways.

- Whole numbers are sent as `bigint` whatever their size: psycopg would send each as int2,
  int4 or int8 by its value, and a statement is prepared per combination of types, so a page
  of mixed small and large ids would be prepared anew every time.
- The statements live with the connection (CONN_MAX_AGE) and are kept up to psycopg's limit
  per connection (the least used dropped first).
- Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or newer with
  `max_prepared_statements` set; otherwise set DB_PREPARED_STATEMENTS=false (README).
"""

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import IntegerField, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP

M = TypeVar("M", bound=Model)


@functools.cache
def _cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg.types.numeric import Int8Dumper

    class PreparingCursor(ServerBindingCursor):
        """Server-side binding, every query prepared at once, whole numbers as bigint."""

        def __init__(self, connection, *args, **kwargs):
            super().__init__(connection, *args, **kwargs)
            self.adapters.register_dumper(int, Int8Dumper)

        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

        def _send_query_prepared(self, name, pgq, *, binary=None):
            # psycopg keeps the query it ran only when it did not prepare it; Django's query
            # log (connection.queries, CaptureQueriesContext, the SQL log) reads it from there
            # and would show a prepared query's SQL as None.
            self._query = pgq
            super()._send_query_prepared(name, pgq, binary=binary)

    return PreparingCursor


@contextmanager
def prepared(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Within, the queries of this connection run as prepared statements (PostgreSQL and
    DB_PREPARED_STATEMENTS only; elsewhere nothing changes). Only for queries whose best plan
    is the same for any values: after five runs PostgreSQL may keep one plan for them all."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        yield
        return
    # As connection.cursor() would, first: a connection found broken is opened anew here.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    before = raw.cursor_factory
    raw.cursor_factory = _cursor_class()
    try:
        yield
    finally:
        raw.cursor_factory = before


def get_prepared(queryset: QuerySet[M], **lookups) -> M:
    """`queryset.get(**lookups)` run as a prepared statement: a record read for its page by
    its key (a sheet, and the actions on it), whose best plan is the one of its key whatever
    the key is, and whose joins cost more to plan than to run. The ticket's sheet joins seven
    tables (its account and that account's owner, its contact, its assignee and their team,
    who opened it): PostgreSQL planned that in 1.3-2.4 ms on every page, and ran it in 0.2 ms.

    The same query and the same answer as `get` (DoesNotExist, MultipleObjectsReturned, the
    related objects and annotations): only how the SQL reaches the server changes, so only for
    querysets whose SQL binds on the server (crm/top/tests/test_db_sheets.py runs each sheet's
    read for every role both ways). A prefetch the queryset asks for runs prepared too.
    """
    with prepared(queryset.db):
        return queryset.get(**lookups)


# A stand-in for an id while a query is compiled, to find its place among the parameters: no
# table's key is negative.
MARK = -(2**62)


class KeptRows:
    """The rows of a list's page read by their ids: a `values_list(..., named=True)` query
    whose SQL is compiled once per process for each number of ids, then only run.

    Compiling the contact list's rows (15 columns of three tables and two subqueries) cost
    0.5 ms of every page, more than the database takes to run them once prepared. The SQL is
    compiled with stand-ins for the ids, whose places among the parameters are then filled
    with each page's ids. Run by `prepared()`, through Django's cursor (counted and logged as
    any query).

    Only where Django would give the values as the database does: a query whose columns Django
    converts (SQLite's dates, say) or that names them in another order is read by the ORM.
    Never evaluates the query it is given: the page's rows are read from copies of it.
    """

    def __init__(self, queryset):
        self.queryset = queryset.order_by()
        self._compiled: dict[tuple[str, int], object] = {}

    def by_ids(self, ids: list[int]) -> list:
        if not ids:
            return []
        using = self.queryset.db
        key = (using, len(ids))
        if key not in self._compiled:
            self._compiled[key] = self._compile(using, len(ids))
        compiled = self._compiled[key]
        if compiled is None:
            # The ORM's own SQL binds on the client, never prepared (see the module's notes).
            return list(self.queryset.filter(pk__in=ids))
        return _run_kept(compiled, ids, using)

    def _compile(self, using: str, count: int):
        marks = [MARK - n for n in range(count)]
        return _kept_sql(self.queryset.filter(pk__in=marks), using, marks)


class KeptQuery:
    """A `values_list(..., named=True)` query as a paginator reads it: ordered, bounded by a
    whole number on an integer column (a cursor's position: `id__lt=…`), sliced, then read.
    Its SQL is compiled once per process for each shape (the order, the bounds' lookups, the
    slice) with stand-ins for the bounds, and run as a prepared statement.

    DRF's CursorPagination does exactly those steps on whatever it is given, so the API's
    unfiltered list reads its pages with it (contacts.selectors.contact_api_pages): compiling
    the contact rows' query cost more of each request than the database took to run it.

    Anything else is the ORM's, with the same steps and the same answer: a bound on another
    column (a name's position), a value that is not a whole number a bigint holds, SQL that
    Django would not give back as the database does (`plain_sql`: SQLite's dates, say).
    Never evaluates the query it is given; its shapes are kept up to SHAPES, the least used
    dropped first.
    """

    SHAPES = 64

    def __init__(self, queryset, *, _steps: tuple = (), _kept=None):
        self.queryset = queryset
        self.model = queryset.model
        self._steps = _steps
        # What the copies made by each step share: the compiled shapes and their lock.
        self._compiled, self._lock = _kept or (OrderedDict(), threading.Lock())

    def _then(self, step) -> "KeptQuery":
        kept = (self._compiled, self._lock)
        return KeptQuery(self.queryset, _steps=(*self._steps, step), _kept=kept)

    def order_by(self, *fields: str) -> "KeptQuery":
        return self._then(("order_by", tuple(fields)))

    def filter(self, **bounds) -> "KeptQuery":
        return self._then(("filter", tuple(sorted(bounds.items()))))

    def __getitem__(self, k: slice) -> "KeptQuery":
        if not isinstance(k, slice) or k.step is not None:
            raise TypeError("KeptQuery reads slices only")
        return self._then(("slice", k.start, k.stop))

    def __iter__(self):
        return iter(self._rows())

    def _built(self, values: list):
        """The steps applied to the query, each bound's value taken in turn from `values`."""
        queryset, given = self.queryset, iter(values)
        for kind, *args in self._steps:
            if kind == "order_by":
                queryset = queryset.order_by(*args[0])
            elif kind == "filter":
                queryset = queryset.filter(**{lookup: next(given) for lookup, _v in args[0]})
            else:
                queryset = queryset[args[0] : args[1]]
        return queryset

    def _bounds(self) -> list:
        return [value for kind, *args in self._steps if kind == "filter" for _l, value in args[0]]

    def _whole_numbers(self) -> list[int] | None:
        """The bounds as whole numbers, when every one is on an integer column and is one."""
        numbers = []
        for kind, *args in self._steps:
            for lookup, value in args[0] if kind == "filter" else ():
                name = lookup.split(LOOKUP_SEP)[0]
                meta = self.model._meta
                try:
                    field = meta.pk if name == "pk" else meta.get_field(name)
                except FieldDoesNotExist:
                    return None  # the ORM's own error
                if not isinstance(field, IntegerField):  # ids and every integer column
                    return None
                try:
                    number = int(value)
                except (TypeError, ValueError):
                    return None
                if not BIGINT_MIN <= number <= BIGINT_MAX:
                    return None
                numbers.append(number)
        return numbers

    def _rows(self) -> list:
        numbers = self._whole_numbers()
        if numbers is None:
            return list(self._built(self._bounds()))
        using = self.queryset.db
        compiled = self._compiled_for((using, self._shape()), using, len(numbers))
        if compiled is None:
            # The ORM's own SQL binds on the client, never prepared (see the module's notes).
            return list(self._built(numbers))
        return _run_kept(compiled, numbers, using)

    def _shape(self) -> tuple:
        """The steps without the bounds' values: what the compiled SQL depends on."""
        shape = []
        for kind, *args in self._steps:
            if kind == "filter":
                shape.append((kind, tuple(lookup for lookup, _value in args[0])))
            else:
                shape.append((kind, *args))
        return tuple(shape)

    def _compiled_for(self, key: tuple, using: str, count: int):
        """The shape's compiled SQL, compiled on its first use; the least used dropped past
        SHAPES. Under a lock: a worker may serve requests on several threads."""
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                return self._compiled[key]
        compiled = self._compile(using, count)
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > self.SHAPES:
                self._compiled.popitem(last=False)
        return compiled

    def _compile(self, using: str, count: int):
        marks = [MARK - n for n in range(count)]
        return _kept_sql(self._built(marks), using, marks)


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def _kept_sql(queryset, using: str, marks: list[int]):
    """(SQL, parameters, the places of `marks` among them, the rows' named tuple) of a
    `values_list(named=True)` query compiled with `marks` standing for the values each run
    fills in (KeptRows, KeptQuery). None where the ORM must read it: SQL whose rows Django
    would change (`plain_sql`), or a stand-in that is not exactly one parameter (Django drops
    a bound outside its column's range while compiling: always true, or no rows at all)."""
    from django.db.models.utils import create_namedtuple_class

    names = tuple(queryset._fields)
    try:
        compiled = plain_sql(queryset, using, names)
    except EmptyResultSet:
        return None
    if compiled is None:
        return None
    sql, params = compiled
    if any(params.count(mark) != 1 for mark in marks):
        return None
    slots = [params.index(mark) for mark in marks]
    return sql, tuple(params), slots, create_namedtuple_class(*names)


def _run_kept(compiled, values: list[int], using: str) -> list:
    """The rows of SQL kept by `_kept_sql`, with `values` in the stand-ins' places, run as a
    prepared statement through Django's cursor (counted and logged as any query)."""
    sql, params, slots, row = compiled
    params = list(params)
    for slot, value in zip(slots, values, strict=True):
        params[slot] = value
    with prepared(using), connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row._make(found) for found in cursor.fetchall()]


def plain_sql(queryset, using: str, names: tuple[str, ...]) -> tuple[str, list] | None:
    """The SQL and parameters of a `values_list` query whose rows the database gives exactly as
    Django would: its columns in the order of `names`, none that Django converts (SQLite's
    dates, say). None otherwise: the ORM must read it. For SQL compiled once and run many times
    (KeptRows, the board's cards)."""
    compiler = queryset.query.get_compiler(using)
    sql, params = compiler.as_sql()
    selected = compiler.select
    if tuple(alias for _expression, _sql, alias in selected) != names or compiler.get_converters(
        [expression for expression, _sql, _alias in selected]
    ):
        return None
    return sql, list(params)
