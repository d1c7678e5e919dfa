"""The import pages (issue 10): upload a file, map its columns, preview, run, follow, undo.

upload (`import_new`) → the file waits as a draft (contacts.import_drafts) → mapping and options
with a preview of every row (`import_mapping`: nothing is written until "Importar") → the
ImportRun is created and queued, and its page (`import_detail`) follows the worker's progress by
htmx polling, offers to cancel it while it runs, and then to download the rejected rows or to
undo it. The work itself is contacts.imports.runner's, as for `manage.py import_contacts`.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account
from contacts import selectors
from contacts.forms_import import ImportMappingForm, ImportUploadForm
from contacts.import_drafts import draft_delete, draft_get, draft_save
from contacts.imports.mapping import FIELDS, mapping_for, mapping_save, suggest
from contacts.imports.models import ImportMapping, ImportRun
from contacts.imports.readers import read_table
from contacts.imports.rows import DUPLICATE, ERROR, NAME_FIELDS, NEW, UPDATE
from contacts.imports.runner import (
    import_cancel,
    import_create,
    import_preview,
    import_start,
    import_undo,
)
from crm.core.forms_utils import add_service_errors, paginate
from crm.core.permissions import can_create_records
from crm.core.text import format_phone

SAMPLE_ROWS = 5
STATUS_STYLE = {
    NEW: ("text-bg-success", _("Nuevo")),
    UPDATE: ("text-bg-info", _("Actualiza")),
    DUPLICATE: ("text-bg-warning", _("Duplicado")),
    ERROR: ("text-bg-danger", _("Error")),
}
COUNT_LABELS = {
    NEW: _("nuevos"),
    UPDATE: _("actualizaciones"),
    DUPLICATE: _("duplicados"),
    ERROR: _("errores"),
}
ACTIVE = (ImportRun.Status.PENDING, ImportRun.Status.RUNNING)


def _importer(request: HttpRequest) -> None:
    if not can_create_records(request.user):
        raise PermissionDenied(_("Tu rol no puede importar contactos."))


def _run(request: HttpRequest, pk: int) -> ImportRun:
    try:
        return selectors.import_runs(user=request.user).get(pk=pk)
    except ImportRun.DoesNotExist as exc:
        raise Http404(_("No existe esa importación.")) from exc


@require_http_methods(["GET"])
def import_list(request: HttpRequest) -> HttpResponse:
    _importer(request)
    page = paginate(request, selectors.import_runs(user=request.user))
    return render(request, "contacts/imports/list.html", {"page_obj": page})


@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    _importer(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            read_table(upload.name, data)  # a file that cannot be read is refused here
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            draft = draft_save(user=request.user, file_name=upload.name, data=data)
            url = reverse("contacts:import-mapping", args=[draft.token])
            saved = form.cleaned_data.get("saved_mapping")
            return redirect(f"{url}?asignacion={saved.pk}" if saved else url)
    return render(request, "contacts/imports/new.html", {"form": form})


def _preview_key(request: HttpRequest, token: str, mapping: dict, options) -> str:
    """What the preview was made of, so that "Importar" runs exactly what was previewed."""
    payload = json.dumps([token, mapping, options.to_json()], sort_keys=True)
    return salted_hmac("contacts.import-preview", payload, algorithm="sha256").hexdigest()


def _initial_mapping(request: HttpRequest, header: list[str]) -> tuple[dict, str]:
    saved_id = request.GET.get("asignacion", "")
    if saved_id.isdigit():
        saved = ImportMapping.objects.filter(owner=request.user, pk=int(saved_id)).first()
        if saved is not None:
            return mapping_for(header, name=saved.name, owner=request.user), saved.name
    return suggest(header), ""


@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, token: str) -> HttpResponse:
    _importer(request)
    draft = draft_get(user=request.user, token=token)
    if draft is None:
        messages.error(request, _("Ese archivo ya no está: vuelve a subirlo."))
        return redirect("contacts:import-new")
    data = draft.read()
    try:
        table = read_table(draft.name, data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("contacts:import-new")
    samples = []
    for row in table.rows():
        samples.append(row)
        if len(samples) == SAMPLE_ROWS:
            break
    initial_mapping, saved_name = _initial_mapping(request, table.header)
    form = ImportMappingForm(
        request.POST or None,
        user=request.user,
        header=table.header,
        samples=samples,
        initial_mapping=initial_mapping,
        initial={"save_as": saved_name},
    )
    context = {"form": form, "draft": draft, "kind": ImportRun.Kind(table.kind).label}
    if request.method == "POST" and form.is_valid():
        mapping, options = form.cleaned_data["mapping"], form.cleaned_data["options"]
        key = _preview_key(request, token, mapping, options)
        wants_import = request.POST.get("action") == "import"
        if wants_import and constant_time_compare(request.POST.get("preview_key", ""), key):
            try:
                run = import_create(
                    actor=request.user,
                    file_name=draft.name,
                    data=data,
                    options=options,
                    mapping=mapping,
                    mapping_name=form.cleaned_data["save_as"].strip(),
                )
                if form.cleaned_data["save_as"].strip():
                    mapping_save(
                        owner=request.user,
                        name=form.cleaned_data["save_as"],
                        columns=mapping,
                    )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                import_start(run=run)
                draft_delete(draft)
                messages.success(
                    request,
                    _("Importación en marcha: puedes seguirla aquí o seguir trabajando."),
                )
                return redirect("contacts:import-detail", run.pk)
        else:
            if wants_import:
                messages.warning(
                    request,
                    _("Cambiaste la asignación o las opciones: revisa la vista previa de nuevo."),
                )
            try:
                preview = import_preview(
                    actor=request.user, table=table, mapping=mapping, options=options
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                context.update(
                    preview=preview,
                    preview_key=key,
                    preview_rows=_preview_rows(preview, mapping),
                    counts=[
                        (STATUS_STYLE[s][0], COUNT_LABELS[s], preview.counts[s], s)
                        for s in (NEW, UPDATE, DUPLICATE, ERROR)
                    ],
                )
    return render(request, "contacts/imports/mapping.html", context)


def _preview_rows(preview, mapping: dict) -> list[dict]:
    """The preview's rows as the page shows them: who, what will happen, and why."""
    name_columns = [
        preview.header.index(column) for column, field in mapping.items() if field in NAME_FIELDS
    ]
    account_ids = {row.account_id for row in preview.rows if row.account_id}
    accounts = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "name"))
    rows = []
    for row in preview.rows:
        values = row.values
        name = " ".join(
            part for part in (values.get("first_name", ""), values.get("last_name", "")) if part
        ) or " ".join(row.raw[i].strip() for i in name_columns if row.raw[i].strip())
        if row.account_new:
            account = _("%(name)s (nueva)") % {"name": row.account_new[1]}
        else:
            account = accounts.get(row.account_id, "")
        style, label = STATUS_STYLE[row.status]
        detail = list(row.reasons)
        if row.status in (UPDATE, DUPLICATE) and row.match_id and not detail:
            detail.append(_("Ya existe (por %(rule)s)") % {"rule": row.match_rule})
        if row.duplicate_of_line:
            detail.append(
                _("Repite la fila %(line)s del archivo") % {"line": row.duplicate_of_line}
            )
        if row.changes:
            detail.append(_("Cambia: %(fields)s") % {"fields": ", ".join(row.changes)})
        rows.append(
            {
                "line": row.line,
                "style": style,
                "label": label,
                "name": name,
                "email": values.get("email", ""),
                "phone": format_phone(values.get("mobile") or values.get("phone") or ""),
                "account": account,
                "detail": detail,
                "warnings": row.warnings,
            }
        )
    return rows


