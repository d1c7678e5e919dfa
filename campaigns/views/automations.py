"""Automations: marketing's pages (list, editor with its steps, detail, pause and resume) and
the recipient's one-click unsubscribe from an automation's message (no login, no CSRF: the
signed link is the key, RFC 8058). Thin: parse, call campaigns.services.automations, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from campaigns import links
from campaigns.forms.automations import AutomationForm, StepFormSet
from campaigns.models import Automation
from campaigns.permissions import can_manage_campaigns
from campaigns.selectors import automations as selectors
from campaigns.services import automations as services
from campaigns.services import automations_run
from crm.core.forms_utils import add_service_errors, client_ip, paginate

T = "campaigns/automations/"


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(
            _("Solo marketing y los administradores gestionan automatizaciones.")
        )


def _automation(pk: int) -> Automation:
    try:
        return selectors.automation_get(pk=pk)
    except Automation.DoesNotExist as exc:
        raise Http404(_("No existe esa automatización.")) from exc


@require_http_methods(["GET"])
def automation_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    page = paginate(request, selectors.automation_list(), rows=selectors.automation_list())
    return render(request, T + "automation_list.html", {"page_obj": page})


def _editor(request: HttpRequest, automation: Automation | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = AutomationForm(data, instance=automation)
    steps = StepFormSet(data, instance=automation or Automation(), prefix="pasos")
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        try:
            with transaction.atomic():
                if automation is None:
                    automation = services.automation_create(
                        actor=request.user, data=form.service_data(), steps=steps.steps()
                    )
                    done = _("Automatización «%(name)s» creada.")
                else:
                    automation = services.automation_update(
                        actor=request.user,
                        automation=automation,
                        data=form.service_data(),
                        steps=steps.steps(),
                    )
                    done = _("Automatización «%(name)s» guardada.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, done % {"name": automation.name})
            return redirect(automation.get_absolute_url())
    has_errors = bool(form.errors) or any(steps.errors) or bool(steps.non_form_errors())
    return render(
        request,
        T + "automation_form.html",
        {"form": form, "steps": steps, "automation": automation},
        status=422 if request.method == "POST" and has_errors else 200,
    )


@require_http_methods(["GET", "POST"])
def automation_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
def automation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _editor(request, _automation(pk))


@require_http_methods(["GET"])
def automation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """What it sent and to whom, what waits and what it skipped (one paged tab at a time),
    and what comes next (the next birthdays, the next holidays)."""
    _require_manager(request)
    automation = _automation(pk)
    view = request.GET.get("vista")
    if view not in selectors.VIEWS:
        view = "enviados"
    page = paginate(request, selectors.automation_deliveries(automation=automation, view=view))
    upcoming_birthdays = upcoming_holidays = ()
    if automation.kind == Automation.Kind.BIRTHDAY:
        upcoming_birthdays = automations_run.next_birthdays(automation=automation)
    elif automation.kind == Automation.Kind.HOLIDAY:
        upcoming_holidays = services.next_holidays(automation)
    return render(
        request,
        T + "automation_detail.html",
        {
            "automation": automation,
            "steps": list(automation.steps.all()),
            "counts": selectors.automation_counts(automation=automation),
            "view": view,
            "page_obj": page,
            "upcoming_birthdays": upcoming_birthdays,
            "upcoming_holidays": upcoming_holidays,
            "quiet_hours": services.quiet_hours(),
        },
    )


def _act(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    automation = _automation(pk)
    try:
        action(actor=request.user, automation=automation)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect(automation.get_absolute_url())


@require_POST
def automation_pause(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _act(request, pk, services.automation_pause, _("Automatización pausada."))


@require_POST
def automation_resume(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _act(request, pk, services.automation_resume, _("Automatización reanudada."))


# --- The recipient's side ---------------------------------------------------------------------


@login_not_required
@csrf_exempt  # RFC 8058: the mail client POSTs with no cookie and no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def automation_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a scanner following the link unsubscribes no one); POST unsubscribes from the
    automation's topic, or from all email with "alcance=todos"."""
    with translation.override(settings.LANGUAGE_CODE):
        delivery = services.delivery_for_token(token)
        context = {"company": settings.COMPANY}
        if delivery is None:
            response = render(
                request,
                "campaigns/public/link_problem.html",
                {**context, "status": 400},
                status=400,
            )
        else:
            context.update(
                {
                    "delivery": delivery,
                    "topic": delivery.automation.topic,
                    "preferences_url": links.preferences_url(delivery.contact_id),
                }
            )
            if request.method == "POST":
                everything = (
                    request.POST.get("alcance") == "todos" or delivery.automation.topic is None
                )
                changed = services.automation_unsubscribe(
                    delivery=delivery,
                    everything=everything,
                    ip_address=client_ip(request),
                    user_agent=request.headers.get("user-agent", "")[:300],
                )
                context.update({"everything": everything, "changed": changed, "done": True})
            else:
                context["state"] = services.unsubscribe_state(delivery)
            response = render(request, T + "unsubscribe.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
