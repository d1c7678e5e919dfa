"""Every list's export to CSV or Excel: streamed, formulas neutralised, audited (DESIGN.md §5).

Each app describes its lists' exports in its own `exports.py`: a builder registered under the
list's name (`@register("accounts")`) takes the user and the list's query string and answers an
`ExportSpec` (headers, lazy rows read with `.iterator()`, a count). This module turns one into a
response: CSV streamed row by row (UTF-8 with a BOM so Excel reads the accents), or an Excel
file written by openpyxl's write-only workbook to a temporary file (memory stays flat) and sent
from it. Which rows a user may export is decided once, in crm.core.permissions (`export_scope_q`):
a rep exports only their own portfolio, even where they read more on screen.

An export above EXPORT_SYNC_MAX_ROWS is not made in the request: a task (`crm.export_build`)
writes the file under MEDIA_ROOT/exports/ (never served as media) and emails the user a signed
link, valid for a day, to `export_download`, which answers only that user.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import logging
import re
import tempfile
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm.core.audit import audit
from crm.core.forms_utils import client_ip
from crm.core.models import AuditEvent, User
from crm.core.permissions import can_export

logger = logging.getLogger(__name__)

# OWASP "CSV injection": a cell starting with one of these is run as a formula by a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMAT_PARAM = "formato"
# Parameters of the list's URL that are not filters: not recorded, not passed to the builder.
NOT_FILTERS = {FORMAT_PARAM, "page"}
CHUNK_SIZE = 2000
LINK_MAX_AGE = 24 * 60 * 60  # seconds: the emailed link works for a day
LINK_SALT = "crm.core.exports.download"
EXPORT_DIR = "exports"
TASK_NAME = "crm.export_build"
SPOOL_BYTES = 8 * 1024 * 1024  # an Excel file larger than this goes to disk before it is sent


# A cell of only these is a number or a phone ("+52 55 1234 5678", "-1500.75"): a spreadsheet
# reads it as a number, which runs nothing, and an apostrophe would spoil it.
NUMBERISH = frozenset("0123456789 +-().,")


def in_chunks(queryset, size: int = CHUNK_SIZE) -> Iterator:
    """The rows of `queryset`, in its order, read `size` at a time: memory stays flat whatever
    the number of rows.

    Not `.iterator()`: on PostgreSQL the project turns server-side cursors off (settings: they
    break behind a transaction-pooling PgBouncer), and without one the driver fetches the whole
    result at once. The ordered ids come first (a few bytes a row), then each chunk of rows by
    its ids, with the queryset's joins, annotations and prefetches.
    """
    ids = list(queryset.values_list("pk", flat=True))
    rows = queryset.order_by()
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        found = {row.pk: row for row in rows.filter(pk__in=chunk)}
        for pk in chunk:
            if pk in found:
                yield found.pop(pk)


def safe_cell(value):
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe: one
    starting with = @ tab or CR, or with + or - unless it is only a number or a phone."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if value[0] in "+-" and set(value) <= NUMBERISH:
        return value
    return "'" + value


@dataclass
class ExportSpec:
    """One list's export for one user: what a builder answers (see the module's docstring)."""

    name: str  # the list, as crm.core.permissions.EXPORT_SCOPES names it
    title: str  # the file's name without extension, e.g. "cuentas"
    headers: list[str]
    rows: Iterable[tuple]  # lazy: read with `in_chunks(queryset)`
    count: Callable[[], int]
    filters: dict = field(default_factory=dict)


Builder = Callable[..., ExportSpec]
EXPORTERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a list's builder, `builder(*, user, params: QueryDict) -> ExportSpec`."""

    def decorator(builder: Builder) -> Builder:
        EXPORTERS[name] = builder
        builder.export_name = name
        return builder

    return decorator


def exporter(name: str) -> Builder:
    """The builder of list `name`, importing every app's `exports` module if need be (a
    worker has not imported the views that name them)."""
    if name not in EXPORTERS:
        autodiscover_modules("exports")
    return EXPORTERS[name]


# What the audit keeps of a filter's value: the query string is the user's to type.
AUDIT_VALUE_CHARS = 200
AUDIT_FILTERS = 30


def _audit_text(value: str) -> str:
    # PostgreSQL's jsonb refuses a NUL character; a 100,000-character value is nobody's filter.
    return value.replace("\x00", "")[:AUDIT_VALUE_CHARS]


def filters_of(params: QueryDict) -> dict:
    """The list's query string as the audit records it: one value, or the list of several;
    NUL characters dropped and each value cut to AUDIT_VALUE_CHARS."""
    filters = {}
    for key, values in params.lists():
        if key in NOT_FILTERS or not any(values) or len(filters) >= AUDIT_FILTERS:
            continue
        cleaned = [_audit_text(value) for value in values[:AUDIT_FILTERS]]
        filters[_audit_text(key)] = cleaned if len(cleaned) > 1 else cleaned[0]
    return filters


