"""A deep page of a list costs what its first page costs (issue 12).

The lists page through `crm.core.forms_utils.paginate`: the ids of one page first (the only
query with an OFFSET, reading the primary key alone), then the page's rows by those ids, and
the total on a request of its own. `assert_deep_page_is_cheap` asks a list for its first page
and for a deep one (page 2,000 of a small page size, so that the table holds a few thousand
rows rather than 100,000) and checks, from the SQL each request sent:

- both pages send the same number of queries;
- the deep page answers 200 with the rows of its offset, in the list's order;
- exactly one query reads the model's full rows, restricted by primary key to at most a page
  (and one) of ids;
- every query with an OFFSET reads the primary key and nothing else, at most a page (and one)
  of it: what grows with the page number is a walk over an index, never rows;
- no query counts the model's table (the total has its own request).

The SQL is read before the database backend formats it (`connection.execute_wrapper`), so the
placeholders of `IN (%s, …)` can be counted whatever the database.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

# Page 2,000 of two rows per page: OFFSET 3,998. A few rows more, so that it has a next page.
PER_PAGE = 2
DEEP_PAGE = 2000
ROWS = PER_PAGE * DEEP_PAGE + 3

_LIMIT = re.compile(r"\bLIMIT (\d+)(?: OFFSET (\d+))?", re.IGNORECASE)
_SELECT_HEAD = re.compile(r"^\s*SELECT\s+(?:DISTINCT\s+)?", re.IGNORECASE)


@dataclass
class Statement:
    sql: str
    params: Sequence = ()

    def _top_level(self, keyword: str, start: int = 0) -> int:
        """Where `keyword` (e.g. " FROM ") first occurs outside parentheses, or -1."""
        depth = 0
        upper = self.sql.upper()
        for i in range(start, len(self.sql)):
            char = self.sql[i]
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif depth == 0 and upper.startswith(keyword, i):
                return i
        return -1

    @property
    def is_select(self) -> bool:
        return bool(_SELECT_HEAD.match(self.sql))

    @property
    def select_clause(self) -> str:
        head = _SELECT_HEAD.match(self.sql)
        end = self._top_level(" FROM ")
        return self.sql[head.end() : end if end >= 0 else len(self.sql)] if head else ""

    @property
    def select_outline(self) -> str:
        """The select clause without what its parentheses hold (subqueries, arguments)."""
        depth, kept = 0, []
        for char in self.select_clause:
            if char == ")":
                depth -= 1
            if depth == 0:
                kept.append(char)
            if char == "(":
                depth += 1
        return "".join(kept)

    @property
    def from_table(self) -> str:
        """The first table of the outermost FROM, unquoted."""
        at = self._top_level(" FROM ")
        if at < 0:
            return ""
        match = re.match(r'\s*"?(\w+)"?', self.sql[at + len(" FROM ") :])
        return match.group(1) if match else ""

    @property
    def limit_offset(self) -> tuple[int | None, int | None]:
        at = self._top_level(" LIMIT ")
        match = _LIMIT.match(self.sql, at + 1) if at >= 0 else None
        if not match:
            return None, None
        limit, offset = match.groups()
        return int(limit), int(offset) if offset else None

    @property
    def has_offset(self) -> bool:
        return self._top_level(" OFFSET ") >= 0


@dataclass
class Capture:
    """The statements one request sent (their SQL before formatting, and their parameters)."""

    statements: list[Statement] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(Statement(sql, tuple(params or ())))
        return execute(sql, params, many, context)


@dataclass
class PageRequest:
    response: object
    queries: int
    statements: list[Statement]


def get_page(client, url: str, params: dict, **extra) -> PageRequest:
    """GET the list, counting its queries and keeping their SQL."""
    capture = Capture()
    with CaptureQueriesContext(connection) as counted, connection.execute_wrapper(capture):
        response = client.get(url, params, **extra)
    return PageRequest(response, len(counted.captured_queries), capture.statements)


def _columns_of(table: str, clause: str) -> list[str]:
    return re.findall(rf'"{table}"\."(\w+)"', clause)


def _ids_in(sql: str, table: str, pk: str) -> int | None:
    """The number of placeholders of `"table"."pk" IN (…)`, or None without such a filter."""
    match = re.search(rf'"{table}"\."{pk}" IN \(([^)]*)\)', sql)
    return match.group(1).count("%s") if match else None


def page_rows(response) -> list:
    """The primary keys of the rows the page shows (its `page_obj`), in order."""
    return [getattr(row, "pk", None) or row["pk"] for row in response.context["page_obj"]]


def assert_deep_page_is_cheap(
    client,
    url: str,
    *,
    model: type[Model],
    ordered: Sequence,
    labels: Sequence[str] = (),
    params: dict | None = None,
    per_page: int = PER_PAGE,
    deep: int = DEEP_PAGE,
    page_param: str = "page",
    rows_of: Callable = page_rows,
    allow_counts: bool = False,
    **extra,
) -> tuple[PageRequest, PageRequest]:
    """Page 1 and page `deep` of the list at `url` (see the module's docstring).

    `ordered`: the primary keys of every row of the list, in the list's order; `labels`: what
    the page prints for each (in the same order), checked in the deep page's text;
    `allow_counts`: the page also counts its table on purpose (checked apart, see
    `assert_counts_nothing`).
    """
    params = params or {}
    assert len(ordered) > deep * per_page, "the table is too small for that page"
    # Once first, so that what a process loads once (content types, caches) is not counted.
    assert client.get(url, {**params, page_param: 1}, **extra).status_code == 200
    first = get_page(client, url, {**params, page_param: 1}, **extra)
    second = get_page(client, url, {**params, page_param: deep}, **extra)
    assert first.response.status_code == 200
    assert second.response.status_code == 200

    bottom = (deep - 1) * per_page
    assert rows_of(first.response) == list(ordered[:per_page])
    assert rows_of(second.response) == list(ordered[bottom : bottom + per_page])
    if labels:
        text = second.response.text
        for label in labels[bottom : bottom + per_page]:
            assert label in text, f"{label!r} missing from page {deep}"
        assert labels[bottom - 1] not in text, f"{labels[bottom - 1]!r} belongs to page {deep - 1}"

    assert first.queries == second.queries, _listing(first, second)
    for listed in (first, second):
        assert_reads_only_the_page(
            listed.statements, model=model, per_page=per_page, allow_counts=allow_counts
        )
    (ids_query,) = [s for s in second.statements if s.has_offset]
    assert ids_query.limit_offset == (per_page + 1, bottom), ids_query.sql
    return first, second


def assert_reads_only_the_page(
    statements: list[Statement], *, model: type[Model], per_page: int, allow_counts: bool = False
):
    """One query reads full rows, by at most a page (and one) of ids; OFFSETs walk ids only;
    nothing counts the table (unless `allow_counts`)."""
    table, pk = model._meta.db_table, model._meta.pk.column
    reads = [s for s in statements if s.is_select and s.from_table == table]
    full = [s for s in reads if len(_columns_of(table, s.select_outline)) > 1]
    assert len(full) == 1, "one query reads the page's rows:\n" + "\n".join(s.sql for s in full)
    ids = _ids_in(full[0].sql, table, pk)
    assert ids is not None, f"the rows are not read by id: {full[0].sql}"
    assert 1 <= ids <= per_page + 1, f"{ids} ids for a page of {per_page}: {full[0].sql}"
    assert_offsets_read_only_ids(statements, model=model, per_page=per_page)
    if not allow_counts:
        assert_counts_nothing(statements, model=model)


def assert_counts_nothing(statements: list[Statement], *, model: type[Model]):
    """No query counts (or sums up) the model's table: the total has its own request. A count
    inside a subquery per row of the page (e.g. each campaign's messages sent) is not one."""
    table = model._meta.db_table
    for statement in statements:
        if statement.is_select and statement.from_table == table:
            outline = statement.select_outline.upper()
            assert not re.search(r"\b(COUNT|SUM)\(", outline), (
                f"the list counts its table: {statement.sql}"
            )


def assert_offsets_read_only_ids(statements: list[Statement], *, model: type[Model], per_page: int):
    """Every query with an OFFSET selects the model's primary key alone, a page (and one)."""
    table, pk = model._meta.db_table, model._meta.pk.column
    for statement in statements:
        if not statement.has_offset:
            continue
        assert statement.from_table == table, f"an OFFSET over other rows: {statement.sql}"
        assert re.fullmatch(rf'"{table}"\."{pk}"(?: AS "\w+")?', statement.select_clause.strip()), (
            f"an OFFSET over full rows: {statement.sql}"
        )
        limit, _offset = statement.limit_offset
        assert limit is not None and limit <= per_page + 1, statement.sql


def _listing(*pages: PageRequest) -> str:
    return "\n\n".join("\n".join(s.sql for s in page.statements) for page in pages)
