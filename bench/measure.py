"""Timing a page against its target: a few warm-ups, then N timed requests through the test client
(median and p95) and one more to count the SQL queries; the quote PDF timed by calling its
renderer. One `Row` per page, which every part of the benchmark returns."""

from __future__ import annotations

import importlib
import inspect
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()  # idempotent: a no-op when bench/__main__.py has set Django up

from django.apps import apps  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import breakdown  # noqa: E402
from crm.core.models import User  # noqa: E402

PDF_RUNS = int(os.environ.get("BENCH_PDF_RUNS", "5"))
# Names the quote service may give its renderer (the first found is timed).
PDF_RENDERERS = ("quote_render_pdf", "render_quote_pdf", "quote_pdf_render", "render_pdf")
WARMUPS = 3
RUNS = int(os.environ.get("BENCH_RUNS", "30"))


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
    # Where the time goes (bench/breakdown.py): the median ms of sql, template, view, framework.
    breakdown: dict[str, float] | None = None


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
    row.breakdown = asdict(breakdown.measure(client, url))
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
