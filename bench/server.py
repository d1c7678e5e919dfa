"""Throughput behind gunicorn (issue 11's API beside the HTML list, and issue 12): the pages as
users get them, over HTTP on loopback.

Collects the static files with the manifest storage (as the deploy step does) into a temporary
folder, starts gunicorn (2 workers, DEBUG off, the production settings, static files by
WhiteNoise) against the bench database, and drives it with a bounded Python client: N users,
each a thread with its own connection per request, asking for one page again and again for a
fixed time, signed in as the sales rep (the API with the rep's personal key). For each page and
number of users it prints requests per second, p50/p95/p99 latency and the errors; then the
resident size of each gunicorn worker after every request of the run. The run stops by itself
(about two minutes: BENCH_HTTP_SECONDS per measure) and leaves nothing behind: the session and
the key are removed, gunicorn is stopped, the folder deleted.

    DATABASE_URL=postgres://…/crm_bench python -m bench.server
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse

from bench.measure import Row
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import AuditEvent, User

ROOT = Path(__file__).resolve().parents[1]
USERS = (10, 50)
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "10"))
WARMUP_SECONDS = 2.0
WORKERS = 2
RATE_TARGET = 200.0  # requests/s on the contact list on 2 cores (DESIGN.md §4)
TIMEOUT = 30.0


@dataclass
class Load:
    """What the users of one measure saw: each answer's status and latency."""

    page: str
    path: str
    users: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0  # no answer at all: counted as an error
    finally:
        connection.close()


def drive(port: int, load: Load, headers: dict[str, str], seconds: float) -> Load:
    """`load.users` threads ask for the page until the time is up; the first seconds warm up."""
    lock = threading.Lock()
    start = time.monotonic()
    measure_from = start + WARMUP_SECONDS
    end = measure_from + seconds

    def user() -> None:
        while (now := time.monotonic()) < end:
            status = _get(port, load.path, headers)
            done = time.monotonic()
            if now >= measure_from:
                with lock:
                    load.latencies.append((done - now) * 1000)
                    load.statuses[status] = load.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=user, daemon=True) for _ in range(load.users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = seconds
    return load


def _collect_static(folder: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _server_env(folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "false",
        # The bench's own key: the session it signs in with is bound to it.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(folder / "static"),
        # The deploy's fingerprinted files; compressing them (whitenoise's Compressed…) only
        # changes the static answers, which this benchmark does not ask for.
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        "WHITENOISE_USE_FINDERS": "false",
        "PYTHONUNBUFFERED": "1",
        # One key asks far more than an integration may (600/min): the limit still runs on
        # each request, but here the endpoint's own throughput is measured, not the throttle's
        # answer (crm/core/api tests assert the 429).
        "API_RATE": "1000000/min",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _wait_ready(port: int, server: subprocess.Popen) -> None:
    for _attempt in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn se detuvo (código {server.returncode})")
        if _get(port, "/entrar/", {}) == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn no respondió en 30 s")


def _workers_rss_mb(pid: int) -> list[float]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    sizes = []
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


def _paths(rep: User) -> list[tuple[str, str, str]]:
    """(label, path, how) of the pages driven: `how` is "session" or "key"."""
    from accounts.models import Account
    from bench.pages import _accentless_name

    account = (
        Account.objects.filter(owner=rep, archived_at=None, contacts__isnull=False)
        .order_by("pk")
        .first()
    )
    paths = [
        ("contactos: lista (HTML)", reverse("contacts:contact-list"), "session"),
        ("API: contactos", reverse("api:contact-list"), "key"),
    ]
    if account is not None:
        paths.append(
            ("cuenta: ficha", reverse("accounts:account-detail", args=[account.pk]), "session")
        )
    name = _accentless_name(rep)
    paths += [
        (f"buscar «{name}»", f"{reverse('crm:search')}?q={name}", "session"),
        ("oportunidades: tablero", reverse("opportunities:board"), "session"),
    ]
    return paths


def run(rep: User, seconds: float = SECONDS) -> tuple[list[Load], list[float]]:
    browser = Client()
    browser.force_login(rep)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    token, key = token_create(user=rep, name="bench-server", scopes=SCOPES, days=30)
    headers = {
        "session": {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
        "key": {"Authorization": f"Bearer {key}"},
    }
    loads: list[Load] = []
    rss: list[float] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-server-") as name:
        folder = Path(name)
        env = _server_env(folder)
        _collect_static(folder, env)
        port = free_port()
        log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "crm.wsgi"]
            + ["--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}"]
            + ["--log-level", "warning", "--timeout", "60"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(port, server)
            for label, path, how in _paths(rep):
                for users in USERS:
                    load = drive(port, Load(label, path, users), headers[how], seconds)
                    loads.append(load)
                    print(_line(load), flush=True)
            rss = _workers_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
            browser.logout()
            AuditEvent.objects.filter(target=f"api_token:{token.pk}").delete()
            token.delete()
    return loads, rss


def _line(load: Load) -> str:
    errors = f", {load.errors} errores {dict(sorted(load.statuses.items()))}" if load.errors else ""
    return (
        f"  {load.page} · {load.users} usuarios: {load.rate:,.0f} req/s, "
        f"p50 {load.percentile(0.50):.0f} ms, p95 {load.percentile(0.95):.0f} ms, "
        f"p99 {load.percentile(0.99):.0f} ms ({len(load.latencies):,} peticiones{errors})"
    )


def measure(rep: User) -> list[Row]:
    print(
        f"\nDetrás de gunicorn ({WORKERS} workers, DEBUG off), {SECONDS:g} s por medida:",
        flush=True,
    )
    loads, rss = run(rep)
    total = sum(len(load.latencies) for load in loads)
    if rss:
        sizes = ", ".join(f"{size:.0f} MB" for size in rss)
        print(f"  memoria de los workers tras {total:,} peticiones medidas: {sizes}")
    rows = []
    for load in loads:
        # The contact list (page and API) has the DESIGN.md §4 throughput target; the other
        # pages are measured beside it.
        target = load.page.startswith(("contactos: lista", "API: contactos"))
        problems = []
        if load.errors:
            problems.append("errores")
        if target and load.rate < RATE_TARGET:
            problems.append("req/s")
        rows.append(
            Row(
                page=f"gunicorn: {load.page} ({load.users} usuarios, {load.rate:,.0f} req/s)",
                url=load.path,
                target=f"≥{RATE_TARGET:g} req/s" if target else "medido",
                status="200" if not load.errors else "errores",
                median_ms=round(load.percentile(0.50), 1),
                p95_ms=round(load.percentile(0.95), 1),
                passed=not problems,
                problems=problems,
            )
        )
    return rows


if __name__ == "__main__":
    from bench.pages import _rep

    measure(_rep())
