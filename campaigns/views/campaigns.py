"""Pages of the campaign editor: boletines, the campaign list, the form, the campaign's page,
the preview as a contact and the test send. Thin: parse, call a service or selector, render."""

from urllib.parse import urlencode

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST

from campaigns import content
from campaigns.forms.campaigns import (
    SAMPLE,
    CampaignFilterForm,
    CampaignForm,
    CampaignTestSendForm,
    TopicForm,
)
from campaigns.models import Campaign
from campaigns.permissions import (
    can_manage_campaigns,
    can_read_results,
    can_see_campaign_amounts,
)
from campaigns.selectors import campaigns as selectors
from campaigns.selectors.segments import segment_counts
from campaigns.services import campaigns as services
from contacts.models import Topic
from crm.core.forms_utils import add_service_errors, paginate
from crm.core.text import parse_id

T = "campaigns/campaigns/"
WIDTHS = {"phone": 375, "desktop": 700}
# The message of the preview frame is the company's own HTML, sanitised on save, styled inline
# as an email must be: the frame (its own policy instead of the site's) still runs no script,
# loads no plugin, sends no form, is framed by the CRM alone and opens its links in a new tab.
FRAME_CSP = {
    "default-src": [NONE],
    "script-src": [NONE],
    "img-src": ["https:", "http:", "data:"],
    "style-src": [UNSAFE_INLINE],
    "font-src": ["https:", "data:"],
    "base-uri": [NONE],
    "form-action": [NONE],
    "frame-ancestors": [SELF],
    "sandbox": ["allow-popups", "allow-popups-to-escape-sandbox"],
}


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Tu rol no puede editar campañas."))


def _require_reader(request: HttpRequest) -> None:
    if not (can_manage_campaigns(request.user) or can_read_results(request.user)):
        raise PermissionDenied(_("Tu rol no tiene acceso a las campañas."))


def _campaign(pk: int) -> Campaign:
    try:
        return selectors.campaign_get(pk=pk)
    except Campaign.DoesNotExist as exc:
        raise Http404(_("No existe esa campaña.")) from exc


def _status(form) -> int:
    return 422 if form.is_bound and form.errors else 200


# --- Boletines (topics) ----------------------------------------------------------------------


@require_http_methods(["GET"])
def topic_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    page = paginate(request, selectors.topic_list())
    return render(request, T + "topic_list.html", {"page_obj": page})


