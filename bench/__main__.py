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

import importlib
import inspect
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
# Pages render `{% static %}`; without collectstatic the manifest storage would answer 500.
os.environ.setdefault(
    "STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage"
)

import django  # noqa: E402

django.setup()

import phonenumbers  # noqa: E402
from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connection, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm.core.models import Role, User  # noqa: E402

TARGET_CONTACTS = 100_000
TARGET_ACCOUNTS = 20_000
TARGET_OPPORTUNITIES = 50_000
TARGET_ACTIVITIES = 300_000
SEED_TARGET_SECONDS = 120  # the whole §4 data set ("well under two minutes")
SALES_SEED_TARGET_SECONDS = 60  # only the sales data, on an existing database
PDF_RUNS = int(os.environ.get("BENCH_PDF_RUNS", "5"))
# Names the quote service may give its renderer (the first found is timed).
PDF_RENDERERS = ("quote_render_pdf", "render_quote_pdf", "quote_pdf_render", "render_pdf")
WARMUPS = 3
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
RESULTS = Path(__file__).resolve().parent / "results.json"

# The §4 data set beyond accounts and contacts: the sales data seed_demo builds, and what it
# does not build yet (reported as not built).
SALES_MODELS = {
    "opportunities.Opportunity": TARGET_OPPORTUNITIES,
    "opportunities.Activity": TARGET_ACTIVITIES,
}
TARGET_TICKETS = 20_000
SUPPORT_SEED_TARGET_SECONDS = 60  # only the support data, on an existing database
LATER_MODELS = {
    **SALES_MODELS,
    "support.Ticket": TARGET_TICKETS,
}


@dataclass
class Target:
    median_ms: float | None
    p95_ms: float
    queries: int | None

    def describe(self) -> str:
        parts = []
        if self.median_ms is not None:
            parts.append(f"med≤{self.median_ms:g}")
        parts.append(f"p95≤{self.p95_ms:g}")
        if self.queries is not None:
            parts.append(f"q≤{self.queries}")
        return " ".join(parts)


PAGE_TARGET = Target(median_ms=30, p95_ms=80, queries=12)
SEARCH_TARGET = Target(median_ms=None, p95_ms=100, queries=None)
# ¿Quién llama? (issue #4): p95 ≤ 100 ms, and its queries bounded like a page's.
CALLER_TARGET = Target(median_ms=None, p95_ms=100, queries=12)
FORECAST_TARGET = Target(median_ms=None, p95_ms=150, queries=None)
PDF_TARGET = "medido (sin objetivo)"


@dataclass
class Row:
    page: str
    url: str | None
    target: str
    status: str = "missing"
    median_ms: float | None = None
    p95_ms: float | None = None
    queries: int | None = None
    passed: bool | None = None
    problems: list[str] = field(default_factory=list)


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


# -- data -------------------------------------------------------------------------------------


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