@require_http_methods(["GET"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    template = "contacts/imports/detail.html"
    if request.htmx and not request.htmx.boosted:
        template += "#import-progress"
    return render(
        request,
        template,
        {
            "run": run,
            "active": run.status in ACTIVE,
            "mapping_labels": [
                (column, FIELDS.get(field, field)) for column, field in run.mapping.items()
            ],
            "can_undo": run.status
            in (ImportRun.Status.DONE, ImportRun.Status.CANCELLED, ImportRun.Status.FAILED)
            and (run.created_by_id == request.user.pk or request.user.is_admin_role),
        },
    )


@require_POST
def import_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    try:
        import_cancel(actor=request.user, run=run)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Importación cancelada: lo ya importado se puede deshacer."))
    return redirect("contacts:import-detail", run.pk)


@require_POST
def import_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    try:
        run = import_undo(actor=request.user, run=run)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Importación deshecha."))
    return redirect("contacts:import-detail", run.pk)


@require_http_methods(["GET"])
def import_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if not run.rejected_file:
        raise Http404(_("Esta importación no rechazó ninguna fila."))
    return FileResponse(
        run.rejected_file.open("rb"),
        as_attachment=True,
        filename=f"importacion-{run.pk}-rechazadas.csv",
        content_type="text/csv; charset=utf-8",
    )
