"""Quotes: issue a version from the deal's lines, download its PDF, send it to the contact."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from opportunities.forms.pipeline import QuoteForm
from opportunities.models import Quote
from opportunities.selectors import pipeline as selectors
from opportunities.services import quotes as services
from opportunities.views.pipeline import _editable


def _quote(request: HttpRequest, pk: int) -> Quote:
    try:
        return selectors.quote_visible(user=request.user, pk=pk)
    except Quote.DoesNotExist as exc:
        raise Http404(_("No existe esa cotización.")) from exc


def _quotes_url(quote_or_opportunity) -> str:
    opportunity = getattr(quote_or_opportunity, "opportunity", quote_or_opportunity)
    return f"{opportunity.get_absolute_url()}#quotes"


@require_POST
def quote_issue(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable(request, pk)
    form = QuoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indica una fecha de vigencia válida."))
        return redirect(_quotes_url(opportunity))
    try:
        quote = services.quote_issue(
            actor=request.user,
            opportunity=opportunity,
            valid_until=form.cleaned_data["valid_until"],
            terms=form.cleaned_data["terms"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Cotización %(number)s, versión %(version)s, emitida.")
            % {"number": quote.number, "version": quote.version},
        )
    return redirect(_quotes_url(opportunity))


@require_http_methods(["GET"])
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _quote(request, pk)
    if not quote.pdf:
        raise Http404(_("Esta cotización no tiene PDF."))
    try:
        handle = quote.pdf.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("No se encuentra el PDF de esta cotización.")) from exc
    return FileResponse(
        handle,
        as_attachment=request.GET.get("inline") != "1",
        filename=f"{quote.number}-v{quote.version}.pdf",
        content_type="application/pdf",
    )


@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _quote(request, pk)
    _editable(request, quote.opportunity_id)
    try:
        services.quote_send_request(actor=request.user, quote=quote)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("La cotización %(number)s v%(version)s se está enviando a %(email)s.")
            % {
                "number": quote.number,
                "version": quote.version,
                "email": quote.opportunity.contact.email,
            },
        )
    return redirect(_quotes_url(quote))