def _unapplied_migrations() -> bool:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _ensure_data() -> dict:
    contacts, accounts = Contact.objects.count(), Account.objects.count()
    opportunities, activities = (
        _count("opportunities.Opportunity"),
        _count("opportunities.Activity"),
    )
    missing_opportunities = max(0, TARGET_OPPORTUNITIES - opportunities)
    missing_activities = max(0, TARGET_ACTIVITIES - activities)
    data: dict = {"seed": None, "sales_seed": None}
    previous = _previous_run()
    if contacts < TARGET_CONTACTS:
        missing_contacts = TARGET_CONTACTS - contacts
        missing_accounts = max(0, TARGET_ACCOUNTS - accounts)
        print(
            f"Construyendo datos: {missing_contacts:,} contactos, {missing_accounts:,} cuentas, "
            f"{missing_opportunities:,} oportunidades y {missing_activities:,} actividades "
            "con seed_demo…",
            flush=True,
        )
        data["seed"] = _seed(
            {
                "contacts": missing_contacts,
                "accounts": missing_accounts,
                "opportunities": missing_opportunities,
                "activities": missing_activities,
            },
            SEED_TARGET_SECONDS,
        )
    else:
        print(f"Datos existentes: {contacts:,} contactos, {accounts:,} cuentas (no se construyen).")
        data["seed"] = previous.get("seed")
        if missing_opportunities or missing_activities:
            print(
                f"Construyendo solo los datos de ventas: {missing_opportunities:,} oportunidades "
                f"y {missing_activities:,} actividades con seed_demo --only-sales…",
                flush=True,
            )
            data["sales_seed"] = _seed(
                {
                    "only_sales": True,
                    "opportunities": missing_opportunities,
                    "activities": missing_activities,
                },
                SALES_SEED_TARGET_SECONDS,
            )
        else:
            data["sales_seed"] = previous.get("sales_seed")
        missing_tickets = max(0, TARGET_TICKETS - _count("support.Ticket"))
        if missing_tickets:
            print(
                f"Construyendo solo los datos de soporte: {missing_tickets:,} incidencias "
                "con seed_demo --only-support…",
                flush=True,
            )
            data["support_seed"] = _seed(
                {"only_support": True, "tickets": missing_tickets},
                SUPPORT_SEED_TARGET_SECONDS,
            )
        else:
            data["support_seed"] = previous.get("support_seed")
    counts = {
        "accounts.Account": Account.objects.count(),
        "contacts.Contact": Contact.objects.count(),
        "contacts.Consent": apps.get_model("contacts", "Consent").objects.count(),
        "taggit.TaggedItem": apps.get_model("taggit", "TaggedItem").objects.count(),
        "crm.User": User.objects.count(),
    }
    for label in (
        "opportunities.StageChange",
        "opportunities.LineItem",
        "opportunities.Product",
        "opportunities.Quota",
    ):
        counts[label] = _count(label)
    not_built = {}
    for label, target in LATER_MODELS.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            not_built[label] = f"el modelo no existe todavía (objetivo §4: {target:,})"
            continue
        counts[label] = model.objects.count()
        if counts[label] < target:
            not_built[label] = f"seed_demo aún no lo genera ({counts[label]:,} de {target:,})"
    data["counts"] = counts
    data["not_built"] = not_built
    return data


def _count(label: str) -> int:
    try:
        return apps.get_model(label).objects.count()
    except LookupError:
        return 0


def _seed(options: dict, target_seconds: int) -> dict:
    """Run seed_demo with `options`, echo its progress and return what it took."""
    out = StringIO()
    started = time.perf_counter()
    call_command("seed_demo", stdout=out, **options)
    seconds = time.perf_counter() - started
    print(out.getvalue().split("\n\n")[0])
    return {
        **options,
        "seconds": round(seconds, 1),
        "target_seconds": target_seconds,
        "passed": seconds < target_seconds,
    }


def _previous_run() -> dict:
    """The build times measured by an earlier run on this same database, if there was one."""
    try:
        previous = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}
    same = (
        previous.get("database", {}).get("name")
        == str(settings.DATABASES[DEFAULT_DB_ALIAS].get("NAME"))
        and previous.get("database", {}).get("vendor") == connection.vendor
    )
    if not same:
        return {}
    found = {}
    for key in ("seed", "sales_seed", "support_seed"):
        seed = previous.get("data", {}).get(key)
        if seed:
            seed.setdefault("measured", previous.get("date"))
            found[key] = seed
    return found


def _rep() -> User | None:
    rep = User.objects.filter(username="vendedor1", role=Role.VENDEDOR).first()
    if rep is None or not Account.objects.filter(owner=rep).exists():
        rep = User.objects.filter(role=Role.VENDEDOR, accounts__isnull=False).order_by("pk").first()
    return rep


