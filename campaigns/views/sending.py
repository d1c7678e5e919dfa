"""Pages of sending: confirm and send, schedule, pause, resume, cancel, the progress bar, and the
ledger with its doubtful rows. Thin: check the role, call one service, redirect with a message.

Every action is a POST form that works without JavaScript; the progress bar polls with htmx
while the campaign is sending and is a plain page otherwise.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from campaigns.models import Campaign, Send
from campaigns.permissions import can_manage_campaigns, can_read_results
from campaigns.selectors import sending as selectors
from campaigns.services import recipients
from campaigns.services import sending as services
from crm.core.forms_utils import paginate, safe_next

T = "campaigns/sending/"


class ScheduleForm(forms.Form):
    when = forms.DateTimeField(
        label=gettext_lazy("Fecha y hora del envío"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": gettext_lazy("Escribe la fecha y la hora (AAAA-MM-DD HH:MM).")},
    )


class LedgerFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Estado"),
        required=False,
        choices=[("", gettext_lazy("Todos")), *Send.Status.choices],
    )
    q = forms.CharField(label=gettext_lazy("Correo"), required=False, max_length=254)


class ResolveForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            (services.RESOLVE_SENT, gettext_lazy("Marcar como enviado")),
            (services.RESOLVE_RESEND, gettext_lazy("Reenviar")),
        ]
    )


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Solo marketing envía campañas."))


def _require_reader(request: HttpRequest) -> None:
    if not (can_manage_campaigns(request.user) or can_read_results(request.user)):
        raise PermissionDenied(_("Tu rol no tiene acceso a las campañas."))


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("segment", "topic"), pk=pk)


def _back(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    return redirect(safe_next(request, reverse("campaigns:campaign-progress", args=[campaign.pk])))


def _act(request: HttpRequest, campaign: Campaign, action, done: str) -> HttpResponse:
    try:
        action(campaign=campaign, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return _back(request, campaign)


@require_http_methods(["GET", "POST"])
def campaign_send(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation step (how many will receive it); POST: send now."""
    _require_manager(request)
    campaign = _campaign(pk)
    if request.method == "POST":
        return _act(
            request,
            campaign,
            services.campaign_send_now,
            _("Envío iniciado: los mensajes salen en segundo plano."),
        )
    errors = services.send_errors(campaign)
    return render(
        request,
        T + "send_confirm.html",
        {
            "campaign": campaign,
            "errors": errors,
            "can_send": not errors
            and campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED),
            "recipients": recipients.recipient_count(campaign) if not errors else 0,
            "next": safe_next(request, campaign.get_absolute_url()),
        },
    )


@require_http_methods(["GET", "POST"])
def campaign_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    campaign = _campaign(pk)
    form = ScheduleForm(request.POST or None, initial={"when": campaign.scheduled_at})
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_schedule(
                campaign=campaign, user=request.user, when=form.cleaned_data["when"]
            )
        except ValidationError as exc:
            form.add_error("when" if exc.code in ("past", "invalid") else None, exc)
        else:
            messages.success(
                request,
                _("Campaña programada para el %(when)s.")
                % {
                    "when": timezone.localtime(form.cleaned_data["when"]).strftime("%d/%m/%Y %H:%M")
                },
            )
            return _back(request, campaign)
    return render(
        request,
        T + "schedule.html",
        {
            "campaign": campaign,
            "form": form,
            "next": safe_next(request, campaign.get_absolute_url()),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def campaign_pause(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _act(request, _campaign(pk), services.campaign_pause, _("Envío pausado."))


@require_POST
def campaign_resume(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _act(request, _campaign(pk), services.campaign_resume, _("Envío reanudado."))


@require_http_methods(["GET", "POST"])
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: are you sure; POST: cancel (what is pending is never sent)."""
    _require_manager(request)
    campaign = _campaign(pk)
    if request.method == "POST":
        return _act(request, campaign, services.campaign_cancel, _("Campaña cancelada."))
    return render(
        request,
        T + "cancel_confirm.html",
        {
            "campaign": campaign,
            "progress": selectors.campaign_progress(campaign),
            "next": safe_next(request, campaign.get_absolute_url()),
        },
    )


@require_http_methods(["GET"])
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar: a fragment for htmx polling, a page of its own without JavaScript."""
    _require_reader(request)
    campaign = _campaign(pk)
    template = T + "progress.html"
    if request.htmx and not request.htmx.boosted:
        template += "#send-progress"
    return render(
        request,
        template,
        {
            "campaign": campaign,
            "progress": selectors.campaign_progress(campaign),
            "can_manage": can_manage_campaigns(request.user),
        },
    )


@require_http_methods(["GET"])
def campaign_sends(request: HttpRequest, pk: int) -> HttpResponse:
    """The send ledger: one row per recipient, by status and address; doubts highlighted.

    Its progress bar (a count of the whole ledger by status) is not read here: the full page
    loads it from campaign_progress, which polls while the campaign is sending, so neither the
    page nor its htmx row swaps count a ledger of 100,000 rows.
    """
    _require_reader(request)
    campaign = _campaign(pk)
    form = LedgerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = paginate(
        request,
        selectors.campaign_sends(
            campaign=campaign, status=filters.get("status", ""), query=filters.get("q", "")
        ),
    )
    template = T + "sends.html"
    if request.htmx and not request.htmx.boosted:
        template += "#send-rows"
    return render(
        request,
        template,
        {
            "campaign": campaign,
            "filter_form": form,
            "page_obj": page,
            "can_manage": can_manage_campaigns(request.user),
            "doubt": Send.Status.DOUBT,
        },
    )


@require_POST
def campaign_send_resolve(request: HttpRequest, pk: int, send_pk: int) -> HttpResponse:
    """A person's decision about a row in doubt: it arrived, or send it again."""
    _require_manager(request)
    campaign = _campaign(pk)
    send = get_object_or_404(Send, pk=send_pk, campaign=campaign)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Elige «marcar como enviado» o «reenviar»."))
    else:
        try:
            services.campaign_send_resolve(
                send=send, user=request.user, action=form.cleaned_data["action"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if form.cleaned_data["action"] == services.RESOLVE_SENT:
                messages.success(
                    request, _("Marcado como enviado: %(email)s.") % {"email": send.email}
                )
            else:
                messages.success(request, _("Se reenviará a %(email)s.") % {"email": send.email})
    default = reverse("campaigns:campaign-sends", args=[campaign.pk]) + "?status=en_duda"
    return redirect(safe_next(request, default))