# Cells -------------------------------------------------------------------------------------


def _local(value: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def csv_value(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("sí") if value else _("no")
    if isinstance(value, datetime.datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value
    return safe_cell(str(value))


def xlsx_value(value) -> object:
    """Numbers stay numbers and dates dates (naive, in the user's time zone: Excel has none)."""
    if isinstance(value, bool):
        return _("sí") if value else _("no")
    if value is None or isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime.datetime):
        return _local(value).replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(headers: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheets read the accents as UTF-8
    yield writer.writerow([csv_value(h) for h in headers])
    for row in rows:
        yield writer.writerow([csv_value(v) for v in row])


def write_xlsx(target: IO[bytes], headers: list[str], rows: Iterable[tuple], title: str) -> None:
    """The rows as one sheet, written as they come (openpyxl's write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Hoja1")
    bold = Font(bold=True)
    head = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=xlsx_value(text))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in rows:
        sheet.append([xlsx_value(v) for v in row])
    workbook.save(target)


def write_file(target: IO[bytes], spec: ExportSpec, fmt: str) -> None:
    if fmt == "xlsx":
        write_xlsx(target, spec.headers, spec.rows, spec.title)
        return
    for line in csv_lines(spec.headers, spec.rows):
        target.write(line.encode("utf-8"))


@contextlib.contextmanager
def _as_user(user: User):
    """The user's language and time zone, for a file made outside their request."""
    try:
        tz = zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    with translation.override(settings.LANGUAGE_CODE), timezone.override(tz):
        yield


def _in_context(lines: Iterator[str], language: str | None, tz) -> Iterator[str]:
    """Write a streamed body in the request's language and time zone: the rows are read after
    the view has returned, when the middleware's are no longer certain."""
    with translation.override(language), timezone.override(tz):
        yield from lines


# Responses ---------------------------------------------------------------------------------


def export_response(
    request: HttpRequest, *, rows: Iterable[tuple], headers: list[str], filename: str, fmt: str
) -> HttpResponse:
    """`rows` as a CSV streamed row by row, or an Excel file sent from a temporary file.

    `filename` without its extension. The caller audits (`audit_export`).
    """
    if fmt not in FORMATS:
        raise Http404(_("Formato de exportación desconocido."))
    name = f"{filename}.{fmt}"
    if fmt == "csv":
        lines = _in_context(
            csv_lines(headers, rows), translation.get_language(), timezone.get_current_timezone()
        )
        response = StreamingHttpResponse(lines, content_type=FORMATS["csv"])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    target = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (FileResponse closes it)
    write_xlsx(target, headers, rows, filename)
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=name, content_type=FORMATS["xlsx"])


def audit_export(
    *, user: User, name: str, filters: dict, rows: int, fmt: str, ip=None, queued=False
) -> None:
    audit(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        target=f"list:{name}",
        detail={
            "list": name,
            "format": fmt,
            "rows": rows,
            "filters": filters,
            **({"queued": True} if queued else {}),
        },
        ip=ip,
    )


def export_view(builder: Builder) -> Callable[[HttpRequest], HttpResponse]:
    """The `…/exportar/?<the list's filters>&formato=csv|xlsx` view of a list."""

    @require_http_methods(["GET"])
    def view(request: HttpRequest) -> HttpResponse:
        fmt = request.GET.get(FORMAT_PARAM, "csv")
        if fmt not in FORMATS:
            raise Http404(_("Formato de exportación desconocido."))
        if not can_export(request.user, builder.export_name):
            raise PermissionDenied(_("Tu rol no puede exportar esta lista."))
        spec = builder(user=request.user, params=request.GET)
        total = spec.count()
        ip = client_ip(request)
        if total > settings.EXPORT_SYNC_MAX_ROWS:
            return _queue(request, spec, fmt, total, ip)
        audit_export(
            user=request.user, name=spec.name, filters=spec.filters, rows=total, fmt=fmt, ip=ip
        )
        return export_response(
            request, rows=spec.rows, headers=spec.headers, filename=spec.title, fmt=fmt
        )

    view.__name__ = f"{builder.__name__}_view"
    view.__doc__ = builder.__doc__
    return view


def _queue(request: HttpRequest, spec: ExportSpec, fmt: str, total: int, ip) -> HttpResponse:
    from crm.core.queue import enqueue_on_commit

    query = request.GET.copy()
    for key in NOT_FILTERS:
        query.pop(key, None)
    # The job's id names its folder: a second run of the same job (the outbox's rare double
    # send, a retry after a lost acknowledgement) finds the file there and emails nothing.
    job = uuid.uuid4().hex
    enqueue_on_commit(TASK_NAME, [request.user.pk, spec.name, query.urlencode(), fmt, job])
    audit_export(
        user=request.user,
        name=spec.name,
        filters=spec.filters,
        rows=total,
        fmt=fmt,
        ip=ip,
        queued=True,
    )
    messages.info(
        request,
        _(
            "Te enviaremos un enlace por correo para descargar la exportación "
            "(%(count)s filas) en cuanto esté lista; será válido durante 24 horas."
        )
        % {"count": f"{total:,}".replace(",", "\u00a0")},
    )
    back = request.META.get("HTTP_REFERER") or ""
    if not back.startswith(request.build_absolute_uri("/")):
        back = "/"
    return redirect(back)


# Large exports: the task, the link, the download --------------------------------------------


def _job_file(job: str) -> str | None:
    """The file a job already wrote, if it ran before."""
    try:
        files = default_storage.listdir(f"{EXPORT_DIR}/{job}")[1]
    except (FileNotFoundError, NotADirectoryError):
        return None
    return f"{EXPORT_DIR}/{job}/{sorted(files)[0]}" if files else None


def export_build(
    *, user_id: int, name: str, query: str, fmt: str, job: str | None = None
) -> str | None:
    """Write the export to MEDIA_ROOT/exports/<job>/ and email the user a link: the task's work.

    Answers the stored file's name (None when the user is gone or inactive). A job that already
    wrote its file (the same task delivered twice) answers that file and sends no second email.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or fmt not in FORMATS or not can_export(user, name):
        return None  # gone, or their role no longer exports this list
    job = job if job and re.fullmatch(r"[0-9a-f]{32}", job) else uuid.uuid4().hex
    if (done := _job_file(job)) is not None:
        logger.info("export job %s already built %s: not sent again", job, done)
        return done
    exports_prune()
    with _as_user(user):
        spec = exporter(name)(user=user, params=QueryDict(query))
        stamp = timezone.localdate().isoformat()
        with tempfile.TemporaryFile() as target:
            write_file(target, spec, fmt)
            target.seek(0)
            if (done := _job_file(job)) is not None:  # a twin finished while this one wrote
                return done
            path = default_storage.save(
                f"{EXPORT_DIR}/{job}/{spec.title}-{stamp}.{fmt}", File(target)
            )
        url = settings.SITE_URL.rstrip("/") + reverse(
            "crm:export-download", args=[export_token(user=user, path=path)]
        )
        if user.email:
            send_mail(
                _("Tu exportación está lista"),
                "\n\n".join(
                    (
                        _("Hola, %(name)s:") % {"name": user.first_name or user.username},
                        _(
                            "Tu exportación «%(title)s» está lista. Descárgala en este enlace, "
                            "válido durante 24 horas y solo para tu usuario:"
                        )
                        % {"title": spec.title},
                        url,
                    )
                )
                + "\n",
                None,
                [user.email],
            )
    return path


def export_token(*, user: User, path: str) -> str:
    return signing.dumps({"u": user.pk, "p": path}, salt=LINK_SALT, compress=True)


def export_path(*, user: User, token: str) -> str:
    """The file a link names, if it is this user's and younger than a day; else Http404."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature as exc:  # SignatureExpired too
        raise Http404(_("El enlace no es válido o ha caducado.")) from exc
    path = str(data.get("p", ""))
    if (
        data.get("u") != user.pk
        or not path.startswith(f"{EXPORT_DIR}/")
        or ".." in path
        or not default_storage.exists(path)
    ):
        raise Http404(_("El enlace no es válido o ha caducado."))
    return path


@require_http_methods(["GET"])
def export_download(request: HttpRequest, token: str) -> FileResponse:
    path = export_path(user=request.user, token=token)
    fmt = path.rsplit(".", 1)[-1]
    return FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=True,
        filename=path.rsplit("/", 1)[-1],
        content_type=FORMATS.get(fmt, "application/octet-stream"),
    )


def exports_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete the export files older than their links (each task run tidies up)."""
    now = now or timezone.now()
    limit = now - datetime.timedelta(seconds=LINK_MAX_AGE + 3600)
    removed = 0
    try:
        folders, _files = default_storage.listdir(EXPORT_DIR)
    except FileNotFoundError:
        return 0
    for folder in folders:
        for name in default_storage.listdir(f"{EXPORT_DIR}/{folder}")[1]:
            path = f"{EXPORT_DIR}/{folder}/{name}"
            if default_storage.get_modified_time(path) < limit:
                default_storage.delete(path)
                removed += 1
    return removed