def _manager(rep: User) -> User | None:
    """The manager who sees the forecast: gerente1 if it leads a team, else the rep's manager,
    else any manager who leads a team."""
    managers = User.objects.filter(role=Role.GERENTE, managed_teams__isnull=False).distinct()
    return (
        managers.filter(username="gerente1").first()
        or managers.filter(managed_teams__members=rep).order_by("pk").first()
        or managers.order_by("pk").first()
    )


# -- pages --------------------------------------------------------------------------------------


def _pages(rep: User) -> list[tuple[str, str, tuple, dict, Target]]:
    """(label, URL name, args, query, target) for every measured page, with real rows of `rep`."""
    account = (
        Account.objects.filter(owner=rep, archived_at=None, contacts__isnull=False)
        .exclude(tax_id="")
        .order_by("pk")
        .first()
        or Account.objects.filter(owner=rep).order_by("pk").first()
    )
    contact = (
        Contact.objects.filter(owner=rep, archived_at=None, account__isnull=False)
        .exclude(mobile="")
        .exclude(email="")
        .order_by("pk")
        .first()
        or Contact.objects.filter(owner=rep).order_by("pk").first()
    )
    account_pk = account.pk if account else 0
    contact_pk = contact.pk if contact else 0
    name = _accentless_name(rep)
    email_fragment = contact.email.split("@")[0] if contact and contact.email else "gmail"
    phone = _reformatted_phone(contact.mobile or contact.phone) if contact else "55 1234"
    tax_id = account.tax_id if account and account.tax_id else "XAX010101000"
    return [
        ("cuentas: lista", "accounts:account-list", (), {}, PAGE_TARGET),
        (
            "cuentas: filtrada",
            "accounts:account-list",
            (),
            {"status": "activo", "tier": "A"},
            PAGE_TARGET,
        ),
        ("cuentas: página 400", "accounts:account-list", (), {"page": 400}, PAGE_TARGET),
        ("contactos: lista", "contacts:contact-list", (), {}, PAGE_TARGET),
        (
            "contactos: filtrada",
            "contacts:contact-list",
            (),
            {"lifecycle": "mql", "consent": "grant"},
            PAGE_TARGET,
        ),
        ("contactos: página 2000", "contacts:contact-list", (), {"page": 2000}, PAGE_TARGET),
        # The lists' totals load after the page, by their own request (crm.core.forms_utils).
        ("cuentas: total", "accounts:account-count", (), {}, PAGE_TARGET),
        ("contactos: total", "contacts:contact-count", (), {}, PAGE_TARGET),
        (
            "contactos: total filtrado",
            "contacts:contact-count",
            (),
            {"lifecycle": "mql", "consent": "grant"},
            PAGE_TARGET,
        ),
        ("cuenta: ficha", "accounts:account-detail", (account_pk,), {}, PAGE_TARGET),
        (
            "cuenta: panel contactos",
            "contacts:account-contacts-panel",
            (account_pk,),
            {},
            PAGE_TARGET,
        ),
        ("contacto: ficha", "contacts:contact-detail", (contact_pk,), {}, PAGE_TARGET),
        (f"buscar nombre «{name}»", "crm:search", (), {"q": name}, SEARCH_TARGET),
        (
            f"buscar correo «{email_fragment}»",
            "crm:search",
            (),
            {"q": email_fragment},
            SEARCH_TARGET,
        ),
        (f"buscar teléfono «{phone}»", "crm:search", (), {"q": phone}, SEARCH_TARGET),
        (f"buscar RFC/CIF «{tax_id}»", "crm:search", (), {"q": tax_id}, SEARCH_TARGET),
    ]


