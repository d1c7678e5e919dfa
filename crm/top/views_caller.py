"""¿Quién llama?: find the caller by any part of their number, log the call, open a ticket."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Account
from contacts.models import Contact
from crm.core.roles import can_use
from crm.top.caller import MAX_QUERY, caller_hit, caller_lookup, caller_record
from opportunities.models import ActivityKind
from opportunities.money import company_currency
from opportunities.services.activities import activity_log

TEMPLATE = "crm/caller.html"
CALL_MINUTES = 5  # what a logged incoming call takes in the agenda


class CallerForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Teléfono"), max_length=MAX_QUERY, required=False)


class LogCallForm(forms.Form):
    contact = forms.IntegerField(required=False, min_value=1)
    account = forms.IntegerField(required=False, min_value=1)
    outcome = forms.CharField(
        label=gettext_lazy("Motivo de la llamada"), max_length=500, required=False
    )
    q = forms.CharField(max_length=MAX_QUERY, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("contact") and not data.get("account"):
            raise ValidationError(_("Indica el contacto o la cuenta que llama."))
        return data


def _require_caller(request: HttpRequest) -> None:
    if not can_use(request.user, "caller"):
        raise PermissionDenied(_("Tu rol no tiene acceso a «¿Quién llama?»."))


def _card_context() -> dict:
    """What every result card needs, worked out once per page rather than once per card."""
    return {
        "log_url": reverse("crm:caller-log-call"),
        "opportunity_list_url": reverse("opportunities:opportunity-list"),
        "company_currency": company_currency(),
    }


def _page_url(query: str) -> str:
    url = reverse("crm:caller")
    return f"{url}?{urlencode({'q': query})}" if query else url


@require_GET
def caller(request: HttpRequest) -> HttpResponse:
    """The page, and (for htmx, as the user types) only its results."""
    _require_caller(request)
    form = CallerForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    results = caller_lookup(user=request.user, query=query)
    fragment = request.htmx and not request.htmx.history_restore_request
    return render(
        request,
        f"{TEMPLATE}#caller-results" if fragment else TEMPLATE,
        {"results": results, "form": form, **_card_context()},
    )


@require_POST
def caller_log_call(request: HttpRequest) -> HttpResponse:
    """Log the call just answered, as a done call of the contact or the account."""
    _require_caller(request)
    form = LogCallForm(request.POST)
    if not form.is_valid():
        raise Http404(_("Falta el contacto o la cuenta."))
    data = form.cleaned_data
    record = caller_record(
        user=request.user, contact_id=data["contact"], account_id=data["account"]
    )
    if record is None:
        raise Http404(_("No existe ese contacto o esa cuenta."))
    contact = record if isinstance(record, Contact) else None
    account = record if isinstance(record, Account) else None
    outcome = data["outcome"].strip() or _("Llamada recibida.")
    error = ""
    try:
        activity_log(
            actor=request.user,
            kind=ActivityKind.CALL,
            outcome=outcome,
            subject=_("Llamada entrante"),
            contact=contact,
            account=account,
            duration_minutes=CALL_MINUTES,
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("Llamada registrada."))
        return redirect(_page_url(data["q"]))
    hit = caller_hit(
        user=request.user,
        query=data["q"],
        contact_id=contact.pk if contact else None,
        account_id=account.pk if account else None,
    )
    # The card again, with the call in its last activities (or why it was not logged).
    return render(
        request,
        f"{TEMPLATE}#caller-card",
        {
            "hit": hit,
            "query": data["q"],
            "logged": not error,
            "error": error,
            **_card_context(),
        },
    )
