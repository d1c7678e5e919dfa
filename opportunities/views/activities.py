"""Pages of activities: the sheet's panels and quick log, the call and WhatsApp that log, the
activity list, and an activity's page (plan, edit, mark done, cancel)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account
from accounts.selectors import account_base
from contacts.models import Contact
from contacts.selectors import contact_base
from crm.core.forms_utils import add_service_errors, paginate, safe_next
from crm.core.text import parse_id
from opportunities.forms.activities import (
    ActivityCompleteForm,
    ActivityEditForm,
    ActivityLogForm,
    ActivityPlanForm,
)
from opportunities.models import Activity, ActivityKind, LeadAssignment, Opportunity
from opportunities.permissions import can_sell
from opportunities.selectors import activities as selectors
from opportunities.selectors.pipeline import opportunity_list
from opportunities.services import activities as services
from opportunities.views.agenda_items import agenda_item_maker

QUICK_KINDS = [
    (ActivityKind.VISIT, "bi-geo-alt"),
    (ActivityKind.CALL, "bi-telephone"),
    (ActivityKind.MEETING, "bi-people"),
    (ActivityKind.WHATSAPP, "bi-whatsapp"),
    (ActivityKind.EMAIL, "bi-envelope"),
    (ActivityKind.TASK, "bi-check2-square"),
]
T = "opportunities/activities/"


class LinkRedirect(HttpResponseRedirect):
    """A redirect to the dialler or to WhatsApp, after the attempt has been logged."""

    allowed_schemes = ["tel", "https"]


def _require_seller(request: HttpRequest) -> None:
    if not can_sell(request.user):
        raise PermissionDenied(_("Tu rol no tiene agenda de actividades."))


# The customer and the sheet's panels ----------------------------------------------------------


class Customer:
    """The account, contact or opportunity whose page the activities panel sits on."""

    def __init__(
        self,
        *,
        account: Account | None = None,
        contact: Contact | None = None,
        opportunity: Opportunity | None = None,
    ):
        self.contact = contact
        self.opportunity = opportunity
        if opportunity is not None:
            account = opportunity.account
        self.account = account or (contact.account if contact else None)
        self.scope = "opportunity" if opportunity else "contact" if contact else "account"
        self.obj = opportunity or contact or account
        self.dom_id = f"activity-panel-{self.scope}-{self.obj.pk}"
        self.query = f"{self.scope}={self.obj.pk}"

    @property
    def panel_url(self) -> str:
        return reverse(f"opportunities:{self.scope}-activities-panel", args=[self.obj.pk])

    @property
    def log_url(self) -> str:
        return f"{reverse('opportunities:activity-log')}?{self.query}"


def _account(request: HttpRequest, pk) -> Account:
    account = account_base(user=request.user).filter(pk=parse_id(pk) or 0).first()
    if account is None:
        raise Http404(_("No existe esa cuenta."))
    return account


def _contact(request: HttpRequest, pk) -> Contact:
    contact = (
        contact_base(user=request.user)
        .select_related("account")
        .filter(pk=parse_id(pk) or 0)
        .first()
    )
    if contact is None:
        raise Http404(_("No existe ese contacto."))
    return contact


def _opportunity(request: HttpRequest, pk) -> Opportunity:
    opportunity = (
        opportunity_list(user=request.user)
        .select_related("account", "contact")
        .filter(pk=parse_id(pk) or 0)
        .first()
    )
    if opportunity is None:
        raise Http404(_("No existe esa oportunidad."))
    return opportunity


CUSTOMER_PARAMS = ("opportunity", "contact", "account")


def _has_customer(request: HttpRequest) -> bool:
    return any(request.GET.get(name) for name in CUSTOMER_PARAMS)


def _customer_from(request: HttpRequest) -> Customer:
    params = request.GET
    if params.get("opportunity"):
        return Customer(opportunity=_opportunity(request, params["opportunity"]))
    if params.get("contact"):
        return Customer(contact=_contact(request, params["contact"]))
    if params.get("account"):
        return Customer(account=_account(request, params["account"]))
    raise Http404(_("Falta la cuenta o el contacto."))


def _log_form(request: HttpRequest, customer: Customer, data=None) -> ActivityLogForm:
    kind = request.GET.get("kind")
    initial = {"kind": kind if kind in ActivityKind.values else ActivityKind.VISIT}
    if customer.opportunity is not None:
        initial["opportunity"] = customer.opportunity.pk
        initial["contact"] = customer.opportunity.contact_id
    return ActivityLogForm(
        data,
        initial=initial,
        contacts=selectors.contacts_for_account(account_id=customer.account.pk)
        if customer.scope != "contact"
        else None,
        opportunities=selectors.open_opportunities_for(
            user=request.user, account_id=customer.account.pk
        )
        if customer.account
        else None,
        auto_id=f"id_{customer.scope}{customer.obj.pk}_%s",
    )


def _panel(
    request: HttpRequest, customer: Customer, *, form=None, logged=None, status: int = 200
) -> HttpResponse:
    visible = request.user.is_admin_role or can_sell(request.user) or request.user.is_support
    timeline, more = ([], False)
    if visible:
        timeline, more = selectors.customer_timeline(
            user=request.user, **{f"{customer.scope}_id": customer.obj.pk}
        )
    contact = customer.contact
    return render(
        request,
        T + "panel.html#panel",
        {
            "customer": customer,
            "can_log": can_sell(request.user),
            "can_read": visible,
            "timeline": timeline,
            "more": more,
            "form": form,
            "logged": logged,
            "quick_kinds": [(k, ActivityKind(k).label, icon) for k, icon in QUICK_KINDS],
            "has_phone": bool(contact and (contact.mobile or contact.phone)),
            "list_url": f"{reverse('opportunities:activity-list')}?{customer.query}",
            "now": timezone.now(),
        },
        status=status,
    )


@require_http_methods(["GET"])
def account_activities_panel(request: HttpRequest, account_pk: int) -> HttpResponse:
    """The activities panel of an account's sheet (crm.core.panels), loaded by htmx."""
    return _panel(request, Customer(account=_account(request, account_pk)))


