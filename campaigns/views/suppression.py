"""The suppression list pages (marketing and administrators): list, add, remove, import, export.

Thin: check the role, parse the form, call campaigns.services.suppression or the selector.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from campaigns.forms.suppression import (
    SuppressionFilterForm,
    SuppressionForm,
    SuppressionImportForm,
)
from campaigns.models import Suppression
from campaigns.permissions import can_manage_campaigns
from campaigns.selectors import suppression as selectors
from campaigns.services import suppression as services
from crm.core.audit import audit
from crm.core.exports import safe_cell
from crm.core.forms_utils import add_service_errors, client_ip, paginate
from crm.core.models import AuditEvent


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Solo marketing y los administradores gestionan la lista."))


@require_http_methods(["GET"])
def suppression_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = SuppressionFilterForm(request.GET or None)
    filters = form.filters()
    page = paginate(request, selectors.suppression_list(filters=filters))
    template = "campaigns/suppression/suppression_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#suppression-table"
    return render(
        request,
        template,
        {
            "form": form,
            "page_obj": page,
            "filtered": bool(filters),
            "count_url": reverse("campaigns:suppression-count"),
        },
    )


@require_http_methods(["GET"])
def suppression_count(request: HttpRequest) -> HttpResponse:
    """The list's total with its filters, loaded after the page (crm.core.forms_utils.ListPage)."""
    _require_manager(request)
    filters = SuppressionFilterForm(request.GET or None).filters()
    count = selectors.suppression_list(filters=filters).count()
    return render(request, "partials/list_count.html", {"count": count})


@require_http_methods(["GET", "POST"])
def suppression_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = SuppressionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.suppression_create(
                actor=request.user,
                email=form.cleaned_data["email"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(email)s está en la lista de supresión: ninguna campaña le escribirá.")
                % {"email": entry.email},
            )
            return redirect("campaigns:suppression-list")
    return render(
        request,
        "campaigns/suppression/suppression_form.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def suppression_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then remove: the address may receive campaigns again if it has consent."""
    _require_manager(request)
    try:
        entry = selectors.suppression_get(pk=pk)
    except Suppression.DoesNotExist as exc:
        raise Http404(_("Esa dirección no está en la lista de supresión.")) from exc
    if request.method == "POST":
        services.unsuppress(actor=request.user, suppression=entry)
        messages.success(
            request,
            _("%(email)s ya no está en la lista de supresión.") % {"email": entry.email},
        )
        return redirect("campaigns:suppression-list")
    return render(request, "campaigns/suppression/suppression_delete.html", {"entry": entry})


@require_http_methods(["GET", "POST"])
def suppression_import(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = SuppressionImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = services.suppression_import(
                actor=request.user,
                data=form.cleaned_data["file"].read(),
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error("file", exc)
    return render(
        request,
        "campaigns/suppression/suppression_import.html",
        {"form": form, "result": result},
        status=422 if form.errors else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_http_methods(["GET"])
def suppression_export(request: HttpRequest) -> StreamingHttpResponse:
    """The list (with the page's filters) as CSV, streamed; audited as an export."""
    _require_manager(request)
    filters = SuppressionFilterForm(request.GET or None).filters()
    # Translated now: the rows are written after the view returns, outside its language.
    reasons = {value: str(label) for value, label in Suppression.Reason.choices}
    header = [_("Correo"), _("Motivo"), _("Nota"), _("Fecha"), _("Registrada por")]
    writer = csv.writer(_Echo())
    tz = timezone.get_current_timezone()

    def rows():
        yield "\ufeff"
        yield writer.writerow(header)
        for email, reason, note, at, first, last, username in selectors.suppression_export_rows(
            filters=filters
        ):
            who = f"{first} {last}".strip() or (username or "")
            yield writer.writerow(
                [
                    safe_cell(email),
                    reasons.get(reason, reason),
                    safe_cell(note),
                    at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    safe_cell(who),
                ]
            )

    audit(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target="campaigns.suppression",
        detail={"format": "csv", "filters": filters},
        ip=client_ip(request),
    )
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="supresiones-{stamp}.csv"'
    return response
