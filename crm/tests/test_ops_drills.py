"""The operations drills of ops/ run as tests where this machine has what they need:
PostgreSQL restarted under traffic (ops/pg_restart_drill.py) and a backup restored and counted
(ops/restore_drill.py). Where it lacks them they skip, printing why."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.tests.processes import database_url
from ops.pg_restart_drill import server_program

ROOT = Path(__file__).resolve().parents[2]


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def test_the_application_recovers_from_a_postgresql_restart_by_itself():
    missing = [name for name in ("initdb", "pg_ctl") if not server_program(name)]
    if missing:
        _skip(f"faltan los programas de PostgreSQL {', '.join(missing)} (paquete postgresql)")
    if not Path(sys.executable).with_name("gunicorn").exists():
        _skip("gunicorn no está instalado en este entorno")
    drill = subprocess.run(
        [sys.executable, str(ROOT / "ops" / "pg_restart_drill.py")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr[-3000:]
    assert "ok   no 500 (nor a missing answer)" in drill.stdout
    assert "ok   503 'Volvemos enseguida' while down" in drill.stdout
    assert "ok   the same gunicorn workers" in drill.stdout


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_with_every_row():
    if connection.vendor != "postgresql":
        _skip("el simulacro de copia de seguridad necesita PostgreSQL (DATABASE_URL)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        _skip("faltan pg_dump y pg_restore (paquete postgresql-client)")
    for account in AccountFactory.create_batch(3):
        ContactFactory.create_batch(4, account=account, owner=account.owner)
    drill = subprocess.run(
        [sys.executable, str(ROOT / "ops" / "restore_drill.py"), "--database-url", database_url()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "every table has the same row count" in drill.stdout
