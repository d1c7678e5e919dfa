"""Prepared statements on PostgreSQL for the queries whose plan cannot depend on their values.

Django binds parameters on the client (psycopg's ClientCursor): PostgreSQL parses and plans
every query again. For most queries that is right: a search's best plan depends on the word.
But the rows of a page, read by their primary keys once the page's ids are known
(crm.core.forms_utils.paginate), have the same best plan whatever the ids are, and planning
them costs more than running them: the contact list's rows (two subqueries, two joins, 25
ids) plan in 0.55 ms and run in 0.38 ms. Within `prepared()`, the queries go to the server as
prepared statements: parsed and planned once per connection, then only bound and run.

Only the queries of `KeptRows` and the unfiltered board's cards
(opportunities.selectors.pipeline) are run so, whose SQL is fixed and known to bind on the server
(Django binds on the client by default because some of its SQL cannot: a parameter whose type
the server cannot tell, the same value in SELECT and GROUP BY).

- Whole numbers are sent as `bigint` whatever their size: psycopg would send each as int2,
  int4 or int8 by its value, and a statement is prepared per combination of types, so a page
  of mixed small and large ids would be prepared anew every time.
- The statements live with the connection (CONN_MAX_AGE) and are kept up to psycopg's limit
  per connection (the least used dropped first).
- Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or newer with
  `max_prepared_statements` set; otherwise set DB_PREPARED_STATEMENTS=false (README).
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


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
        sql, params, slots, row = compiled
        params = list(params)
        for slot, pk in zip(slots, ids, strict=True):
            params[slot] = pk
        with prepared(using), connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return [row._make(values) for values in cursor.fetchall()]

    def _compile(self, using: str, count: int):
        """(SQL, parameters, the ids' places among them, the rows' named tuple), or None where
        the ORM must read the rows."""
        from django.db.models.utils import create_namedtuple_class

        marks = [MARK - n for n in range(count)]
        names = tuple(self.queryset._fields)
        compiled = plain_sql(self.queryset.filter(pk__in=marks), using, names)
        if compiled is None:
            return None
        sql, params = compiled
        slots = [params.index(mark) for mark in marks]
        return sql, tuple(params), slots, create_namedtuple_class(*names)


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