@require_http_methods(["GET"])
def opportunity_activities_panel(request: HttpRequest, opportunity_pk: int) -> HttpResponse:
    """The activities of one deal on its page, with quick logging tied to the deal."""
    return _panel(request, Customer(opportunity=_opportunity(request, opportunity_pk)))


@require_http_methods(["GET"])
def contact_activities_panel(request: HttpRequest, contact_pk: int) -> HttpResponse:
    """The activities panel of a contact's sheet, with "Llamar" and "WhatsApp" that log."""
    return _panel(request, Customer(contact=_contact(request, contact_pk)))


@require_http_methods(["GET", "POST"])
def activity_log(request: HttpRequest) -> HttpResponse:
    """Log a done activity for ?account= or ?contact=: the panel's inline form, or a page."""
    _require_seller(request)
    customer = _customer_from(request)
    form = _log_form(request, customer, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.activity_log(
                actor=request.user,
                kind=data["kind"],
                when=data["when"],
                outcome=data["outcome"],
                notes=data["notes"],
                account=customer.account,
                contact=data.get("contact") or customer.contact,
                opportunity=data.get("opportunity"),
                next_kind=data["next_kind"],
                next_at=data["next_at"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:
                response = _panel(request, customer, logged=activity)
                response["HX-Trigger"] = "activity-logged"
                return response
            messages.success(request, _("Actividad registrada."))
            return redirect(safe_next(request, customer.obj.get_absolute_url()))
    if request.htmx:
        if request.method == "POST":  # the panel again, with the form and its errors
            return _panel(request, customer, form=form)
        return render(request, T + "panel.html#quick-form", {"customer": customer, "form": form})
    return render(
        request,
        T + "log_page.html",
        {"customer": customer, "form": form, "next": safe_next(request, "")},
        status=422 if form.errors else 200,
    )


@require_POST
def contact_attempt(request: HttpRequest, contact_pk: int, channel: str) -> HttpResponse:
    """Log the call or WhatsApp to the contact, then open the dialler or WhatsApp."""
    _require_seller(request)
    if channel not in (ActivityKind.CALL, ActivityKind.WHATSAPP):
        raise Http404
    contact = _contact(request, contact_pk)
    try:
        _activity, link = services.contact_attempt_log(
            actor=request.user, contact=contact, channel=channel
        )
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse(" ".join(exc.messages), status=422)
        messages.error(request, " ".join(exc.messages))
        return redirect(contact)
    if request.htmx:
        response = HttpResponse(status=200)
        response["HX-Trigger"] = "contact-attempt-logged"
        response["HX-Redirect"] = link
        return response
    return LinkRedirect(link)


# The list -------------------------------------------------------------------------------------


@require_http_methods(["GET"])
def activity_list(request: HttpRequest) -> HttpResponse:
    """All the activities of a customer (the panel's "ver todas"), or the user's."""
    if not (can_sell(request.user) or request.user.is_support):
        raise PermissionDenied(_("Tu rol no puede ver actividades."))
    filters = {}
    customer = None
    if _has_customer(request):
        customer = _customer_from(request)
        filters[customer.scope] = customer.obj.pk
    else:
        filters["mine"] = True
    if request.GET.get("status") in Activity.Status.values:
        filters["status"] = request.GET["status"]
    page = paginate(request, selectors.activity_list(user=request.user, filters=filters))
    return render(
        request,
        T + "activity_list.html",
        {
            "page_obj": page,
            "customer": customer,
            "statuses": Activity.Status.choices,
            "now": timezone.now(),
        },
    )


# One activity ---------------------------------------------------------------------------------


def _visible(request: HttpRequest, pk: int) -> Activity:
    try:
        return selectors.activity_detail(user=request.user, pk=pk)
    except Activity.DoesNotExist as exc:
        raise Http404(_("No existe esa actividad.")) from exc


def _editable(request: HttpRequest, pk: int) -> Activity:
    activity = _visible(request, pk)
    if not activity.can_edit:
        raise Http404(_("No existe esa actividad o no puedes modificarla."))
    return activity


@require_http_methods(["GET", "POST"])
def activity_create(request: HttpRequest) -> HttpResponse:
    """Plan an activity: for ?account= or ?contact= (from a sheet), or choosing the account."""
    _require_seller(request)
    customer = _customer_from(request) if _has_customer(request) else None
    account_id = customer.account.pk if customer and customer.account else None
    kind = request.GET.get("kind")
    initial = {"kind": kind if kind in ActivityKind.values else ActivityKind.VISIT}
    if customer and customer.scope != "contact":
        initial["place"] = customer.account.address_line[:200]
    if customer and customer.opportunity is not None:
        initial["opportunity"] = customer.opportunity.pk
        initial["contact"] = customer.opportunity.contact_id
    form = ActivityPlanForm(
        request.POST or None,
        initial=initial,
        fixed_customer=customer is not None,
        contacts=selectors.contacts_for_account(account_id=account_id)
        if customer and customer.scope != "contact"
        else None,
        opportunities=selectors.open_opportunities_for(user=request.user, account_id=account_id)
        if account_id
        else None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.activity_plan(
                actor=request.user,
                kind=data["kind"],
                planned_at=data["planned_at"],
                duration_minutes=data["duration_minutes"],
                subject=data["subject"],
                place=data["place"],
                notes=data["notes"],
                account=customer.account if customer else data["account"],
                contact=data.get("contact") or (customer.contact if customer else None),
                opportunity=data.get("opportunity"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Actividad planificada."))
            return redirect(safe_next(request, activity.get_absolute_url()))
    return render(
        request,
        T + "activity_form.html",
        {"form": form, "customer": customer},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET"])
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    editing = activity.can_edit and activity.status != Activity.Status.CANCELLED
    return render(
        request,
        T + "activity_detail.html",
        {
            "activity": activity,
            # Support reads the customer's activities, never their deals (DESIGN.md §1).
            "sees_deals": can_sell(request.user),
            # The call task of a routed lead leads to its answer (accept or reject).
            "lead": LeadAssignment.objects.filter(task=activity).first()
            if activity.kind == ActivityKind.CALL
            else None,
            "now": timezone.now(),
            "edit_form": ActivityEditForm(instance=activity) if editing else None,
            "complete_form": ActivityCompleteForm()
            if activity.can_edit and activity.status == Activity.Status.PLANNED
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
def activity_update(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(request, pk)
    if request.method == "GET":
        return redirect(activity.get_absolute_url() + "#editar")
    form = ActivityEditForm(request.POST, instance=Activity.objects.get(pk=activity.pk))
    if form.is_valid():
        try:
            services.activity_update(actor=request.user, activity=activity, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect(activity)
    return render(
        request,
        T + "activity_detail.html",
        {"activity": activity, "edit_form": form, "complete_form": None},
        status=422,
    )


@require_http_methods(["GET", "POST"])
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Hecha": asks for the outcome inline (htmx) and answers the agenda's row, done."""
    activity = _editable(request, pk)
    form = ActivityCompleteForm(request.POST or None)
    parts = T + "parts.html"
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_complete(
                actor=request.user, activity=activity, outcome=form.cleaned_data["outcome"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:
                activity = selectors.activity_detail(user=request.user, pk=activity.pk)
                # The agenda's item, done (its links and hour as the agenda draws them).
                response = HttpResponse(agenda_item_maker()(activity, show_date=False))
                response["HX-Trigger"] = "activity-logged"
                return response
            messages.success(request, _("Actividad marcada como hecha."))
            return redirect(safe_next(request, activity.get_absolute_url()))
    if request.htmx:
        return render(request, parts + "#complete-form", {"activity": activity, "form": form})
    if request.method == "GET":
        return redirect(activity.get_absolute_url() + "#hecha")
    return render(
        request,
        T + "activity_detail.html",
        {"activity": activity, "edit_form": None, "complete_form": form},
        status=422,
    )


@require_POST
def activity_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(request, pk)
    try:
        services.activity_cancel(actor=request.user, activity=activity)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Actividad cancelada."))
    return redirect(safe_next(request, activity.get_absolute_url()))
