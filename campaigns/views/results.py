"""Results pages: a campaign's figures, engagement, channel contribution, exports, sheet panels.

Thin views: check the role, call one selector, render. Marketing, managers and administrators
read results (campaigns.permissions.can_read_results); amounts only for those who may see them;
everyone who opens a customer sheet sees its read-only "Campañas" panel.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account
from campaigns.models import Campaign, Segment
from campaigns.permissions import (
    can_manage_campaigns,
    can_read_results,
    can_see_campaign_amounts,
)
from campaigns.selectors import analyses, funnels
from campaigns.selectors import results as selectors
from campaigns.services.segments import segment_create
from campaigns.services.stats import campaign_stats_ensure, campaign_stats_refresh
from contacts.models import Contact
from crm.core.audit import audit
from crm.core.exports import FORMATS, export_response, in_chunks
from crm.core.forms_utils import client_ip, paginate
from crm.core.models import AuditEvent

OVERVIEW_PAGE_SIZE = 25


def _require_reader(request: HttpRequest) -> None:
    if not can_read_results(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a los resultados de las campañas."))


def _campaign(pk: int) -> Campaign:
    campaign = selectors.results_campaign(pk=pk)
    if campaign is None:
        raise Http404(_("Esa campaña no existe o aún no se ha enviado."))
    return campaign


def _choice(request: HttpRequest, name: str, choices: dict, default: str) -> str:
    value = request.GET.get(name, "")
    return value if value in choices else default


def _links(base: str, name: str, choices: dict, current: str, **extra) -> list[dict]:
    return [
        {
            "key": key,
            "label": label[0] if isinstance(label, tuple) else label,
            "url": f"{base}?{urlencode({**extra, name: key})}",
            "active": key == current,
        }
        for key, label in choices.items()
    ]


def _audit_export(request: HttpRequest, campaign: Campaign, kind: str) -> None:
    audit(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=campaign,
        detail={"format": kind, "what": "campaign_results"},
        ip=client_ip(request),
    )


@require_http_methods(["GET"])
def results_overview(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    with_amounts = can_see_campaign_amounts(request.user)
    page = paginate(
        request,
        analyses.campaigns_with_results(),
        OVERVIEW_PAGE_SIZE,
        rows=analyses.sent_campaigns(),
    )
    page.object_list = analyses.with_stored_totals(list(page.object_list))
    for campaign in page.object_list:
        campaign_stats_ensure(campaign=campaign)  # stale and still changing: one refresh queued
    analyses.decorate_campaigns(page.object_list, with_amounts=with_amounts)
    return render(
        request,
        "campaigns/results/overview.html",
        {"page_obj": page, "can_see_amounts": with_amounts},
    )


@require_http_methods(["GET"])
def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    campaign = _campaign(pk)
    with_amounts = can_see_campaign_amounts(request.user)
    dimension = _choice(request, "por", funnels.DIMENSIONS, funnels.DEFAULT_DIMENSION)
    campaign_stats_ensure(campaign=campaign)
    results = selectors.campaign_results(
        campaign=campaign, dimension=dimension, with_amounts=with_amounts
    )
    base = reverse("campaigns:campaign-results", args=[pk])
    template = "campaigns/results/campaign_results.html"
    if request.htmx and request.GET.get("parte") == "segmentos":
        template += "#segments"
    return render(
        request,
        template,
        {
            "campaign": campaign,
            "results": results,
            "total": results.total,
            "can_see_amounts": with_amounts,
            "dimension_links": _links(base, "por", funnels.DIMENSIONS, results.dimension),
            "dimension_label": funnels.DIMENSIONS[results.dimension],
        },
    )


@require_http_methods(["GET"])
def campaign_results_summary(request: HttpRequest, pk: int) -> HttpResponse:
    """The figures on the campaign's own page (loaded there with htmx)."""
    _require_reader(request)
    campaign = selectors.results_campaign(pk=pk)
    if campaign is None:
        return HttpResponse("")
    campaign_stats_ensure(campaign=campaign)
    return render(
        request,
        "campaigns/results/_summary_body.html",
        {"campaign": campaign, "total": selectors.campaign_summary(campaign=campaign)},
    )


@require_POST
def campaign_results_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Actualizar" button: recompute the stored figures now, then back to the page."""
    _require_reader(request)
    campaign = _campaign(pk)
    campaign_stats_refresh(campaign_id=campaign.pk)
    messages.success(request, _("Cifras actualizadas."))
    url = reverse("campaigns:campaign-results", args=[campaign.pk])
    dimension = request.POST.get("por", "")
    if dimension in funnels.DIMENSIONS and dimension != funnels.DEFAULT_DIMENSION:
        url = f"{url}?{urlencode({'por': dimension})}"
    return redirect(url)


