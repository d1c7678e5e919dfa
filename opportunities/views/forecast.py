"""Pages of the forecast, quotas, sales analytics and tiers (thin: parse, call, render)."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account
from crm.core.audit import audit
from crm.core.exports import safe_cell as csv_cell
from crm.core.forms_utils import client_ip, paginate
from crm.core.models import AuditEvent
from opportunities.forms.forecast import (
    DealsFilterForm,
    ForecastAdjustmentForm,
    PeriodForm,
    QuotaGridForm,
    period_choices,
)
from opportunities.models import Opportunity, Pipeline
from opportunities.money import Rates, company_currency
from opportunities.permissions import can_manage_team, can_sell
from opportunities.selectors import analytics as analytics_selectors
from opportunities.selectors import forecast as selectors
from opportunities.selectors import tiers as tier_selectors
from opportunities.services import forecast as services

FIGURE_LABELS = {
    "won": gettext_lazy("Ganado"),
    "commit": gettext_lazy("Compromiso"),
    "best_case": gettext_lazy("Mejor escenario"),
    "pipeline": gettext_lazy("Pipeline"),
    "open": gettext_lazy("Pipeline abierto"),
    "weighted": gettext_lazy("Pipeline ponderado"),
    "forecast": gettext_lazy("Previsión (ganado + compromiso)"),
}


def _require_seller(request: HttpRequest) -> None:
    if not can_sell(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a la previsión de ventas."))


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_team(request.user):
        raise PermissionDenied(_("Solo los gerentes de ventas y los administradores."))


def _period(request: HttpRequest) -> selectors.Period:
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.warning(request, form.errors["period"][0])
    return form.chosen_period()


def _forecast_context(request: HttpRequest, period: selectors.Period, **extra) -> dict:
    forecast = selectors.forecast_for(user=request.user, period=period)
    manages = can_manage_team(request.user)
    context = {
        "forecast": forecast,
        "period": period,
        "period_choices": period_choices(period),
        "chart": selectors.forecast_chart_data(forecast),
        "can_manage": manages,
        "figure_labels": FIGURE_LABELS,
        "history": sorted(
            (adj for row in forecast.rows for adj in row.adjustments),
            key=lambda adj: (adj.at, adj.pk),
            reverse=True,
        ),
    }
    if manages and "adjust_form" not in extra:
        context["adjust_form"] = ForecastAdjustmentForm(
            reps=selectors.manageable_reps(user=request.user),
            initial={"period": period.key},
        )
    context.update(extra)
    return context


@require_http_methods(["GET"])
def forecast(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    period = _period(request)
    template = "opportunities/forecast/forecast.html"
    if request.htmx and not request.htmx.boosted:
        template += "#forecast-body"
    return render(request, template, _forecast_context(request, period))


@require_POST
def forecast_adjust(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    reps = selectors.manageable_reps(user=request.user)
    form = ForecastAdjustmentForm(request.POST, reps=reps)
    if form.is_valid():
        period = form.cleaned_data["period"]
        try:
            services.forecast_adjust(
                actor=request.user,
                owner=form.cleaned_data["owner"],
                period=period,
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Previsión de %(rep)s ajustada para %(period)s.")
                % {"rep": form.cleaned_data["owner"], "period": period.label},
            )
            return redirect(f"{reverse('opportunities:forecast')}?period={period.key}")
    try:
        period = selectors.period_parse(request.POST.get("period"))
    except ValueError:
        period = selectors.period_parse(None)
    context = _forecast_context(request, period, adjust_form=form, adjust_open=True)
    return render(request, "opportunities/forecast/forecast.html", context, status=422)


def _detail_url(pk: int) -> str | None:
    try:
        return reverse("opportunities:opportunity-detail", args=[pk])
    except NoReverseMatch:  # the pipeline pages are not installed
        return None


@require_http_methods(["GET"])
def forecast_deals(request: HttpRequest) -> HttpResponse:
    """The deals behind one figure of the forecast (drill-down)."""
    _require_seller(request)
    form = DealsFilterForm(request.GET or None)
    if not form.is_valid():
        raise Http404(_("No existe esa cifra de la previsión."))
    period = form.chosen_period()
    figure = form.cleaned_data.get("figure") or "open"
    owner_id = form.cleaned_data.get("owner")
    currency = (form.cleaned_data.get("currency") or "").upper() or None
    try:
        deals = selectors.forecast_deals(
            user=request.user, period=period, figure=figure, owner_id=owner_id, currency=currency
        )
    except Opportunity.DoesNotExist as exc:
        raise Http404(_("No existe esa previsión.")) from exc
    rates = Rates()
    page = paginate(request, deals)
    rows = []
    for deal in page:
        try:
            converted = rates.convert(deal.amount, deal.currency, period.rate_date)
        except ValidationError:
            converted = None
        rows.append({"deal": deal, "converted": converted, "url": _detail_url(deal.pk)})
    owner = (
        selectors.forecast_reps(user=request.user).filter(pk=owner_id).first() if owner_id else None
    )
    return render(
        request,
        "opportunities/forecast/deals.html",
        {
            "period": period,
            "figure": figure,
            "figure_label": FIGURE_LABELS[figure],
            "owner": owner,
            "currency_filter": currency,
            "page_obj": page,
            "rows": rows,
            "totals": selectors.deals_totals(deals=deals, period=period, rates=rates),
            "company_currency": company_currency(),
        },
    )


def _audit_export(request: HttpRequest, kind: str, period: selectors.Period) -> None:
    audit(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=f"forecast:{period.key}",
        detail={"format": kind, "period": period.key},
        ip=client_ip(request),
    )


@require_http_methods(["GET"])
def forecast_csv(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    period = _period(request)
    forecast = selectors.forecast_for(user=request.user, period=period)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="prevision-{period.key}.csv"'
    response.write("\ufeff")  # so spreadsheets read the accents as UTF-8
    writer = csv.writer(response)
    writer.writerow(
        [
            csv_cell(_("Vendedor")),
            _("Periodo"),
            _("Moneda"),
            _("Cuota"),
            _("Ganado"),
            _("Compromiso"),
            _("Mejor escenario"),
            _("Pipeline"),
            _("Pipeline abierto"),
            _("Pipeline ponderado"),
            _("Previsión (ganado + compromiso)"),
            _("Previsión ajustada"),
            _("Nota del ajuste"),
            _("Cumplimiento %"),
            _("Diferencia con la cuota"),
        ]
    )
    for row in [*forecast.rows, forecast.total]:
        writer.writerow(
            [
                csv_cell(str(row.owner) if row.owner else _("Total del equipo")),
                period.key,
                forecast.currency,
                row.quota,
                row.won,
                row.commit,
                row.best_case,
                row.pipeline,
                row.open,
                row.weighted,
                row.forecast,
                "" if row.adjusted is None else row.adjusted,
                csv_cell(row.adjustment.note) if row.adjustment else "",
                "" if row.attainment is None else row.attainment,
                row.gap,
            ]
        )
    for missing in forecast.excluded:
        writer.writerow(
            [
                csv_cell(
                    _("Sin tipo de cambio: %(currency)s, %(count)s oportunidades excluidas")
                    % {"currency": missing.currency, "count": missing.count}
                ),
                period.key,
                missing.currency,
            ]
        )
    _audit_export(request, "csv", period)
    return response


@require_http_methods(["GET"])
def forecast_pdf(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    period = _period(request)
    forecast = selectors.forecast_for(user=request.user, period=period)
    html = render_to_string(
        "opportunities/forecast/forecast_pdf.html",
        {
            "forecast": forecast,
            "period": period,
            "generated_at": timezone.localtime(),
            "generated_by": request.user,
            "rows_max": max([row.quota for row in forecast.rows] + [Decimal("1")]),
        },
        request=request,
    )
    import weasyprint  # heavy: loaded only when a PDF is asked for

    pdf = weasyprint.HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="prevision-{period.key}.pdf"'
    _audit_export(request, "pdf", period)
    return response


@require_http_methods(["GET", "POST"])
def quotas(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, 2000), 2100)
    reps, current = selectors.quota_grid(user=request.user, year=year)
    form = QuotaGridForm(
        request.POST if request.method == "POST" else None,
        reps=reps,
        year=year,
        quotas=current,
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.quotas_set(actor=request.user, amounts=form.amounts())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Cuotas guardadas (%(count)s cambios).") % {"count": changed}
            )
            return redirect(f"{reverse('opportunities:quotas')}?year={year}")
    return render(
        request,
        "opportunities/forecast/quotas.html",
        {
            "form": form,
            "year": year,
            "years": [year - 1, year + 1],
            "currency": company_currency(),
        },
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET"])
def analytics(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    period = _period(request)
    pipelines = list(Pipeline.objects.all())  # the default first
    chosen = request.GET.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.pk) == chosen), None) or next(
        iter(pipelines), None
    )
    data = analytics_selectors.sales_analytics(user=request.user, period=period, pipeline=pipeline)
    return render(
        request,
        "opportunities/forecast/analytics.html",
        {**data, "period_choices": period_choices(period), "pipelines": pipelines},
    )


@require_http_methods(["GET"])
def tiers(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    top = 200 if request.GET.get("top") == "all" else 25
    ranking = tier_selectors.tier_ranking(top=top)
    return render(
        request,
        "opportunities/forecast/tiers.html",
        {
            **ranking,
            "counts": tier_selectors.tier_counts(),
            "recent_changes": tier_selectors.tier_changes_recent(),
            "currency": company_currency(),
        },
    )


@require_http_methods(["GET"])
def tier_history(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    try:
        account, changes = tier_selectors.account_tier_history(account_id=pk)
    except Account.DoesNotExist as exc:
        raise Http404(_("No existe esa cuenta.")) from exc
    return render(
        request,
        "opportunities/forecast/tier_history.html",
        {"account": account, "changes": changes, "currency": company_currency()},
    )
