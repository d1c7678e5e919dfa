"""The support dashboard: backlog, SLA compliance, response times, CSAT and NPS."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm.core.roles import can_use
from support.forms.surveys import DashboardFilterForm
from support.selectors.dashboard import AGE_BUCKETS, support_dashboard
from support.services.surveys import can_run_nps


@require_http_methods(["GET"])
def dashboard(request: HttpRequest) -> HttpResponse:
    if not can_use(request.user, "support_dashboard"):
        raise PermissionDenied(_("Tu rol no tiene acceso al panel de soporte."))
    form = DashboardFilterForm(request.GET or None)
    chosen = form.chosen()
    data = support_dashboard(days=chosen["days"], team=chosen["team"], agent=chosen["agent"])
    template = "support/dashboard/dashboard.html"
    if request.htmx and not request.htmx.boosted:
        template += "#dashboard-body"
    return render(
        request,
        template,
        {
            **data,
            "filter_form": form,
            "age_buckets": AGE_BUCKETS,
            "can_run_nps": can_run_nps(request.user),
        },
    )
