"""Pages of lead routing: the rep's assigned leads (accept or reject), the routing rules
(administrators and marketing), and the manager's report (response time and funnel)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from contacts.models import LeadSource
from crm.core.forms_utils import add_service_errors, paginate
from crm.core.text import parse_id
from opportunities.forms.leads import LeadListForm, LeadRejectForm, LeadReportForm, RoutingRuleForm
from opportunities.models import LeadAssignment, RoutingRule
from opportunities.permissions import can_manage_team, can_sell
from opportunities.selectors import leads as selectors
from opportunities.services import leads as services

T = "opportunities/leads/"
# The funnel's columns, in the order of selectors.leads.FUNNEL.
FUNNEL_LABELS = [
    gettext_lazy("Suscriptor o más"),
    gettext_lazy("Lead"),
    gettext_lazy("MQL"),
    gettext_lazy("SQL"),
    gettext_lazy("Cliente"),
]


def _require_seller(request: HttpRequest) -> None:
    if not can_sell(request.user):
        raise PermissionDenied(_("Tu rol no recibe leads."))


def _require_routing(request: HttpRequest) -> None:
    if not services.can_manage_routing(request.user):
        raise PermissionDenied(_("Solo los administradores y marketing gestionan el reparto."))


def _assignment(request: HttpRequest, pk) -> LeadAssignment:
    """The assignment if the user may see it; another rep's answers 404, as a missing one."""
    try:
        return selectors.lead_detail(user=request.user, pk=parse_id(pk) or 0)
    except LeadAssignment.DoesNotExist as exc:
        raise Http404(_("No existe ese lead asignado.")) from exc


# --- The rep's leads -----------------------------------------------------------------------------


@require_http_methods(["GET"])
def lead_list(request: HttpRequest) -> HttpResponse:
    """Pending leads (due first), or the answered ones; a manager sees the team's."""
    _require_seller(request)
    status = LeadListForm(request.GET).chosen()
    page = paginate(request, selectors.lead_list(user=request.user, status=status))
    template = T + "lead_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#lead-table"
    return render(
        request,
        template,
        {
            "page_obj": page,
            "status": status,
            "now": timezone.now(),
            "show_rep": not request.user.is_rep,
            "can_report": can_manage_team(request.user),
        },
    )


def _detail_page(request: HttpRequest, assignment: LeadAssignment, form=None, status=200):
    return render(
        request,
        T + "lead_detail.html",
        {
            "assignment": assignment,
            "contact": assignment.contact,
            "reject_form": form or LeadRejectForm(),
            "now": timezone.now(),
        },
        status=status,
    )


@require_http_methods(["GET"])
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_seller(request)
    return _detail_page(request, _assignment(request, pk))


@require_POST
def lead_accept(request: HttpRequest, pk: int) -> HttpResponse:
    _require_seller(request)
    assignment = _assignment(request, pk)
    try:
        services.lead_accept(actor=request.user, assignment=assignment)
    except (ValidationError, PermissionDenied) as exc:
        text = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect(assignment.get_absolute_url())
    messages.success(
        request,
        _("Lead aceptado: %(name)s es ahora SQL.") % {"name": assignment.contact.full_name},
    )
    return redirect("opportunities:lead-list")


@require_POST
def lead_reject(request: HttpRequest, pk: int) -> HttpResponse:
    _require_seller(request)
    assignment = _assignment(request, pk)
    form = LeadRejectForm(request.POST)
    if form.is_valid():
        try:
            services.lead_reject(
                actor=request.user,
                assignment=assignment,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Lead rechazado: %(name)s vuelve a ser lead.")
                % {"name": assignment.contact.full_name},
            )
            return redirect("opportunities:lead-list")
    return _detail_page(request, assignment, form=form, status=422)


# --- The manager's report ------------------------------------------------------------------------


@require_http_methods(["GET"])
def lead_report(request: HttpRequest) -> HttpResponse:
    if not can_manage_team(request.user):
        raise PermissionDenied(_("Solo los gerentes de ventas y los administradores."))
    form = LeadReportForm(request.GET or None)
    start, end, source = form.chosen()
    rows, total = selectors.lead_response_times(
        user=request.user, start=start, end=end, source=source
    )
    months, sources, funnel_total = selectors.lead_funnel(
        user=request.user, start=start, end=end, source=source
    )
    return render(
        request,
        T + "lead_report.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "source_label": dict(LeadSource.choices).get(source, ""),
            "rows": rows,
            "total": total,
            "months": months,
            "sources": sources,
            "funnel_total": funnel_total,
            "stages": FUNNEL_LABELS,
        },
        status=422 if form.errors else 200,
    )


# --- The rules -----------------------------------------------------------------------------------


def _rule(pk) -> RoutingRule:
    rule = RoutingRule.objects.filter(pk=parse_id(pk) or 0).first()
    if rule is None:
        raise Http404(_("No existe esa regla."))
    return rule


@require_http_methods(["GET"])
def routing_rule_list(request: HttpRequest) -> HttpResponse:
    _require_routing(request)
    page = paginate(request, selectors.routing_rule_list())
    return render(
        request,
        T + "rule_list.html",
        {
            "page_obj": page,
            "account_owner_first": services.account_owner_first(),
            "response_hours": services.response_hours(),
        },
    )


def _rule_form_page(request: HttpRequest, rule: RoutingRule | None) -> HttpResponse:
    form = RoutingRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                saved = services.routing_rule_create(actor=request.user, data=form.rule_data())
            else:
                saved = services.routing_rule_update(
                    actor=request.user, rule=rule, data=form.rule_data()
                )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "regions" in exc.error_dict:
                exc.error_dict["regions_text"] = exc.error_dict.pop("regions")
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Regla «%(name)s» guardada.") % {"name": saved.name})
            return redirect("opportunities:routing-rule-list")
    return render(
        request,
        T + "rule_form.html",
        {"form": form, "rule": rule, "creating": rule is None},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def routing_rule_create(request: HttpRequest) -> HttpResponse:
    _require_routing(request)
    return _rule_form_page(request, None)


@require_http_methods(["GET", "POST"])
def routing_rule_update(request: HttpRequest, pk: int) -> HttpResponse:
    _require_routing(request)
    return _rule_form_page(request, _rule(pk))


@require_POST
def routing_rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate a rule, or activate it again ("active" in the POST: 1 or 0)."""
    _require_routing(request)
    rule = services.routing_rule_set_active(
        actor=request.user, rule=_rule(pk), active=request.POST.get("active") == "1"
    )
    if rule.active:
        messages.success(request, _("Regla «%(name)s» activada.") % {"name": rule.name})
    else:
        messages.success(request, _("Regla «%(name)s» desactivada.") % {"name": rule.name})
    return redirect("opportunities:routing-rule-list")


@require_POST
def routing_rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One place up ("direction": "up") or down (anything else)."""
    _require_routing(request)
    services.routing_rule_move(
        actor=request.user, rule=_rule(pk), up=request.POST.get("direction") == "up"
    )
    return redirect("opportunities:routing-rule-list")
