"""The webhooks' administration (issue 11), for administrators only: the endpoints, their
secret, a test event, and the log of each endpoint's deliveries with a "retry now".

The secret is shown to administrators whenever they open the endpoint (folded away until asked
for): the CRM must keep it in clear to sign, so hiding it from the people who may rotate it
would protect nothing, and a receiver set up again later needs it.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from crm.core import webhooks
from crm.core.forms_utils import add_service_errors, paginate
from crm.core.models import WebhookDelivery, WebhookEndpoint

LOG_PAGE = 25


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("Dirección (URL)"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy("La dirección https:// del sistema que recibirá los eventos."),
    )
    description = forms.CharField(
        label=gettext_lazy("Descripción"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Para reconocerlo: «Tienda en línea», «ERP»…"),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Eventos"),
        choices=[(t.value, t.label) for t in webhooks.SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
    )


def _require_admin(request: HttpRequest) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied(_("Solo un administrador gestiona los webhooks."))


def _endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    _require_admin(request)
    return get_object_or_404(WebhookEndpoint.objects.select_related("created_by"), pk=pk)


@require_http_methods(["GET"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    endpoints = list(WebhookEndpoint.objects.select_related("created_by"))
    labels = dict(webhooks.WebhookEventType.choices)
    for endpoint in endpoints:
        endpoint.event_labels = [labels.get(e, e) for e in endpoint.events]
    return render(request, "webhooks/webhook_list.html", {"endpoints": endpoints})


@never_cache
@require_http_methods(["GET", "POST"])
def webhook_create(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhooks.webhook_endpoint_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Webhook creado. Copia su secreto y configúralo en el receptor para "
                    "verificar las firmas."
                ),
            )
            return redirect("crm:webhook-detail", endpoint.pk)
    return render(request, "webhooks/webhook_form.html", {"form": form, "endpoint": None})


@never_cache
@require_http_methods(["GET", "POST"])
def webhook_update(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.webhook_endpoint_update(
                actor=request.user, endpoint=endpoint, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Webhook guardado."))
            return redirect("crm:webhook-detail", endpoint.pk)
    return render(request, "webhooks/webhook_form.html", {"form": form, "endpoint": endpoint})


@never_cache
@require_http_methods(["GET"])
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")
    page = paginate(request, deliveries, LOG_PAGE, rows=deliveries.select_related("event"))
    labels = dict(webhooks.WebhookEventType.choices)
    return render(
        request,
        "webhooks/webhook_detail.html",
        {
            "endpoint": endpoint,
            "event_labels": [labels.get(e, e) for e in endpoint.events],
            "page_obj": page,
            "deliveries": page.object_list,
            "max_attempts": webhooks.MAX_ATTEMPTS,
            "retention_days": webhooks.retention_days(),
        },
    )


def _act(request: HttpRequest, endpoint: WebhookEndpoint, action, success: str) -> HttpResponse:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect("crm:webhook-detail", endpoint.pk)


@require_POST
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    return _act(
        request,
        endpoint,
        lambda: webhooks.webhook_endpoint_set_active(
            actor=request.user, endpoint=endpoint, active=True
        ),
        _("Webhook activado: se le enviarán de nuevo los eventos, también los pendientes."),
    )


@require_POST
def webhook_disable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    return _act(
        request,
        endpoint,
        lambda: webhooks.webhook_endpoint_set_active(
            actor=request.user, endpoint=endpoint, active=False
        ),
        _("Webhook desactivado: no se le enviará nada hasta que lo actives."),
    )


@require_POST
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    return _act(
        request,
        endpoint,
        lambda: webhooks.webhook_secret_rotate(actor=request.user, endpoint=endpoint),
        _("Secreto nuevo creado. Durante un día los envíos llevan también la firma del anterior."),
    )


@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    return _act(
        request,
        endpoint,
        lambda: webhooks.webhook_send_test(actor=request.user, endpoint=endpoint),
        _("Evento de prueba en camino: su resultado aparecerá en el registro de entregas."),
    )


@require_POST
def webhook_delivery_retry(request: HttpRequest, pk: int, delivery: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    row = get_object_or_404(WebhookDelivery, pk=delivery, endpoint=endpoint)
    return _act(
        request,
        endpoint,
        lambda: webhooks.webhook_delivery_retry(actor=request.user, delivery=row),
        _("Entrega en camino: se intentará ahora."),
    )