def _sales_pages(rep: User, manager: User | None) -> list[tuple]:
    """The pages of the sales module (issue #3): (label, URL name, args, query, target, who)."""
    Opportunity = apps.get_model("opportunities", "Opportunity")
    Stage = apps.get_model("opportunities", "Stage")
    proposal = Stage.objects.filter(pipeline__is_default=True, name="Propuesta").first()
    mine = Opportunity.objects.filter(owner=rep)
    opportunity = (
        mine.filter(line_items__isnull=False, activities__isnull=False).order_by("pk").first()
        or mine.order_by("pk").first()
    )
    today = timezone.localdate()
    period = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return [
        ("oportunidades: tablero", "opportunities:board", (), {}, PAGE_TARGET, "rep"),
        ("oportunidades: lista", "opportunities:opportunity-list", (), {}, PAGE_TARGET, "rep"),
        (
            "oportunidades: en Propuesta",
            "opportunities:opportunity-list",
            (),
            {"stage": proposal.pk if proposal else 0},
            PAGE_TARGET,
            "rep",
        ),
        (
            "oportunidades: página 400",
            "opportunities:opportunity-list",
            (),
            {"page": 400},
            PAGE_TARGET,
            "rep",
        ),
        (
            "oportunidad: ficha",
            "opportunities:opportunity-detail",
            (opportunity.pk if opportunity else 0,),
            {},
            PAGE_TARGET,
            "rep",
        ),
        ("agenda", "opportunities:agenda", (), {}, PAGE_TARGET, "rep"),
        (
            f"previsión {period} (gerente)",
            "opportunities:forecast",
            (),
            {"period": period},
            FORECAST_TARGET,
            "manager",
        ),
    ]


def _agent() -> User | None:
    """The support agent measured: soporte1 if it has tickets, else whoever has the most."""
    Ticket = apps.get_model("support", "Ticket")
    agent = User.objects.filter(username="soporte1", role=Role.SOPORTE).first()
    if agent is not None and Ticket.objects.filter(assignee=agent).exists():
        return agent
    return (
        User.objects.filter(role=Role.SOPORTE, is_active=True).order_by("pk").first()
        if not Ticket.objects.exists()
        else User.objects.filter(role=Role.SOPORTE, assigned_tickets__isnull=False)
        .order_by("pk")
        .first()
    )


