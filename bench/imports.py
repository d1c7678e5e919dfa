"""Benchmark of DESIGN.md §4 for imports and exports (issue 10): importing 100,000 contact rows
with dedupe against the 100,000 existing at ≥ 5,000 rows/s, a preview of the same file in
≤ 20 s, and exports of 10,000 and 100,000 contacts whose memory does not grow with the rows.

The file is a realistic CSV made here (seeded, so the same every run): mostly new contacts,
some repeating existing ones by email (in another case) or by phone (in another format), a few
rows repeated within the file, a few errors (a broken email, a short phone, an unknown stage,
an impossible date); names, phones, companies (most existing accounts, some new ones, created),
cities, stages, sources, birthdays, tags and notes like a CRM export's.

The import runs the real path, as the Celery task does: `import_create` then `import_execute`
(the rate is the rows over the time of both). Then `import_undo` reverts it (timed, no target)
and what the run and its undo left behind (their history records, the run and its records,
the audit events, the stored files, the tags made for it) is deleted, so the bench database is
the same run after run. The preview (`import_preview`) classifies the same file and writes
nothing.

Each export runs in a process of its own (`python -m bench.imports --export N FORMAT`) so its
peak RSS is its own (VmHWM: on Linux `ru_maxrss` would carry the bench's peak into the child):
the CSV through `export_response` (the streamed response the view answers, consumed as a
client would), the XLSX through
`write_file` (openpyxl's write-only workbook into a temporary file, as the export task does for
a list too large to answer in the request), of a list holding that many contacts (the first by
id, as an administrator sees them; the bench data has some 99,000 live contacts, so the larger
export is all of them). The target: the peak at the larger size no more than 32 MB above the
peak at 10,000.

Alone: `python -m bench.imports` (after `manage.py migrate` and the bench data).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from django.core.files.storage import default_storage  # noqa: E402
from django.db.models import Q  # noqa: E402

from accounts.models import Account  # noqa: E402
from contacts.imports import runner  # noqa: E402
from contacts.imports.mapping import suggest  # noqa: E402
from contacts.imports.models import ImportRun  # noqa: E402
from contacts.imports.readers import read_table  # noqa: E402
from contacts.imports.rows import ImportOptions  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm.core.models import AuditEvent, Role, User  # noqa: E402

IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
IMPORT_TARGET_RATE = 5000.0
PREVIEW_TARGET_S = 20.0
EXPORT_SIZES = (10_000, 100_000)
EXPORT_FORMATS = ("csv", "xlsx")
# How much more the export of 100,000 rows may take than the export of 10,000 (a file or a
# response that grew with the rows would take some 100 MB more).
EXPORT_GROWTH_MB = 32
FILE_NAME = "bench-importacion.csv"
TAG_POOL = ("Feria 2024", "Cliente VIP", "Newsletter", "Distribuidor", "Expo Monterrey")

# The file's composition (per 1,000 rows): repeats of existing contacts by email and by phone,
# rows repeated within the file, and errors; the rest are new contacts.
PER_MILLE = {"email": 50, "phone": 30, "repeat": 10, "error": 10}

_FIRST = (
    "José", "María", "Juan", "Guadalupe", "Luis", "Ana", "Carlos", "Fernanda", "Jorge", "Sofía",
    "Miguel", "Valeria", "Alejandro", "Daniela", "Ricardo", "Camila", "Francisco", "Mariana",
    "Eduardo", "Lucía", "Javier", "Paola", "Roberto", "Ximena", "Andrés", "Renata",
)  # fmt: skip
_LAST = (
    "Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez",
    "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Jiménez", "Reyes", "Díaz",
    "Torres", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar", "Ortiz", "Castillo", "Núñez", "Peña",
)  # fmt: skip
_CITIES = (
    ("Monterrey", "Nuevo León", "81"), ("Guadalajara", "Jalisco", "33"),
    ("Ciudad de México", "Ciudad de México", "55"), ("Puebla", "Puebla", "222"),
    ("Querétaro", "Querétaro", "442"), ("Mérida", "Yucatán", "999"),
)  # fmt: skip
_TITLES = ("Compras", "Gerente de compras", "Director general", "Contador", "Jefe de almacén", "")
_STAGES = ("Lead", "Suscriptor", "Cliente activo", "MQL (calificado por marketing)", "")
_SOURCES = ("Sitio web", "Referido", "Evento o feria", "Llamada en frío", "")
_ERRORS = (
    ("email", "juan.perez@"),
    ("mobile", "55 1234"),
    ("stage", "Prospecto raro"),
    ("birthday", "31/02/1990"),
)
HEADER = [
    "Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Móvil", "Empresa", "Puesto",
    "Ciudad", "Estado", "Etapa", "Origen", "Cumpleaños", "Etiquetas", "Notas",
]  # fmt: skip


def _row(**kwargs):
    from bench.measure import Row

    return Row(**kwargs)


# The file ---------------------------------------------------------------------------------


def build_csv(n: int = IMPORT_ROWS, seed: int = 10) -> tuple[bytes, dict]:
    """A CSV of `n` rows and what it holds ({"new": …, "email": …, …})."""
    rng = random.Random(seed)
    existing = list(
        Contact.objects.exclude(email="")
        .order_by("pk")
        .values_list("email", "phone", "mobile")[: max(1, n // 10)]
    )
    with_phone = [
        phone or mobile
        for phone, mobile in Contact.objects.filter(~Q(phone="") | ~Q(mobile=""))
        .order_by("-pk")
        .values_list("phone", "mobile")[: max(1, n // 20)]
    ]
    accounts = list(Account.objects.order_by("pk").values_list("name", flat=True)[:2000])
    new_accounts = [f"Comercializadora Bench {i:03d} S.A. de C.V." for i in range(300)]
    counts = dict.fromkeys(("new", *PER_MILLE), 0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    written: list[list[str]] = []
    for i in range(n):
        kind = _kind(rng)
        if kind == "repeat" and not written:
            kind = "new"
        if kind == "repeat":
            row = list(rng.choice(written[-500:]))
            row[0] = row[0].upper()  # the same person typed again
            writer.writerow(row)
            counts[kind] += 1
            continue
        first, last = rng.choice(_FIRST), f"{rng.choice(_LAST)} {rng.choice(_LAST)}"
        city, region, area = rng.choice(_CITIES)
        local = f"{(i * 7919 + 1_000_003) % 10**8:08d}"[: 10 - len(area)]
        mobile = f"{area} {local[:4]} {local[4:]}"
        email = f"{_ascii(first)}.{_ascii(last.split()[0])}{i}@{rng.choice(_DOMAINS)}"
        phone = ""
        if kind == "email":
            email = rng.choice(existing)[0]
            email = email.upper() if rng.random() < 0.3 else email
        elif kind == "phone":
            email = ""
            number = rng.choice(with_phone)  # +525512345678 → (55) 1234-5678
            mobile = f"({number[3:5]}) {number[5:9]}-{number[9:]}"
        roll = rng.random()
        company = (
            rng.choice(accounts)
            if roll < 0.6 and accounts
            else rng.choice(new_accounts)
            if roll < 0.65
            else ""
        )
        birthday = (
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1955, 2000)}"
            if rng.random() < 0.3
            else ""
        )
        tags = "; ".join(rng.sample(TAG_POOL, rng.randint(1, 2))) if rng.random() < 0.3 else ""
        row = [
            first, last, email, phone, mobile, company, rng.choice(_TITLES), city, region,
            rng.choice(_STAGES), rng.choice(_SOURCES), birthday, tags,
            "Visitó el stand en la feria" if rng.random() < 0.1 else "",
        ]  # fmt: skip
        if kind == "error":
            what, bad = rng.choice(_ERRORS)
            row[{"email": 2, "mobile": 4, "stage": 9, "birthday": 11}[what]] = bad
        counts[kind] += 1
        written.append(row)
        writer.writerow(row)
    return out.getvalue().encode("utf-8"), counts


_DOMAINS = ("ejemplo.com.mx", "correo.mx", "empresa.com", "gmail.com", "hotmail.com")


def _kind(rng: random.Random) -> str:
    roll, edge = rng.randrange(1000), 0
    for kind, per_mille in PER_MILLE.items():
        edge += per_mille
        if roll < edge:
            return kind
    return "new"


def _ascii(text: str) -> str:
    from crm.core.text import fold

    return fold(text).replace(" ", "")


# Import and preview -----------------------------------------------------------------------


def _people() -> tuple[User | None, User]:
    """Who imports (an administrator, as the command line's default) and who owns the rows."""
    actor = (
        User.objects.filter(is_active=True)
        .filter(Q(role=Role.ADMINISTRADOR) | Q(is_superuser=True))
        .order_by("pk")
        .first()
    )
    owner = User.objects.filter(is_active=True, role=Role.VENDEDOR).order_by("pk").first() or actor
    return actor, owner


def measure_import() -> list:
    actor, owner = _people()
    if owner is None:
        return [_row(page="importación", url=None, target="-", problems=["sin usuarios"])]
    data, counts = build_csv()
    table = read_table(FILE_NAME, data)
    mapping = suggest(table.header)
    options = ImportOptions(owner_id=owner.pk, country="MX", create_accounts=True)
    composition = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    print(f"Importación: {IMPORT_ROWS:,} filas ({composition}).", flush=True)

    started = time.perf_counter()
    preview = runner.import_preview(actor=actor, table=table, mapping=mapping, options=options)
    preview_s = time.perf_counter() - started
    rows = [
        _row(
            page=f"importación: vista previa de {IMPORT_ROWS:,} filas ({preview.counts_line})",
            url="contacts.imports.runner.import_preview()",
            target=f"≤{PREVIEW_TARGET_S:g} s",
            status="200",
            median_ms=round(preview_s * 1000, 1),
            p95_ms=round(preview_s * 1000, 1),
            passed=preview_s <= PREVIEW_TARGET_S,
            problems=[] if preview_s <= PREVIEW_TARGET_S else ["tiempo"],
        )
    ]

    contacts_before = Contact.objects.count()
    started = time.perf_counter()
    run = runner.import_create(
        actor=actor, file_name=FILE_NAME, data=data, options=options, mapping=mapping
    )
    run = runner.import_execute(run.pk)
    import_s = time.perf_counter() - started
    rate = IMPORT_ROWS / import_s
    problems = []
    if run.status != ImportRun.Status.DONE:
        problems.append(f"estado {run.status}: {run.error_message[:80]}")
    if (run.created, run.duplicates, run.errors) != (
        preview.counts["nuevo"],
        preview.counts["duplicado"],
        preview.counts["error"],
    ):
        problems.append("la importación no coincide con la vista previa")
    if rate < IMPORT_TARGET_RATE:
        problems.append("ritmo")
    rows.append(
        _row(
            page=f"importación: {IMPORT_ROWS:,} filas ({rate:,.0f} filas/s; {run.counts_line})",
            url="import_create() + import_execute()",
            target=f"≥{IMPORT_TARGET_RATE:,.0f} filas/s",
            status="200",
            median_ms=round(import_s * 1000, 1),
            p95_ms=round(import_s * 1000, 1),
            passed=not problems,
            problems=problems,
        )
    )

    started = time.perf_counter()
    try:
        run = runner.import_undo(actor=actor, run=run)
    finally:
        undo_s = time.perf_counter() - started
        _cleanup(run)
    left = Contact.objects.count() - contacts_before
    rows.append(
        _row(
            page=f"importación: deshacer ({run.undo_report.get('contacts_removed', 0):,} "
            "contactos quitados)",
            url="contacts.imports.runner.import_undo()",
            target="medido (sin objetivo)",
            status="200",
            median_ms=round(undo_s * 1000, 1),
            p95_ms=round(undo_s * 1000, 1),
            passed=left == 0,
            problems=[] if left == 0 else [f"quedan {left:,} contactos"],
        )
    )
    return rows


def _cleanup(run: ImportRun) -> None:
    """Delete what the run and its undo left: their history records, audit events, tags made
    for the run and no longer used, the run (with its records) and its stored files."""
    from taggit.models import Tag

    reasons = [f"Importación #{run.pk}", f"Deshacer importación #{run.pk}"]
    since = run.created_at
    for model in (Contact, Account):
        model.history.filter(history_date__gte=since, history_change_reason__in=reasons).delete()
    AuditEvent.objects.filter(target=f"contacts.importrun:{run.pk}").delete()
    Tag.objects.filter(name__in=TAG_POOL, taggit_taggeditem_items=None).delete()
    for stored in (run.file, run.rejected_file):
        if stored and default_storage.exists(stored.name):
            default_storage.delete(stored.name)
    run.delete()
    _vacuum()


def _vacuum() -> None:
    """Leave the tables as the run found them: 90,000 rows written and removed leave as many
    dead rows, which the next measures (the API's lists read contacts_contact) would scan
    until autovacuum came by (in production it does within minutes; here the next measure
    starts at once). VACUUM ANALYZE the tables the import and its undo wrote, and rebuild
    their indexes (`restore_tables`)."""
    from taggit.models import TaggedItem

    from contacts.imports.models import ImportedRecord
    from contacts.models import Consent, ConsentLatest

    models = (Contact, Contact.history.model, Account, Account.history.model, TaggedItem)
    models += (Consent, ConsentLatest, ImportedRecord)
    restore_tables([model._meta.db_table for model in models])


def restore_tables(tables: list[str]) -> None:
    """VACUUM ANALYZE these tables, then REINDEX them. A vacuum frees the dead rows but not
    the index pages they took: each run of the bench writes and removes some 200,000 contacts
    (the campaign's, the import's), and without a rebuild the indexes of contacts_contact grew
    run after run (the stage index from 3 to 13 MB in four runs), and so did every page time
    that reads them. The rebuild gives the next measure, and the next run, the indexes the
    data build left."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            name = connection.ops.quote_name(table)
            cursor.execute(f"VACUUM (ANALYZE) {name}")
            cursor.execute(f"REINDEX TABLE {name}")


# Exports ----------------------------------------------------------------------------------


def measure_exports() -> list:
    rows = []
    for fmt in EXPORT_FORMATS:
        results = {}
        for size in EXPORT_SIZES:
            done = subprocess.run(
                [sys.executable, "-m", "bench.imports", "--export", str(size), fmt],
                capture_output=True,
                text=True,
                check=False,
            )
            try:
                results[size] = json.loads(done.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                results[size] = {"error": (done.stderr or done.stdout)[-300:]}
        rows.append(_export_row(fmt, results))
    return rows


def _export_row(fmt: str, results: dict) -> object:
    small, large = (results[size] for size in EXPORT_SIZES)
    label = f"exportación {fmt.upper()}"
    target = f"pico RSS a {EXPORT_SIZES[-1]:,} ≤ a {EXPORT_SIZES[0]:,} + {EXPORT_GROWTH_MB} MB"
    if "error" in small or "error" in large:
        error = small.get("error") or large.get("error")
        return _row(page=label, url=None, target=target, problems=[f"error: {error}"])
    growth = (large["peak_kb"] - small["peak_kb"]) / 1024
    problems = []
    live = Contact.objects.filter(archived_at=None).count()
    for result, size in ((small, EXPORT_SIZES[0]), (large, EXPORT_SIZES[1])):
        if result["rows"] != min(size, live):
            problems.append(f"{result['rows']:,} filas de {min(size, live):,}")
    if growth > EXPORT_GROWTH_MB:
        problems.append("memoria")
    peaks = "; ".join(
        f"{r['rows']:,}: pico {r['peak_kb'] / 1024:.0f} MB (inicio {r['start_kb'] / 1024:.0f} MB), "
        f"{r['seconds']:.1f} s"
        for size, r in zip(EXPORT_SIZES, (small, large), strict=True)
    )
    return _row(
        page=f"{label} ({peaks})",
        url="export_response()" if fmt == "csv" else "write_file() (tarea de exportación)",
        target=target,
        status="200",
        median_ms=round(small["seconds"] * 1000, 1),
        p95_ms=round(large["seconds"] * 1000, 1),
        passed=not problems,
        problems=problems,
    )


def export_child(size: int, fmt: str) -> dict:
    """Export `size` contacts as `fmt` in this process, and what it took (peak RSS in kB)."""
    import tempfile

    from django.http import QueryDict
    from django.test import RequestFactory

    from contacts import selectors
    from crm.core.exports import export_response, exporter, write_file

    actor, _owner = _people()
    # The list itself holds `size` contacts (the first by id), so the export's query is the
    # real one for a list of that size, not the whole list cut short while read.
    last = (
        Contact.objects.filter(archived_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)[size - 1 : size]
        .first()
    )
    contact_list = selectors.contact_list
    if last is not None:  # else the list holds fewer: all of them
        selectors.contact_list = lambda **kw: contact_list(**kw).filter(pk__lte=last)
    spec = exporter("contacts")(user=actor, params=QueryDict())
    counted = 0
    source = spec.rows

    def limited():
        nonlocal counted
        for row in source:
            counted += 1
            yield row

    start_kb = _peak_kb()
    started = time.perf_counter()
    written = 0
    if fmt == "csv":
        request = RequestFactory().get("/contactos/exportar/", {"formato": "csv"})
        response = export_response(
            request, rows=limited(), headers=spec.headers, filename=spec.title, fmt="csv"
        )
        for chunk in response.streaming_content:
            written += len(chunk)
    else:
        with tempfile.TemporaryFile() as target:
            spec.rows = limited()
            write_file(target, spec, "xlsx")
            written = target.tell()
    return {
        "rows": counted,
        "bytes": written,
        "seconds": round(time.perf_counter() - started, 2),
        "start_kb": start_kb,
        "peak_kb": _peak_kb(),
    }


def _peak_kb() -> int:
    """This process's peak RSS in kB: VmHWM where Linux gives it (ru_maxrss there keeps the
    parent's peak across fork and exec, so a child would start at the bench's own), else
    ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure() -> list:
    return measure_import() + measure_exports()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--export"]:
        print(json.dumps(export_child(int(sys.argv[2]), sys.argv[3])))
        sys.exit(0)
    for result in measure():
        print(result)
