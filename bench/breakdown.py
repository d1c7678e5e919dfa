"""Where a page's time goes (issue 12): SQL, template rendering, the view's own Python (ORM
objects, forms, selectors) and the framework around the view (middleware, the session, the
user, the URL resolver, the test client's request and response).

Measured in a pass of its own after the timed requests, so that the instruments never slow the
figures the targets are judged on. Each request is split as follows:

- **sql**: the time the database cursor spent executing, as Django records it for every query
  (in the view or outside it: the session and the user are loaded by middleware);
- **plantillas**: the time in the outermost Template.render (includes render the inner ones);
- **vista**: the time inside the view function, less its SQL and its templates;
- **marco**: everything else: the request's trip through the middleware and back.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.handlers.base import BaseHandler
from django.db import connection
from django.template import base as template_base
from django.test import Client

PASSES = 10


@dataclass
class Breakdown:
    sql_ms: float
    template_ms: float
    view_ms: float
    framework_ms: float

    def describe(self) -> str:
        return (
            f"sql {self.sql_ms:.1f} · plantillas {self.template_ms:.1f} · "
            f"vista {self.view_ms:.1f} · marco {self.framework_ms:.1f}"
        )


class _Clock:
    """The instruments of one request: SQL, the outermost template render and the view, each
    split by whether it ran inside the view or around it."""

    def __init__(self):
        self.sql = {True: 0.0, False: 0.0}
        self.template = {True: 0.0, False: 0.0}
        self.view = 0.0
        self.in_view = False
        self.depth = 0

    def timed_sql(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql[self.in_view] += time.perf_counter() - started

    @contextmanager
    def installed(self):
        render = template_base.Template.render
        make_view_atomic = BaseHandler.make_view_atomic
        clock = self

        def timed_render(template, context):
            clock.depth += 1
            started = time.perf_counter()
            try:
                return render(template, context)
            finally:
                clock.depth -= 1
                if clock.depth == 0:
                    clock.template[clock.in_view] += time.perf_counter() - started

        def timed_view(handler, view: Callable) -> Callable:
            atomic = make_view_atomic(handler, view)

            def wrapper(*args, **kwargs):
                clock.in_view = True
                started = time.perf_counter()
                try:
                    return atomic(*args, **kwargs)
                finally:
                    clock.view += time.perf_counter() - started
                    clock.in_view = False

            return wrapper

        template_base.Template.render = timed_render
        BaseHandler.make_view_atomic = timed_view
        try:
            with connection.execute_wrapper(self.timed_sql):
                yield self
        finally:
            template_base.Template.render = render
            BaseHandler.make_view_atomic = make_view_atomic


def measure(client: Client, url: str, passes: int = PASSES) -> Breakdown:
    """The median of each part over `passes` requests of `url` (already warmed up)."""
    parts: dict[str, list[float]] = {"sql": [], "template": [], "view": [], "framework": []}
    for _ in range(passes):
        with _Clock().installed() as clock:
            started = time.perf_counter()
            client.get(url)
            total = time.perf_counter() - started
        parts["sql"].append(clock.sql[True] + clock.sql[False])
        parts["template"].append(clock.template[True] + clock.template[False])
        parts["view"].append(max(0.0, clock.view - clock.sql[True] - clock.template[True]))
        parts["framework"].append(
            max(0.0, total - clock.view - clock.sql[False] - clock.template[False])
        )
    return Breakdown(
        **{
            f"{name}_ms": round(statistics.median(values) * 1000, 1)
            for name, values in parts.items()
        }
    )
