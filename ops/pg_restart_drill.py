"""Drill: PostgreSQL restarted under traffic, the application recovers by itself.

Starts a scratch PostgreSQL cluster (initdb, its own port and folder), migrates a database in it,
serves the application with gunicorn (2 workers, DEBUG off) against it, signs in as a rep and
requests the contact list five times a second while the database is stopped for a few seconds
and started again. It passes when:

- no answer is a 500: while the database is down every page answers 503 "Volvemos enseguida"
  with Retry-After (crm.core.views.server_error);
- the contact list answers 200 again within a few seconds of the restart, from the same
  gunicorn workers (CONN_HEALTH_CHECKS reopens the broken persistent connections).

    python ops/pg_restart_drill.py        # about 30 s; prints a line per phase; exit 1 on failure

It needs PostgreSQL's server programs (initdb, pg_ctl: Debian's postgresql package) and changes
nothing outside its temporary folder. crm/tests/test_ops_drills.py runs it where they exist.
"""

from __future__ import annotations

import contextlib
import glob
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DOWN_SECONDS = 4
RECOVERY_LIMIT = 10


def server_program(name: str) -> str | None:
    """initdb and pg_ctl are rarely on PATH on Debian: look in PostgreSQL's own bin folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.pg_ctl = server_program("pg_ctl")
        self.initdb = server_program("initdb")

    def _run(self, *command: str) -> None:
        # PostgreSQL's server programs refuse to run as root: as root, run them as postgres.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL)

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log_file = str(self.folder / "log")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log_file, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class Browser:
    """A signed-in person: cookies, the CSRF token, and the status and text of each answer."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=body)
        request.add_header("Referer", self.base + path)
        return self._open(request)

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:  # the server did not answer at all
            return 0, str(error)

    def sign_in(self, username: str, password: str) -> None:
        _status, page = self.get("/entrar/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, page = self.post(
            "/entrar/",
            {"csrfmiddlewaretoken": token, "username": username, "password": password},
        )
        if status != 200 or 'id="global-search"' not in page:
            raise RuntimeError(f"could not sign in ({status})")


def workers_of(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return set(map(int, children.read_text().split())) if children.exists() else set()


def run(folder: Path) -> bool:
    cluster = Cluster(folder)
    if not (cluster.initdb and cluster.pg_ctl):
        log("SKIP: no initdb/pg_ctl here (Debian: apt-get install postgresql)")
        return True
    cluster.create()
    cluster.start()
    env = {
        **os.environ,
        "DATABASE_URL": cluster.url("postgres"),
        "DEBUG": "false",
        "SECRET_KEY": "drill-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    gunicorn = None
    try:
        started = time.monotonic()
        manage = [PYTHON, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                "from crm.core.models import User; User.objects"
                ".create_user('simulacro', password='Simulacro-2026', role='vendedor')",
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
        log(f"database ready in {time.monotonic() - started:.1f} s")
        web = free_port()
        server_log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed with the folder
        gunicorn = subprocess.Popen(
            [str(Path(PYTHON).with_name("gunicorn")), "crm.wsgi", "--workers", "2"]
            + ["--bind", f"127.0.0.1:{web}", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            # Each 503 is logged with its traceback, as in production: kept out of the summary.
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        browser = Browser(f"http://127.0.0.1:{web}")
        for _attempt in range(100):
            if browser.get("/entrar/")[0] == 200:
                break
            time.sleep(0.1)
        browser.sign_in("simulacro", "Simulacro-2026")
        workers = workers_of(gunicorn.pid)

        seen: dict[str, Counter] = {"before": Counter(), "down": Counter(), "after": Counter()}
        friendly = True

        def traffic(phase: str, seconds: float, until_ok: bool = False) -> float | None:
            nonlocal friendly
            end = time.monotonic() + seconds
            start = time.monotonic()
            while time.monotonic() < end:
                status, page = browser.get("/contactos/")
                seen[phase][status] += 1
                if status == 503 and "Volvemos enseguida" not in page:
                    friendly = False
                if until_ok and status == 200:
                    return time.monotonic() - start
                time.sleep(0.2)
            return None

        traffic("before", 2)
        cluster.stop()
        log("PostgreSQL stopped")
        traffic("down", DOWN_SECONDS)
        cluster.start()
        log("PostgreSQL started")
        recovered = traffic("after", RECOVERY_LIMIT, until_ok=True)
        traffic("after", 2)
        same_workers = workers_of(gunicorn.pid) == workers

        for phase, counts in seen.items():
            log(f"{phase}: " + ", ".join(f"{n}×{s}" for s, n in sorted(counts.items())))
        checks = {
            "no 500 (nor a missing answer)": not any(
                status in (0, 500) for counts in seen.values() for status in counts
            ),
            "503 'Volvemos enseguida' while down": seen["down"][503] > 0 and friendly,
            f"200 again within {RECOVERY_LIMIT} s": recovered is not None,
            "the same gunicorn workers": same_workers,
        }
        if recovered is not None:
            log(f"recovered {recovered:.1f} s after the restart")
        for name, ok in checks.items():
            log(f"{'ok  ' if ok else 'FAIL'} {name}")
        return all(checks.values())
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=20)
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="crm-pg-drill-") as folder:
        return 0 if run(Path(folder)) else 1


if __name__ == "__main__":
    sys.exit(main())
