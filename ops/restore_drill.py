"""Drill: a backup is only a backup once it has been restored.

Dumps the database in DATABASE_URL with `pg_dump --format=custom` (the procedure of README
"Backups"), restores the dump into a scratch database with `pg_restore`, and compares the exact
row count of every table of the two. Prints one line per table that differs and a summary; exits
1 if any table differs or the restore failed. The scratch database is dropped at the end (keep it
with --keep to look inside).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm python ops/restore_drill.py [--keep]

It needs pg_dump and pg_restore of the server's major version (Debian: postgresql-client).
crm/tests/test_ops_drills.py runs it on the test database where they exist.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def counts(url: str) -> dict[str, int]:
    """The exact number of rows of every table of the public schema."""
    with psycopg.connect(url, autocommit=True) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {
            table: connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    source = options.database_url
    if not source.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must name a PostgreSQL database", file=sys.stderr)
        return 2
    scratch = f"crm_restore_drill_{os.getpid()}"
    admin = with_database(source, "postgres")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crm-restore-drill-") as folder:
        dump = Path(folder) / "crm.dump"
        subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={source}"],
            check=True,
        )
        dumped = time.monotonic()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", "--jobs=2"]
                + [f"--dbname={with_database(source, scratch)}", str(dump)],
                check=True,
            )
            restored = time.monotonic()
            before, after = counts(source), counts(with_database(source, scratch))
        finally:
            if not options.keep:
                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch))
                    )
        size = dump.stat().st_size
    differ = sorted(
        table for table in before.keys() | after.keys() if before.get(table) != after.get(table)
    )
    for table in differ:
        print(f"DIFFERS {table}: {before.get(table)} in the source, {after.get(table)} restored")
    print(
        f"{len(before)} tables, {sum(before.values())} rows; dump {size / 1e6:.1f} MB in "
        f"{dumped - started:.1f} s, restored in {restored - dumped:.1f} s; "
        + ("every table has the same row count" if not differ else f"{len(differ)} differ")
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
