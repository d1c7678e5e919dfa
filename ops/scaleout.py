"""Trial: the same code on two web machines and two workers, sharing PostgreSQL and Redis.

What README "Producción" describes, tried on one machine (issue 12): two gunicorn instances on
two ports (one worker each: two cores), the production settings (DEBUG off, the fingerprinted
static files of collectstatic served by WhiteNoise, sessions in the Redis cache written through
to PostgreSQL), and two Celery workers on Redis consuming separate queues: `mail`, and
`celery,reports,imports`. It passes when:

- a session opened on instance 1 is signed in on instance 2 (the same cookie), and is in Redis;
- an account created through instance 1 is read through instance 2;
- both instances serve the same fingerprinted stylesheet;
- one real task of each kind (harmless on an empty database) is run once, by the worker that
  consumes its queue, and by no other.

    python -m ops.scaleout      # about 30 s; a line per step; exit 1 with the reason on failure

The database is a throwaway one, SCALEOUT_DATABASE (crm_scaleout) on the PostgreSQL server of
DATABASE_URL (else 127.0.0.1:5432 as postgres): created from scratch, migrated, dropped at the
end. Redis is SCALEOUT_REDIS_URL (redis://127.0.0.1:6379/9); the keys the trial made are removed
at the end. Everything is bounded (TIMEOUT seconds in all) and every child is killed on the way
out, whatever happened.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from ops.pg_restart_drill import Browser, free_port, log

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TIMEOUT = 120
DATABASE = os.environ.get("SCALEOUT_DATABASE", "crm_scaleout")
REDIS_URL = os.environ.get("SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/9")
USERNAME, PASSWORD = "escalado", "Escalado-2026"
# The two workers: name → the queues it consumes (-Q).
WORKERS = {"correo": "mail", "general": "celery,reports,imports"}
# One task of each kind of work, real and harmless on an empty database: name → its queue.
PROBES = {
    "opportunities.activity_reminders_send": "mail",
    "campaigns.campaigns_stats_refresh_live": "reports",
    "contacts.import_drafts_clear": "imports",
    "crm.queued_tasks_dispatch": "celery",
}


def ok(check: str, detail: str) -> None:
    log(f"ok   {check}: {detail}")


class Failed(Exception):
    """A check that does not hold: its message is the reason printed."""


def _deadline(_signum, _frame):
    raise Failed(f"se pasó del tiempo límite de {TIMEOUT} s / over the {TIMEOUT} s limit")


def server_url(database: str) -> str:
    """The PostgreSQL server of DATABASE_URL (or the local one) with another database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def trial_database() -> str:
    """SCALEOUT_DATABASE, never the database the environment works with, nor the bench's."""
    current = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if DATABASE in (current, "crm_bench", "postgres"):
        raise Failed(f"SCALEOUT_DATABASE={DATABASE}: the trial drops its database at the end")
    return DATABASE


def recreate(database: str, *, create: bool = True) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as connection:
        name = sql.Identifier(database)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


class PostForms(HTMLParser):
    """What a browser sends for each POST form of a page, untouched: hidden fields, the
    selected (or first) option of each select, checked boxes, text areas."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []  # (action, fields)
        self._fields: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def with_field(self, name: str) -> tuple[str, dict[str, str]] | None:
        return next((form for form in self.forms if name in form[1]), None)

    def handle_starttag(self, tag, attrs):
        attrs = {key: value or "" for key, value in attrs}
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self._fields = {}
            self.forms.append((attrs.get("action", ""), self._fields))
        fields, name = self._fields, attrs.get("name")
        if fields is None:
            return
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                fields.setdefault(name, attrs.get("value", ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if self._select not in fields or "selected" in attrs:
                fields[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._fields = None

    def handle_data(self, data):
        if self._textarea and self._fields is not None:
            self._fields[self._textarea] += data


def cookie_jar(browser: Browser) -> http.cookiejar.CookieJar:
    for handler in browser.opener.handlers:
        if isinstance(handler, urllib.request.HTTPCookieProcessor):
            return handler.cookiejar
    raise Failed("the browser has no cookie jar")


class Children:
    """The processes started, each in a session of its own, killed with everything they
    started, whatever happens."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder, self.env = folder, env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.procs[name]

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def check_running(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name)[-1500:]
                raise Failed(f"{name} se detuvo / stopped (código {proc.returncode}):\n{tail}")

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        ends = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, ends - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what a child left behind, too
            proc.wait(timeout=5)


def wait_for(what: str, predicate, children: Children, seconds: float = 30) -> None:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if predicate():
            return
        children.check_running()
        time.sleep(0.2)
    raise Failed(f"{what}: no ocurrió en {seconds:g} s / did not happen in {seconds:g} s")


