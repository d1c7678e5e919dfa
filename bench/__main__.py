"""Measure the pages of DESIGN.md §4 against their targets on the database in DATABASE_URL.

Run from the repository root after `manage.py migrate`: `python -m bench`. The first run on an
empty database builds the data with `seed_demo` (and times it); later runs reuse it, adding only
what is missing (a database with the accounts and contacts but no opportunities gets only the
sales data: `seed_demo --only-sales`). Each page is requested through the test client as a
logged-in sales rep (the forecast as their manager): a few warm-ups, then N timed requests
(median and p95 of the server time) and one more request to count the SQL queries. The quote
PDF is timed by calling its render function directly. Results are printed as a table and written
to bench/results.json.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
# Pages render `{% static %}`; without collectstatic the manifest storage would answer 500.
os.environ.setdefault(
    "STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage"
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connection, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.test import Client  # noqa: E402

from bench.data import RESULTS, _ensure_data  # noqa: E402
from bench.measure import PAGE_TARGET, RUNS, WARMUPS, Row, _measure, _measure_quote_pdf  # noqa: E402
from bench.pages import _agent, _manager, _pages, _rep, _sales_pages, _support_pages  # noqa: E402
from crm.core.models import User  # noqa: E402


def main() -> int:
    if _unapplied_migrations():
        print("Hay migraciones sin aplicar: ejecute `python manage.py migrate` antes.")
        return 2
    data = _ensure_data()
    rep = _rep()
    if rep is None:
        print("No hay ningún vendedor con cuentas; no se puede medir.")
        return 2
    manager = _manager(rep)
    clients = {"rep": Client(raise_request_exception=False)}
    clients["rep"].force_login(rep)
    if manager is not None:
        clients["manager"] = Client(raise_request_exception=False)
        clients["manager"].force_login(manager)
    rows = [_measure(clients["rep"], *page) for page in _pages(rep)]
    for *page, who in _sales_pages(rep, manager):
        if who in clients:
            rows.append(_measure(clients[who], *page))
        else:
            label, _name, _args, _query, target = page
            rows.append(
                Row(page=label, url=None, target=target.describe(), problems=["sin gerente"])
            )
    rows.append(_measure_quote_pdf(rep))
    agent = _agent()
    if agent is not None:
        clients["support"] = Client(raise_request_exception=False)
        clients["support"].force_login(agent)
        for *page, who in _support_pages(agent, rep):
            rows.append(_measure(clients[who], *page))
    else:
        rows.append(Row(page="soporte", url=None, target="-", problems=["sin agente de soporte"]))
    rows += _campaign_rows()
    rows += _import_rows()
    rows += _api_rows(rep)
    rows += _lead_rows(rep)
    rows += _server_rows(rep)
    _print(data, rep, manager, rows)
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": {
                    "vendor": connection.vendor,
                    "version": _db_version(),
                    "name": str(settings.DATABASES[DEFAULT_DB_ALIAS].get("NAME")),
                },
                "python": sys.version.split()[0],
                "django": django.get_version(),
                "runs": RUNS,
                "warmups": WARMUPS,
                "user": {"username": rep.username, "role": rep.role},
                "manager": {"username": manager.username, "role": manager.role}
                if manager
                else None,
                "data": data,
                "pages": [asdict(row) for row in rows],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"\nResultados en {RESULTS}")
    return 0 if all(row.passed for row in rows if row.url is not None) else 1


def _campaign_rows() -> list[Row]:
    """Campaigns (issue 8): segment counts, the results pages as marketing, materialising and
    sending 100,000 recipients to a local SMTP sink with 2 workers beside a plain smtplib loop."""
    from bench import campaigns_results, campaigns_segments, campaigns_send

    rows = list(campaigns_segments.measure())
    marketing, pages = campaigns_results.results_pages(PAGE_TARGET)
    client = Client(raise_request_exception=False)
    client.force_login(marketing)
    rows += [_measure(client, *page) for page in pages]
    rows += campaigns_send.measure_campaign_send()
    return rows


def _import_rows() -> list[Row]:
    """Imports and exports (issue 10): 100,000 rows with dedupe, its preview, and the exports'
    peak memory at 10,000 and 100,000 rows (bench/imports.py)."""
    from bench import imports

    return imports.measure()


def _api_rows(rep: User) -> list[Row]:
    """The REST API (issue 11): the contact list and the caller lookup endpoints with a key."""
    from bench import api

    return api.measure(rep)


def _lead_rows(rep: User) -> list[Row]:
    """Leads (issue 9): a public sign-up form submission and the nightly lead scoring."""
    from bench import leads

    return leads.measure(rep)


def _server_rows(rep: User) -> list[Row]:
    """Behind gunicorn (issues 11 and 12): requests per second and latency of the contact list
    (page and API), the account sheet, the search and the board at 10 and 50 users."""
    from bench import server

    return server.measure(rep)


def _unapplied_migrations() -> bool:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _print(data: dict, rep: User, manager: User | None, rows: list[Row]) -> None:
    print()
    print(
        f"Base de datos: {connection.vendor} {_db_version()}; usuario: {rep.username} ({rep.role})"
        + (f", previsión como {manager.username} ({manager.role})" if manager else "")
    )
    for label, count in data["counts"].items():
        print(f"  {label}: {count:,}")
    for label, why in data["not_built"].items():
        print(f"  {label}: no construido — {why}")
    for key, what in (
        ("seed", "seed_demo"),
        ("sales_seed", "seed_demo --only-sales"),
        ("support_seed", "seed_demo --only-support"),
    ):
        seed = data.get(key)
        if seed:
            verdict = "ok" if seed["passed"] else "FALLA"
            when = f", medido el {seed['measured']}" if seed.get("measured") else ""
            target = seed.get("target_seconds", 60)
            print(f"  {what}: {seed['seconds']} s (objetivo < {target} s) {verdict}{when}")
    print()
    header = ("página", "mediana ms", "p95 ms", "consultas", "objetivo", "resultado")
    table = [header]
    for row in rows:
        if row.median_ms is None and row.passed is None:
            result = "missing" if row.url is None else f"HTTP {row.status}"
            if row.url is not None and row.problems:
                result = "; ".join(row.problems)
            table.append((row.page, "—", "—", "—", row.target, result))
            continue
        result = "pass" if row.passed else "FAIL (" + ", ".join(row.problems) + ")"
        table.append(
            (
                row.page,
                "—" if row.median_ms is None else f"{row.median_ms:.1f}",
                "—" if row.p95_ms is None else f"{row.p95_ms:.1f}",
                str(row.queries),
                row.target,
                result,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        cells = [
            cell.ljust(width) if i in (0, 4, 5) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    _print_breakdown(rows)


def _print_breakdown(rows: list[Row]) -> None:
    """Where each page's time goes (bench/breakdown.py), so that a slow page says why."""
    header = ("página", "sql", "plantillas", "vista", "marco")
    table = [header]
    for row in rows:
        if row.breakdown:
            parts = ("sql_ms", "template_ms", "view_ms", "framework_ms")
            table.append((row.page, *(f"{row.breakdown[part]:.1f}" for part in parts)))
    if len(table) == 1:
        return
    print("\nDesglose (mediana en ms; vista: su Python sin SQL ni plantillas; marco: middleware):")
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def _db_version() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0].split()[0]
    if connection.vendor == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version
    return ""


if __name__ == "__main__":
    sys.exit(main())
