"""Segment pages: list, builder (create/edit) with its live count, detail, archive, and the
static lists' members. Thin: parse, call a service or selector, render. Marketing and
administrators only (campaigns.permissions); every other role gets 403."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from campaigns.forms.segments import (
    AddContactsForm,
    Builder,
    SegmentFilterForm,
    SegmentForm,
    field_options,
    value_choices,
)
from campaigns.models import Segment
from campaigns.permissions import can_manage_campaigns
from campaigns.segments import describe_condition, validate_definition
from campaigns.selectors import segments as selectors
from campaigns.services import segments as services
from crm.core.formats import grouped_integer_formatter
from crm.core.forms_utils import add_service_errors, form_errors_text, paginate, safe_next
from crm.core.text import parse_id

TEMPLATES = "campaigns/segments/"


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a los segmentos."))


def _get_segment(request: HttpRequest, pk: int) -> Segment:
    try:
        return selectors.segment_detail(user=request.user, pk=pk)
    except Segment.DoesNotExist as exc:
        raise Http404(_("No existe ese segmento.")) from exc


def _preview(builder: Builder | None, *, segment: Segment | None = None) -> dict:
    """The count and sample of the conditions being edited (or of a saved list)."""
    fmt = grouped_integer_formatter()
    if segment is None and (builder is None or not builder.validate()):
        return {"preview_ok": False}
    if segment is not None and not segment.is_static and validate_definition(segment.definition):
        return {"preview_ok": False}  # a definition stored by hand that no longer validates
    definition = None if segment is not None else builder.definition()
    total, eligible = selectors.segment_counts(segment=segment, definition=definition)
    return {
        "preview_ok": True,
        "total": total,
        "eligible": eligible,
        "total_text": fmt(total),
        "eligible_text": fmt(eligible),
        "sample": selectors.segment_sample(segment=segment, definition=definition),
    }


def _builder_context(
    request: HttpRequest, form: SegmentForm, builder: Builder, segment: Segment | None
) -> dict:
    is_static = segment.is_static if segment else form["kind"].value() == Segment.Kind.STATIC
    choices = value_choices()
    context = {
        "form": form,
        "builder": builder.prepare(choices),
        "consent_channels": choices["_channel"],
        "consent_topics": choices["_topic"],
        "consent_states": choices["_state"],
        "field_options": field_options(),
        "segment": segment,
        "is_static": is_static,
        "form_url": reverse("campaigns:segment-edit", args=[segment.pk])
        if segment
        else reverse("campaigns:segment-create"),
    }
    if is_static:
        context.update(_preview(None, segment=segment) if segment else {"preview_ok": False})
    else:
        context.update(_preview(builder))
    return context


def _segment_form(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    """The builder: GET shows it; POST with an `action` re-renders it (add/remove a group or a
    condition, refresh the count: the no-JavaScript path, also used by htmx); POST "save"
    saves through the service."""
    data = request.POST if request.method == "POST" else None
    form = SegmentForm(data, instance=segment)
    if data is None:
        stored = segment.definition if segment else None
        if stored and validate_definition(stored):
            stored = None  # stored by hand and broken: start again, the detail page says why
        builder = Builder.from_definition(stored)
        if not builder.groups and not (segment and segment.is_static):
            builder.apply("add-group")
        context = _builder_context(request, form, builder, segment)
        builder.clear_errors()  # a condition not filled in yet is not a mistake yet
        return render(request, TEMPLATES + "segment_form.html", context)
    builder = Builder.from_data(data)
    action = data.get("action", "save")
    if builder.apply(action) or action != "save":
        context = _builder_context(request, form, builder, segment)
        if action != "refresh":
            builder.clear_errors()
        template = TEMPLATES + "segment_form.html"
        if request.htmx and not request.htmx.boosted:
            template += "#segment-builder"
        response = render(request, template, context)
        response["HX-Trigger"] = "segment-changed"
        return response

    is_static = segment.is_static if segment else data.get("kind") == Segment.Kind.STATIC
    definition = None if is_static else builder.definition()
    valid_builder = is_static or builder.validate()
    if form.is_valid() and valid_builder:
        try:
            if segment is None:
                saved = services.segment_create(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    kind=form.cleaned_data["kind"],
                    definition=definition,
                )
            else:
                saved = services.segment_update(
                    actor=request.user,
                    segment=segment,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    definition=definition,
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Segmento «%(name)s» guardado.") % {"name": saved.name})
            return redirect(saved)
    context = _builder_context(request, form, builder, segment)
    return render(request, TEMPLATES + "segment_form.html", context, status=422)


@require_http_methods(["GET"])
def segment_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    filter_form = SegmentFilterForm(request.GET or None)
    page = paginate(
        request, selectors.segment_list(user=request.user, filters=filter_form.filters())
    )
    fmt = grouped_integer_formatter()
    return render(
        request,
        TEMPLATES + "segment_list.html",
        {
            "filter_form": filter_form,
            "page_obj": page,
            "fmt_members": [fmt(s.member_count) for s in page],
        },
    )


@require_http_methods(["GET"])
def segment_count(request: HttpRequest, pk: int) -> HttpResponse:
    """One row's reach, loaded after the list (a definition is evaluated per request)."""
    _require_manager(request)
    segment = _get_segment(request, pk)
    return render(
        request, TEMPLATES + "segment_list.html#segment-count", _preview(None, segment=segment)
    )