def run(folder: Path) -> None:
    started = time.monotonic()
    url = server_url(DATABASE)
    recreate(DATABASE)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SESSION_ENGINE": "crm.core.sessions",
            "EMAIL_DIR": str(folder / "mail"),
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.conf import settings

    from bench.server import _collect_static, _server_env, _wait_ready
    from crm.core.models import User

    User.objects.create_user(USERNAME, password=PASSWORD, role="vendedor")
    env = _server_env(folder)
    _collect_static(folder, env)
    seconds = time.monotonic() - started
    log(f"base de datos {DATABASE} migrada, estáticos recogidos ({seconds:.0f} s)")

    children = Children(folder, env)
    webs = {}
    for index in (1, 2):
        port = free_port()
        children.start(
            f"web{index}",
            [str(BIN / "gunicorn"), "crm.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
            + ["--log-level", "warning", "--timeout", "30"],
        )
        webs[index] = port
    for name, queues in WORKERS.items():
        children.start(
            name,
            [str(BIN / "celery"), "-A", "crm", "worker", "--pool=solo", "-Q", queues]
            + [f"--hostname={name}-{os.getpid()}@%h", "--loglevel=INFO"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
        )
    try:
        for index, port in webs.items():
            _wait_ready(port, children.procs[f"web{index}"])
        log(f"gunicorn 1 en :{webs[1]}, gunicorn 2 en :{webs[2]} (1 worker cada uno)")
        check_sessions_and_data(webs, settings)
        check_static(webs)
        for name in WORKERS:
            wait_for(f"worker {name} listo", lambda n=name: " ready." in children.log(n), children)
        check_queues(children)
    finally:
        children.stop()
        from django.db import connections

        connections.close_all()


def check_sessions_and_data(webs: dict[int, int], settings) -> None:
    one = Browser(f"http://127.0.0.1:{webs[1]}")
    one.sign_in(USERNAME, PASSWORD)
    session = next(c.value for c in cookie_jar(one) if c.name == settings.SESSION_COOKIE_NAME)
    # The same cookies, sent to the other instance (another port: a cookie is per host).
    two = Browser(f"http://127.0.0.1:{webs[2]}")
    for cookie in cookie_jar(one):
        cookie_jar(two).set_cookie(cookie)
    status, page = two.get("/")
    if status != 200 or 'id="global-search"' not in page:
        raise Failed(f"la sesión de la instancia 1 no vale en la 2 / session not shared ({status})")
    _status, stranger_page = Browser(f"http://127.0.0.1:{webs[2]}").get("/")
    if 'id="global-search"' in stranger_page:
        raise Failed("la instancia 2 abre sin sesión / instance 2 signs in without a session")
    import redis

    in_redis = [
        key
        for key in redis.Redis.from_url(REDIS_URL).scan_iter("*cached_db*")
        if session in str(key)
    ]
    if not in_redis:
        raise Failed("la sesión no está en Redis / the session is not in the Redis cache")
    ok("sesión compartida / shared session", "entrada en :1, reconocida en :2, guardada en Redis")

    from accounts.models import Account

    name = f"Ferretería Escalado {os.getpid()}"
    status, page = one.get("/cuentas/nueva/")
    forms = PostForms()
    forms.feed(page)
    form = forms.with_field("name")
    if status != 200 or form is None:
        raise Failed(f"no hay formulario de cuenta en la instancia 1 ({status})")
    action, fields = form
    status, page = one.post(action or "/cuentas/nueva/", {**fields, "name": name})
    account = Account.objects.filter(name=name).first()
    if account is None:
        errors = re.findall(r'class="invalid-feedback[^"]*"[^>]*>\s*<strong>([^<]+)', page)
        raise Failed(f"la instancia 1 no creó la cuenta / not created ({status}): {errors}")
    status, page = two.get(f"/cuentas/{account.pk}/")
    if status != 200 or name not in page:
        raise Failed(f"la instancia 2 no lee la cuenta {account.pk} / cannot read it ({status})")
    ok("datos compartidos / shared data", f"cuenta {account.pk} creada en :1, leída en :2")


def check_static(webs: dict[int, int]) -> None:
    fingerprinted = set()
    for port in webs.values():
        browser = Browser(f"http://127.0.0.1:{port}")
        _status, page = browser.get("/entrar/")
        found = re.search(r'href="(/static/css/crm\.[0-9a-f]{12}\.css)"', page)
        if found is None:
            raise Failed(f"la página de :{port} no enlaza un CSS con huella / no manifest CSS")
        status, css = browser.get(found.group(1))
        if status != 200 or not css:
            raise Failed(f":{port} no sirve {found.group(1)} ({status})")
        fingerprinted.add(found.group(1))
    if len(fingerprinted) != 1:
        raise Failed(
            f"las instancias enlazan estáticos distintos / different files: {fingerprinted}"
        )
    ok("estáticos / static (WhiteNoise)", f"{fingerprinted.pop()} en las dos")


def check_queues(children: Children) -> None:
    from crm.core.queue import enqueue_on_commit

    for name in PROBES:
        enqueue_on_commit(name)  # autocommit: sent to Redis at once, as a page's commit does

    def ran(worker: str, task: str) -> bool:
        return bool(re.search(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", children.log(worker)))

    def all_ran() -> bool:
        return all(any(ran(worker, task) for worker in WORKERS) for task in PROBES)

    wait_for("las tareas de prueba / the probe tasks", all_ran, children, seconds=30)
    consumer = {queue: worker for worker, queues in WORKERS.items() for queue in queues.split(",")}
    for task, queue in PROBES.items():
        by = [worker for worker in WORKERS if ran(worker, task)]
        received = sum(children.log(worker).count(f"Task {task}[") for worker in WORKERS)
        if by != [consumer[queue]] or received != 2:  # one "received", one "succeeded"
            raise Failed(f"{task} (cola {queue}) corrió en {by}, se esperaba {consumer[queue]}")
        ok(f"cola / queue {queue}", f"{task} → worker {by[0]}")


def main() -> int:
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(TIMEOUT)
    started = time.monotonic()
    try:
        trial_database()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        before = set(client.scan_iter("*"))
        with tempfile.TemporaryDirectory(prefix="crm-scaleout-") as name:
            try:
                run(Path(name))
            finally:
                signal.alarm(0)
                recreate(DATABASE, create=False)
                new = set(client.scan_iter("*")) - before
                if new:
                    client.delete(*new)
    except Exception as error:  # whatever it was, the reason is printed and the exit is 1
        log(f"FALLÓ / FAILED: {type(error).__name__}: {error}")
        return 1
    log(
        f"escalado horizontal probado / scale-out tried: 2 gunicorn + 2 workers Celery sobre "
        f"PostgreSQL y Redis compartidos, en {time.monotonic() - started:.0f} s; todo detenido"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