def _support_pages(agent: User, rep: User) -> list[tuple]:
    """The pages of the support module (issue #4): (label, URL name, args, query, target, who)."""
    Ticket = apps.get_model("support", "Ticket")
    Comment = apps.get_model("support", "Comment")
    ticket = (
        Ticket.objects.filter(assignee=agent, pk__in=Comment.objects.values("ticket"))
        .order_by("-pk")
        .first()
        or Ticket.objects.order_by("-pk").first()
    )
    rep_account = (
        Account.objects.filter(owner=rep, tickets__isnull=False).order_by("pk").first()
        or Account.objects.filter(owner=rep).order_by("pk").first()
    )
    caller = (
        Contact.objects.filter(tickets__isnull=False, archived_at=None)
        .exclude(mobile="")
        .order_by("pk")
        .first()
    )
    national = _national(caller.mobile) if caller else "5512345678"
    spaced = f"{national[:2]} {national[2:6]} {national[6:]}"
    ticket_pk = ticket.pk if ticket else 0
    # A customer's name as an agent types it: the last name of a ticket's contact, with its
    # first name, matched in the contact's own search text (support.selectors.tickets).
    customer = ticket.contact.full_name if ticket and ticket.contact_id else "García López"
    return [
        ("incidencias: abiertas", "support:ticket-list", (), {}, PAGE_TARGET, "support"),
        ("incidencias: mías", "support:ticket-list", (), {"queue": "mine"}, PAGE_TARGET, "support"),
        (
            "incidencias: vencidas",
            "support:ticket-list",
            (),
            {"queue": "breached"},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: vencen pronto",
            "support:ticket-list",
            (),
            {"queue": "soon"},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: todas, página 200",
            "support:ticket-list",
            (),
            {"queue": "all", "page": 200},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: texto «pedido»",
            "support:ticket-list",
            (),
            {"queue": "all", "q": "pedido"},
            PAGE_TARGET,
            "support",
        ),
        (
            f"incidencias: cliente «{customer}»",
            "support:ticket-list",
            (),
            {"queue": "all", "q": customer},
            PAGE_TARGET,
            "support",
        ),
        ("incidencias: total", "support:ticket-list-count", (), {}, PAGE_TARGET, "support"),
        ("incidencia: ficha", "support:ticket-detail", (ticket_pk,), {}, PAGE_TARGET, "support"),
        (
            "incidencia: conversación",
            "support:ticket-comments",
            (ticket_pk,),
            {},
            PAGE_TARGET,
            "support",
        ),
        (
            "cuenta: panel incidencias (vendedor)",
            "support:account-tickets-panel",
            (rep_account.pk if rep_account else 0,),
            {},
            PAGE_TARGET,
            "rep",
        ),
        (
            f"¿quién llama? «+52 1 {spaced}»",
            "crm:caller",
            (),
            {"q": f"+52 1 {spaced}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? «044 {spaced}»",
            "crm:caller",
            (),
            {"q": f"044 {spaced}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? «{national[2:6]} {national[6:]}»",
            "crm:caller",
            (),
            {"q": f"{national[2:6]} {national[6:]}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? 3 dígitos «{national[-3:]}»",
            "crm:caller",
            (),
            {"q": national[-3:]},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? vendedor «{spaced}»",
            "crm:caller",
            (),
            {"q": spaced},
            CALLER_TARGET,
            "rep",
        ),
        ("panel de soporte (30 días)", "support:dashboard", (), {}, FORECAST_TARGET, "support"),
    ]


def _national(e164: str) -> str:
    """The national significant number of a stored phone: "+525512345678" → "5512345678"."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164
        ).removeprefix("+")[-10:]
    except phonenumbers.NumberParseException:
        return "5512345678"


def _accentless_name(rep: User) -> str:
    """A common surname that people write with an accent, typed without it ("perez")."""
    for surname in ("Pérez", "Hernández", "Martínez", "González", "Rodríguez", "López"):
        if Contact.objects.filter(owner=rep, last_name__startswith=surname).exists():
            return (
                surname.lower()
                .replace("é", "e")
                .replace("á", "a")
                .replace("í", "i")
                .replace("ó", "o")
            )
    contact = Contact.objects.filter(owner=rep).order_by("pk").first()
    return contact.last_name.split()[0].lower() if contact else "perez"


def _reformatted_phone(e164: str) -> str:
    """The stored "+525512345678" as a person types it: " 55 1234 5678"."""
    if not e164:
        return "55 1234"
    number = phonenumbers.parse(e164, None)
    return " " + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# -- measuring ----------------------------------------------------------------------------------


def _measure(
    client: Client, label: str, name: str, args: tuple, query: dict, target: Target
) -> Row:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return Row(page=label, url=None, target=target.describe(), problems=[f"{name} no existe"])
    if query:
        url = f"{url}?{urlencode(query)}"
    row = Row(page=label, url=url, target=target.describe())
    response = client.get(url)
    if response.status_code != 200:
        row.status = str(response.status_code)
        row.passed = False
        return row
    row.status = "200"
    for _ in range(WARMUPS - 1):
        client.get(url)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            row.status = str(response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    row.queries = len(queries)
    timings.sort()
    row.median_ms = round(statistics.median(timings), 1)
    row.p95_ms = round(timings[math.ceil(0.95 * len(timings)) - 1], 1)
    if target.median_ms is not None and row.median_ms > target.median_ms:
        row.problems.append("mediana")
    if row.p95_ms > target.p95_ms:
        row.problems.append("p95")
    if target.queries is not None and row.queries > target.queries:
        row.problems.append("consultas")
    if row.status != "200":
        row.problems.append("estado")
    row.passed = not row.problems
    return row


def _measure_quote_pdf(rep: User) -> Row:
    """Time the quote service's PDF renderer (WeasyPrint) on a quote of one of `rep`'s deals.

    An issued quote of the rep is used if there is one; otherwise an unsaved quote is built in
    memory from a deal's lines, so the benchmark writes nothing.
    """
    label = "cotización: PDF"
    try:
        module = importlib.import_module("opportunities.services.quotes")
    except ImportError:
        module = None
    render = next(
        (getattr(module, name) for name in PDF_RENDERERS if callable(getattr(module, name, None))),
        None,
    )
    if render is None:
        return Row(page=label, url=None, target=PDF_TARGET, problems=["no hay función de PDF"])
    row = Row(page=label, url=f"{module.__name__}.{render.__name__}()", target=PDF_TARGET)
    try:
        argument = _pdf_argument(render, rep)
        render(argument)  # warm-up: WeasyPrint's import and fonts
        timings = []
        for _ in range(PDF_RUNS):
            started = time.perf_counter()
            pdf = render(argument)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            render(argument)
    except Exception as exc:  # noqa: BLE001 - reported in the table, the rest still runs
        row.status = "error"
        row.passed = False
        row.problems.append(f"{type(exc).__name__}: {exc}"[:120])
        return row
    if not (isinstance(pdf, bytes | bytearray) and bytes(pdf[:5]) == b"%PDF-"):
        row.problems.append("no devuelve un PDF")
    row.status = "200"
    row.queries = len(queries)
    timings.sort()
    row.median_ms = round(statistics.median(timings), 1)
    row.p95_ms = round(timings[math.ceil(0.95 * len(timings)) - 1], 1)
    row.passed = not row.problems
    return row


def _pdf_argument(render, rep: User):
    """What the renderer takes: a quote (issued, or built in memory) or the opportunity."""
    Opportunity = apps.get_model("opportunities", "Opportunity")
    Quote = apps.get_model("opportunities", "Quote")
    first = next(iter(inspect.signature(render).parameters), "quote")
    opportunity = (
        Opportunity.objects.filter(owner=rep, line_items__isnull=False)
        .select_related("account", "contact", "owner")
        .order_by("pk")
        .first()
    )
    if opportunity is None:
        raise LookupError(f"{rep.username} no tiene oportunidades con líneas")
    if "quote" not in first:
        return opportunity
    issued = (
        Quote.objects.filter(opportunity__owner=rep)
        .select_related("opportunity__account", "opportunity__contact", "opportunity__owner")
        .order_by("-pk")
        .first()
    )
    if issued is not None:
        return issued
    from opportunities.money import line_totals

    lines, subtotal, tax_total = [], Decimal("0"), Decimal("0")
    for line in opportunity.line_items.select_related("product").order_by("position", "pk"):
        net, tax = line_totals(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_pct=line.discount_pct,
            tax_rate=line.tax_rate,
        )
        subtotal, tax_total = subtotal + net, tax_total + tax
        lines.append(
            {
                "description": line.description,
                "sku": line.product.sku if line.product else "",
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "discount_pct": str(line.discount_pct),
                "tax_rate": str(line.tax_rate),
                "net": str(net),
                "tax": str(tax),
            }
        )
    return Quote(
        opportunity=opportunity,
        number=f"COT-{timezone.localdate().year}-BENCH",
        version=1,
        created_by=rep,
        created_at=timezone.now(),
        valid_until=timezone.localdate() + timedelta(days=30),
        terms="Precios más IVA. Vigencia de 30 días.",
        currency=opportunity.currency,
        subtotal=subtotal,
        tax_total=tax_total,
        total=subtotal + tax_total,
        lines=lines,
    )


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
        if row.median_ms is None:
            result = "missing" if row.url is None else f"HTTP {row.status}"
            if row.url is not None and row.problems:
                result = "; ".join(row.problems)
            table.append((row.page, "—", "—", "—", row.target, result))
            continue
        result = "pass" if row.passed else "FAIL (" + ", ".join(row.problems) + ")"
        table.append(
            (
                row.page,
                f"{row.median_ms:.1f}",
                f"{row.p95_ms:.1f}",
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