@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return _segment_form(request, None)


@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    segment = _get_segment(request, pk)
    if segment.archived_at is not None:
        messages.error(request, _("Un segmento archivado no se modifica."))
        return redirect(segment)
    return _segment_form(request, segment)


@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The count and the sample of the conditions as they are being edited (htmx)."""
    _require_manager(request)
    builder = Builder.from_data(request.POST)
    return render(request, TEMPLATES + "segment_form.html#segment-preview", _preview(builder))


@require_http_methods(["GET"])
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    segment = _get_segment(request, pk)
    broken = [] if segment.is_static else validate_definition(segment.definition)
    context = {"segment": segment, "broken": broken, "groups": [], "total": 0}
    if not broken:
        names = selectors.definition_names(segment.definition)
        fmt = grouped_integer_formatter()
        total, topic_counts = selectors.segment_reach(segment=segment)
        context.update(
            groups=[
                {
                    "match": group.get("match", "all"),
                    "conditions": [describe_condition(c, names=names) for c in group["conditions"]],
                }
                for group in (segment.definition or {}).get("groups", [])
                if not segment.is_static
            ],
            top_match=(segment.definition or {}).get("match", "all"),
            total=total,
            total_text=fmt(total),
            eligible_text=fmt(topic_counts[0][1]),
            topic_counts=[(topic, fmt(n)) for topic, n in topic_counts],
        )
    if segment.is_static:
        context["page_obj"] = paginate(request, selectors.segment_members(segment=segment))
    elif not broken:
        context["sample"] = selectors.segment_sample(segment=segment)
    template = TEMPLATES + "segment_detail.html"
    if request.htmx and not request.htmx.boosted and segment.is_static:
        template += "#segment-members"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def segment_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST archives."""
    _require_manager(request)
    segment = _get_segment(request, pk)
    if request.method == "POST":
        try:
            services.segment_archive(actor=request.user, segment=segment)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(segment)
        messages.success(request, _("Segmento «%(name)s» archivado.") % {"name": segment.name})
        return redirect("campaigns:segment-list")
    return render(request, TEMPLATES + "segment_archive.html", {"segment": segment})


@require_POST
def segment_add_contacts(request: HttpRequest) -> HttpResponse:
    """Contacts selected on the contact list, to an existing static list or a new one. Without
    a list chosen yet, the page to choose it (carrying the selection)."""
    _require_manager(request)
    form = AddContactsForm(
        request.POST, segments=selectors.segment_static_choices(user=request.user)
    )
    back = safe_next(request, reverse("contacts:contact-list"))
    if not form.has_target():
        if not form.is_valid() and "contacts" in form.errors:
            messages.error(request, form_errors_text(form))
            return redirect(back)
        form.errors.clear()
        return render(
            request, TEMPLATES + "segment_add_contacts.html", {"form": form, "next": back}
        )
    if form.is_valid():
        ids = form.cleaned_data["contacts"]
        try:
            with transaction.atomic():  # a new list is kept only with its contacts
                segment = form.cleaned_data["segment"] or services.segment_create(
                    actor=request.user,
                    name=form.cleaned_data["new_name"],
                    kind=Segment.Kind.STATIC,
                )
                added = services.segment_add_contacts(
                    actor=request.user, segment=segment, contact_ids=ids
                )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(
                request,
                ngettext(
                    "%(added)s contacto añadido a «%(name)s» (ya estaban: %(already)s).",
                    "%(added)s contactos añadidos a «%(name)s» (ya estaban: %(already)s).",
                    added,
                )
                % {"added": added, "name": segment.name, "already": len(ids) - added},
            )
            return redirect(segment)
    return render(
        request, TEMPLATES + "segment_add_contacts.html", {"form": form, "next": back}, status=422
    )


@require_POST
def segment_remove_contact(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    segment = _get_segment(request, pk)
    contact_id = parse_id(request.POST.get("contact"))
    try:
        if contact_id is None:
            raise ValidationError(_("La selección de contactos no es válida."))
        removed = services.segment_remove_contacts(
            actor=request.user, segment=segment, contact_ids=[contact_id]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if removed:
            messages.success(request, _("Contacto quitado de la lista."))
        else:
            messages.info(request, _("Ese contacto no estaba en la lista."))
    return redirect(safe_next(request, segment.get_absolute_url()))