@require_http_methods(["GET"])
def engagement(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    period = _choice(request, "periodo", analyses.PERIODS, analyses.DEFAULT_PERIOD)
    dimension = _choice(request, "por", funnels.DIMENSIONS, "lifecycle")
    data = analyses.engagement(period=period, dimension=dimension)
    base = reverse("campaigns:campaign-engagement")
    return render(
        request,
        "campaigns/results/engagement.html",
        {
            **data,
            "period_links": _links(base, "periodo", analyses.PERIODS, period, por=dimension),
            "dimension_links": _links(base, "por", funnels.DIMENSIONS, dimension, periodo=period),
            "dimension_label": funnels.DIMENSIONS[dimension],
            "can_create_segment": can_manage_campaigns(request.user),
        },
    )


@require_POST
def inactive_segment_create(request: HttpRequest) -> HttpResponse:
    """One click: a dynamic segment of who got mail in the period and opened none of it.

    Built by campaigns.services.segments (validated against the compiler's allow-list and
    audited there); only those who build segments (marketing, administrators) may.
    """
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Tu rol no puede crear segmentos."))
    period = request.POST.get("periodo", "")
    back = reverse("campaigns:campaign-engagement")
    if period not in analyses.PERIODS:
        messages.error(request, _("Elige un periodo válido para el segmento de inactivos."))
        return redirect(back)
    label, days = analyses.PERIODS[period]
    try:
        segment = segment_create(
            actor=request.user,
            name=_("Inactivos: %(period)s (%(date)s)")
            % {"period": label, "date": timezone.localdate().strftime("%Y-%m-%d")},
            description=_("Recibieron campañas en los últimos %(days)s días y no abrieron ninguna.")
            % {"days": days},
            kind=Segment.Kind.DYNAMIC,
            definition=analyses.inactive_definition(days),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{back}?periodo={period}")
    messages.success(request, _("Segmento «%(name)s» creado.") % {"name": segment.name})
    try:
        return redirect(segment.get_absolute_url())
    except NoReverseMatch:  # the segments pages are another area's; fall back to this page
        return redirect(f"{back}?periodo={period}")


@require_http_methods(["GET"])
def channels(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    with_amounts = can_see_campaign_amounts(request.user)
    period = _choice(request, "periodo", analyses.PERIODS, analyses.DEFAULT_PERIOD)
    data = analyses.channels(period=period, with_amounts=with_amounts)
    base = reverse("campaigns:campaign-channels")
    return render(
        request,
        "campaigns/results/channels.html",
        {
            **data,
            "can_see_amounts": with_amounts,
            "period_links": _links(base, "periodo", analyses.PERIODS, period),
        },
    )


def _format(request: HttpRequest) -> str:
    """`?formato=xlsx` for Excel; CSV by default (the links of the results page)."""
    fmt = request.GET.get("formato", "csv")
    if fmt not in FORMATS:
        raise Http404(_("Formato de exportación desconocido."))
    return fmt


@require_http_methods(["GET"])
def campaign_results_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The results page as a table (CSV or Excel): the totals, the variants and every segment
    dimension."""
    _require_reader(request)
    fmt = _format(request)
    campaign = _campaign(pk)
    with_amounts = can_see_campaign_amounts(request.user)
    campaign_stats_ensure(campaign=campaign)
    head = [
        _("Grupo"),
        _("Valor"),
        _("Enviados"),
        _("Entregados"),
        _("Rebotados"),
        _("Abiertos"),
        _("Aperturas automáticas"),
        _("Clics únicos"),
        _("Clics totales"),
        _("Bajas"),
        _("Quejas"),
        _("Apertura %"),
        _("Clic %"),
        _("Baja %"),
        _("Conversiones"),
    ]
    if with_amounts:
        head += [_("Ingresos"), _("Valor medio del pedido"), _("Ingresos por correo")]

    def row(group: str, funnel) -> tuple:
        cells = [
            str(group),
            str(funnel.label),
            funnel.sent,
            funnel.delivered,
            funnel.bounced,
            funnel.opened,
            funnel.machine_opened,
            funnel.clicked,
            funnel.clicks,
            funnel.unsubscribed,
            funnel.complaints,
            funnel.open_rate,
            funnel.click_rate,
            funnel.unsubscribe_rate,
            funnel.conversions,
        ]
        if with_amounts:
            cells += [
                funnel.revenue,
                funnel.average_order_value or "",
                funnel.revenue_per_email or "",
            ]
        return tuple(cells)

    rows: list[tuple] = []
    first = None
    for dimension, label in funnels.DIMENSIONS.items():
        results = selectors.campaign_results(
            campaign=campaign, dimension=dimension, with_amounts=with_amounts
        )
        if first is None:
            first = results
            rows.append(row(_("Campaña"), results.total))
            for variant in results.variants:
                rows.append(row(_("Variante %(v)s") % {"v": variant.key.upper()}, variant))
        for funnel in results.segments:
            rows.append(row(label, funnel))
    if with_amounts and first and first.money:
        rows.append(())
        rows.append((_("Moneda"), first.money.currency))
        rows.append((_("Costo"), first.money.cost))
        rows.append((_("Ingresos"), first.money.revenue))
        rows.append((_("ROI %"), first.money.roi))
        for missing in first.money.excluded:
            rows.append(
                (
                    _("Sin tipo de cambio: %(currency)s, %(count)s oportunidades excluidas")
                    % missing,
                )
            )
    _audit_export(request, campaign, fmt)
    return export_response(
        request, rows=rows, headers=head, filename=f"campana-{pk}-resultados", fmt=fmt
    )


@require_http_methods(["GET"])
def campaign_ledger_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Every recipient and what happened to their message (CSV or Excel), streamed row by row
    from the database (memory stays flat)."""
    _require_reader(request)
    fmt = _format(request)
    campaign = _campaign(pk)
    head = [
        _("Correo"),
        _("Contacto"),
        _("Cuenta"),
        _("Clasificación"),
        _("Etapa"),
        _("Variante"),
        _("Estado"),
        _("Enviado"),
        _("Rebotado"),
        _("Primera apertura"),
        _("Primer clic"),
        _("Clics"),
        _("Apertura automática"),
        pgettext("darse de baja", "Baja"),
        _("Queja"),
        _("Error"),
    ]

    def rows() -> Iterator[tuple]:
        for send in in_chunks(selectors.ledger_rows(campaign=campaign)):
            contact, account = send.contact, send.contact.account
            yield (
                send.email,
                f"{contact.first_name} {contact.last_name}".strip(),
                account.name if account else "",
                account.tier if account else "",
                contact.get_lifecycle_display(),
                send.variant.upper(),
                send.get_status_display(),
                send.sent_at,
                send.bounced_at,
                send.first_opened_at,
                send.first_clicked_at,
                send.click_count,
                bool(send.machine_open),
                bool(send.unsubscribed),
                bool(send.complained),
                send.error,
            )

    _audit_export(request, campaign, f"{fmt}_ledger")
    return export_response(
        request, rows=rows(), headers=head, filename=f"campana-{pk}-destinatarios", fmt=fmt
    )


@require_http_methods(["GET"])
def campaign_results_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    campaign = _campaign(pk)
    with_amounts = can_see_campaign_amounts(request.user)
    campaign_stats_ensure(campaign=campaign)
    sections = []
    first = None
    for dimension, label in funnels.DIMENSIONS.items():
        results = selectors.campaign_results(
            campaign=campaign, dimension=dimension, with_amounts=with_amounts
        )
        first = first or results
        sections.append({"label": label, "rows": results.segments})
    html = render_to_string(
        "campaigns/results/campaign_results_pdf.html",
        {
            "campaign": campaign,
            "results": first,
            "total": first.total,
            "sections": sections,
            "can_see_amounts": with_amounts,
            "generated_at": timezone.localtime(),
            "generated_by": request.user,
        },
        request=request,
    )
    import weasyprint  # heavy: loaded only when a PDF is asked for

    pdf = weasyprint.HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="campana-{pk}-resultados.pdf"'
    _audit_export(request, campaign, "pdf")
    return response


@require_http_methods(["GET"])
def contact_campaigns_panel(request: HttpRequest, contact_pk: int) -> HttpResponse:
    contact = Contact.objects.filter(pk=contact_pk).only("id").first()
    if contact is None:
        raise Http404(_("No existe ese contacto."))
    return render(
        request,
        "campaigns/results/campaigns_panel.html",
        {"sends": selectors.contact_campaign_activity(contact), "show_contact": False},
    )


@require_http_methods(["GET"])
def account_campaigns_panel(request: HttpRequest, account_pk: int) -> HttpResponse:
    account = Account.objects.filter(pk=account_pk).only("id").first()
    if account is None:
        raise Http404(_("No existe esa cuenta."))
    return render(
        request,
        "campaigns/results/campaigns_panel.html",
        {"sends": selectors.account_campaign_activity(account), "show_contact": True},
    )