def _topic_form(request: HttpRequest, topic: Topic | None) -> HttpResponse:
    form = TopicForm(request.POST or None, instance=topic)
    if request.method == "POST" and form.is_valid():
        try:
            if topic is None:
                topic = services.topic_create(actor=request.user, data=form.cleaned_data)
                messages.success(request, _("Boletín «%(name)s» creado.") % {"name": topic.name})
            else:
                topic = services.topic_update(
                    actor=request.user, topic=topic, data=form.cleaned_data
                )
                messages.success(request, _("Cambios guardados."))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("campaigns:topic-list")
    return render(
        request,
        T + "topic_form.html",
        {"form": form, "topic": topic},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def topic_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return _topic_form(request, None)


@require_http_methods(["GET", "POST"])
def topic_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    try:
        topic = selectors.topic_get(pk=pk)
    except Topic.DoesNotExist as exc:
        raise Http404(_("No existe ese boletín.")) from exc
    return _topic_form(request, topic)


# --- The campaign list -----------------------------------------------------------------------


@require_http_methods(["GET"])
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    form = CampaignFilterForm(request.GET or None)
    page = paginate(
        request,
        selectors.campaign_list(filters=form.filters()),
        rows=selectors.campaign_rows(),
    )
    template = T + "campaign_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#campaign-results"
    return render(
        request,
        template,
        {
            "filter_form": form,
            "page_obj": page,
            "count_url": reverse("campaigns:campaign-list-count"),
            "clear_url": reverse("campaigns:campaign-list"),
            "can_manage": can_manage_campaigns(request.user),
        },
    )


@require_http_methods(["GET"])
def campaign_list_count(request: HttpRequest) -> HttpResponse:
    """The total of the list with these filters, loaded after the page (see ListPage)."""
    _require_reader(request)
    form = CampaignFilterForm(request.GET or None)
    count = selectors.campaign_list(filters=form.filters()).count()
    return render(request, "partials/list_count.html", {"count": count})


# --- Create and edit -------------------------------------------------------------------------


def _campaign_form(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    show_amounts = can_see_campaign_amounts(request.user)
    form = CampaignForm(request.POST or None, instance=campaign, show_amounts=show_amounts)
    regenerate = request.POST.get("regenerate_text") == "1"
    if request.method == "POST" and form.is_valid():
        try:
            if campaign is None:
                saved = services.campaign_create(
                    actor=request.user, data=form.cleaned_data, regenerate_text=regenerate
                )
                messages.success(request, _("Campaña «%(name)s» creada.") % {"name": saved.name})
            else:
                saved = services.campaign_update(
                    actor=request.user,
                    campaign=campaign,
                    data=form.cleaned_data,
                    regenerate_text=regenerate,
                )
                if regenerate:
                    messages.success(request, _("Versión de texto regenerada desde el HTML."))
                else:
                    messages.success(request, _("Cambios guardados."))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if regenerate:
                return redirect("campaigns:campaign-edit", pk=saved.pk)
            return redirect(saved)
    return render(
        request,
        T + "campaign_form.html",
        {
            "form": form,
            "campaign": campaign,
            "merge_fields": content.MERGE_FIELDS.items(),
        },
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return _campaign_form(request, None)


@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    campaign = _campaign(pk)
    if not campaign.is_editable:
        messages.info(
            request,
            _("La campaña está «%(status)s»: ya no se puede modificar.")
            % {"status": campaign.get_status_display()},
        )
        return redirect(campaign)
    return _campaign_form(request, campaign)


@require_POST
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    campaign = _campaign(pk)
    try:
        services.campaign_delete(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(campaign)
    messages.success(request, _("Campaña «%(name)s» eliminada.") % {"name": campaign.name})
    return redirect("campaigns:campaign-list")


@require_POST
def campaign_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    copy = services.campaign_duplicate(actor=request.user, campaign=_campaign(pk))
    messages.success(request, _("Campaña duplicada: «%(name)s».") % {"name": copy.name})
    return redirect("campaigns:campaign-edit", pk=copy.pk)


# --- The campaign's page ---------------------------------------------------------------------


def _segment_figures(campaign: Campaign) -> dict | None:
    """The segment's two counts (all its contacts, those the campaign may write to)."""
    if campaign.segment_id is None:
        return None
    total, eligible = segment_counts(segment=campaign.segment, topic_id=campaign.topic_id)
    return {"total": total, "eligible": eligible}


def _segment_url(campaign: Campaign) -> str:
    """The segment's page, when the segments pages are installed (campaigns.urls.segments)."""
    if campaign.segment_id is None:
        return ""
    try:
        return campaign.segment.get_absolute_url()
    except NoReverseMatch:
        return ""


@require_http_methods(["GET"])
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    campaign = _campaign(pk)
    can_manage = can_manage_campaigns(request.user)
    return render(
        request,
        T + "campaign_detail.html",
        {
            "campaign": campaign,
            "can_manage": can_manage,
            "can_read_results": can_read_results(request.user),
            "can_see_amounts": can_see_campaign_amounts(request.user),
            "counts": _segment_figures(campaign),
            "errors": content.content_errors(campaign),
            "missing": selectors.missing_merge_data(campaign=campaign) if can_manage else [],
            "sender": content.sender(campaign),
            "reply_to": campaign.reply_to or settings.CAMPAIGN_REPLY_TO,
            "link_count": campaign.links.count(),
            "segment_url": _segment_url(campaign),
        },
    )


# --- Preview and test send -------------------------------------------------------------------


def _chosen(request: HttpRequest, campaign: Campaign, raw: str) -> tuple[bool, object]:
    """(sample data?, contact) from the `contact` parameter: "ejemplo", an id of the segment,
    or nothing (the first contact of the segment, else the sample data)."""
    raw = (raw or "").strip()
    if raw == SAMPLE:
        return True, None
    contact_id = parse_id(raw)
    contact = selectors.preview_contact(campaign=campaign, contact_id=contact_id)
    if contact is None and contact_id is not None:
        messages.warning(request, _("Ese contacto no está en el segmento de la campaña."))
        contact = selectors.preview_contact(campaign=campaign, contact_id=None)
    return contact is None, contact


def _variant(request: HttpRequest, campaign: Campaign) -> str:
    return "b" if request.GET.get("variant") == "b" and campaign.has_ab_test else "a"


@never_cache
@require_http_methods(["GET"])
def campaign_preview(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    campaign = _campaign(pk)
    # No name or email holds a NUL byte (and PostgreSQL refuses one in a query).
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    width = request.GET.get("width", "desktop")
    width = width if width in WIDTHS else "desktop"
    variant = _variant(request, campaign)
    if request.htmx and "q" in request.GET and not request.htmx.boosted:
        # The contact picker's suggestions as the user types.
        return render(
            request,
            T + "campaign_preview.html#contact-options",
            {
                "campaign": campaign,
                "options": selectors.preview_contacts(campaign=campaign, q=q),
                "q": q,
                "width": width,
                "variant": variant,
            },
        )
    sample, contact = _chosen(request, campaign, request.GET.get("contact", ""))
    errors = content.content_errors(campaign)
    rendered = None
    if not errors:
        rendered = services.campaign_render(
            campaign=campaign, contact=contact, links_to="#", variant=variant
        )
    contact_param = SAMPLE if sample else str(contact.pk)
    frame_query = urlencode({"contact": contact_param, "variant": variant})
    return render(
        request,
        T + "campaign_preview.html",
        {
            "campaign": campaign,
            "contact": contact,
            "sample": sample,
            "contact_param": contact_param,
            "options": selectors.preview_contacts(campaign=campaign, q=q),
            "q": q,
            "width": width,
            "width_px": WIDTHS[width],
            "widths": WIDTHS,
            "variant": variant,
            "rendered": rendered,
            "errors": errors,
            "missing": selectors.missing_merge_data(campaign=campaign),
            "frame_url": reverse("campaigns:campaign-preview-frame", args=[campaign.pk])
            + f"?{frame_query}",
            "sender": content.sender(campaign),
            "test_form": CampaignTestSendForm(
                initial={"contact": contact_param, "variant": variant}
            ),
            "user_email": request.user.email,
        },
    )


@never_cache
@xframe_options_sameorigin
@csp(FRAME_CSP)
@require_http_methods(["GET"])
def campaign_preview_frame(request: HttpRequest, pk: int) -> HttpResponse:
    """The message's HTML alone, for the preview page's iframe (same origin only)."""
    _require_manager(request)
    campaign = _campaign(pk)
    if content.content_errors(campaign):
        return HttpResponse(
            _("El contenido tiene errores: corrígelos para ver la vista previa."),
            content_type="text/plain; charset=utf-8",
            status=422,
        )
    _sample, contact = _chosen(request, campaign, request.GET.get("contact", ""))
    rendered = services.campaign_render(
        campaign=campaign, contact=contact, links_to="#", variant=_variant(request, campaign)
    )
    response = HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def campaign_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    campaign = _campaign(pk)
    form = CampaignTestSendForm(request.POST)
    back = reverse("campaigns:campaign-preview", args=[campaign.pk])
    if not form.is_valid():
        messages.error(request, _("Revisa los datos de la prueba."))
        return redirect(back)
    raw = form.cleaned_data.get("contact") or ""
    sample, contact = _chosen(request, campaign, raw)
    variant = form.cleaned_data.get("variant") or "a"
    try:
        sent_to = services.campaign_test_send(
            actor=request.user,
            campaign=campaign,
            contact=contact,
            extra=form.extra_addresses(),
            variant=variant,
            links_to=settings.SITE_URL.rstrip("/") + back,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Prueba enviada a %(addresses)s.") % {"addresses": ", ".join(sent_to)},
        )
    query = urlencode({"contact": SAMPLE if sample else contact.pk, "variant": variant})
    return redirect(f"{back}?{query}")
