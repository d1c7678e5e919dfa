"""Pages of the tickets: the queues, the ticket page, its form and moves, and the sheet panels."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account
from accounts.selectors import account_by_pk, account_list
from contacts.models import Contact
from contacts.selectors import contact_base
from crm.core.concurrency import StaleEdit, edit_status
from crm.core.forms_utils import add_service_errors, form_errors_text, paginate, safe_next
from crm.core.text import parse_id
from support.forms.tickets import (
    AssignForm,
    BulkAssignForm,
    TicketEditForm,
    TicketFilterForm,
    TicketForm,
    TransitionForm,
    contacts_of,
    queues_for,
    ticket_list_state,
)
from support.models import Ticket
from support.permissions import (
    account_ticketable_q,
    can_open_tickets,
    can_see_tickets,
    can_work_tickets,
    support_agents,
)
from support.selectors import tickets as selectors
from support.services import tickets as services
from support.views.ticket_rows import render_rows

T = "support/tickets/"
PICKER_LIMIT = 10
# The moves that ask for the resolution first (a dialog on the ticket page, a page without JS).
RESOLUTION_MOVES = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
MOVE_LABELS = {
    Ticket.Status.OPEN: (gettext_lazy("Abrir"), "bi-play-circle"),
    Ticket.Status.WAITING: (gettext_lazy("Esperar al cliente"), "bi-pause-circle"),
    Ticket.Status.RESOLVED: (gettext_lazy("Resolver"), "bi-check2-circle"),
    Ticket.Status.CLOSED: (gettext_lazy("Cerrar"), "bi-lock"),
}


def _require_reader(request: HttpRequest) -> None:
    if not can_see_tickets(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a las incidencias."))


def _require_opener(request: HttpRequest) -> None:
    if not can_open_tickets(request.user):
        raise PermissionDenied(_("Tu rol no abre incidencias."))


def _require_worker(request: HttpRequest) -> None:
    if not can_work_tickets(request.user):
        raise PermissionDenied(_("Solo el equipo de soporte trabaja las incidencias."))


def _visible(request: HttpRequest, pk: int) -> Ticket:
    try:
        return selectors.ticket_visible(user=request.user, pk=pk)
    except Ticket.DoesNotExist as exc:
        raise Http404(_("No existe esa incidencia.")) from exc


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# The queues -------------------------------------------------------------------------------


def _list_state(request: HttpRequest) -> tuple[TicketFilterForm, dict, str]:
    return ticket_list_state(request.GET)


def _queue_links(request: HttpRequest, current: str) -> list[dict]:
    base = reverse("support:ticket-list")
    return [
        {
            "key": key,
            "label": label,
            "url": f"{base}?{urlencode({'queue': key})}" if key else base,
            "active": key == current,
        }
        for key, label in queues_for(request.user)
    ]


@require_http_methods(["GET"])
def ticket_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    form, filters, queue = _list_state(request)
    now = timezone.now()
    page = paginate(
        request,
        selectors.ticket_list(user=request.user, queue=queue, filters=filters, now=now),
        rows=selectors.ticket_rows(user=request.user),
    )
    can_work = can_work_tickets(request.user)
    agents = list(support_agents().order_by("first_name", "last_name")) if can_work else []
    if can_work:
        # The filter's select and the bulk assignment share one read of the agents.
        form.fields["assignee"].widget.choices = [("", "—"), *((a.pk, str(a)) for a in agents)]
    else:
        del form.fields["assignee"]
    template = T + "ticket_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#ticket-results"
    account_id, contact_id = filters.get("account"), filters.get("contact")
    queues = _queue_links(request, queue)
    return render(
        request,
        template,
        {
            "filter_form": form,
            "page_obj": page,
            "rows": render_rows(page.object_list, now=now, selectable=can_work),
            "queue": queue,
            "queues": queues,
            "count_url": reverse("support:ticket-list-count"),
            "can_work": can_work,
            "can_open": can_open_tickets(request.user),
            "agents": agents,
            "filter_account": account_by_pk(user=request.user, pk=account_id)
            if account_id
            else None,
            "filter_contact": contact_base(user=request.user)
            .only("id", "first_name", "last_name")
            .filter(pk=contact_id)
            .first()
            if contact_id
            else None,
            # "Quitar filtros" keeps the queue the agent is in: its tab's link.
            "clear_url": next((q["url"] for q in queues if q["active"]), queues[0]["url"]),
        },
    )


@require_http_methods(["GET"])
def ticket_list_count(request: HttpRequest) -> HttpResponse:
    """The total of the list with these filters, loaded after the page (see ListPage)."""
    _require_reader(request)
    _form, filters, queue = _list_state(request)
    count = selectors.ticket_list(user=request.user, queue=queue, filters=filters).count()
    return render(request, "partials/list_count.html", {"count": count})


@require_http_methods(["GET"])
def ticket_queue_counts(request: HttpRequest) -> HttpResponse:
    """The tabs of the queues with how many open tickets each holds, loaded after the page."""
    _require_reader(request)
    current = request.GET.get("queue", "")
    counts = selectors.ticket_queue_counts(user=request.user)
    queues = _queue_links(request, current)
    for queue in queues:
        queue["count"] = counts.get(queue["key"])
    return render(request, T + "ticket_list.html#queue-tabs", {"queues": queues, "counted": True})


@require_POST
def ticket_bulk_assign(request: HttpRequest) -> HttpResponse:
    """Assign the tickets ticked in the list to one agent: all of them or none."""
    _require_worker(request)
    back = safe_next(request, reverse("support:ticket-list"))
    form = BulkAssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect(back)
    assignee = form.cleaned_data["assignee"]
    try:
        count = services.ticket_bulk_assign(
            actor=request.user, ticket_ids=form.cleaned_data["tickets"], assignee=assignee
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        if assignee is None:
            text = _("%(count)s incidencias vuelven a «Sin asignar».") % {"count": count}
        else:
            text = _("%(count)s incidencias asignadas a %(user)s.") % {
                "count": count,
                "user": assignee,
            }
        messages.success(request, text)
    return redirect(back)


# The ticket page --------------------------------------------------------------------------


def _moves(ticket: Ticket) -> list[dict]:
    return [
        {
            "status": status,
            "label": MOVE_LABELS[status][0]
            if not (status == Ticket.Status.OPEN and ticket.status == Ticket.Status.RESOLVED)
            else _("Reabrir"),
            "icon": MOVE_LABELS[status][1],
            "asks_resolution": status in RESOLUTION_MOVES,
        }
        for status in services.allowed_transitions(ticket.status)
    ]


@require_http_methods(["GET"])
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _visible(request, pk)
    selectors.with_sla_flags([ticket])
    can_work = can_work_tickets(request.user)
    return render(
        request,
        T + "ticket_detail.html",
        {
            "ticket": ticket,
            "can_work": can_work,
            "moves": _moves(ticket) if can_work else [],
            "agents": list(support_agents().order_by("first_name", "last_name"))
            if can_work and ticket.status != Ticket.Status.CLOSED
            else [],
            "transition_form": TransitionForm(initial={"resolution": ticket.resolution}),
            "history": selectors.ticket_history(ticket=ticket),
            "customer": selectors.ticket_context(ticket=ticket, user=request.user),
        },
    )


def _create_initial(request: HttpRequest) -> dict:
    """The form prefilled from the link that opened it (the caller lookup, a sheet's panel)."""
    initial: dict = {}
    account_id = parse_id(request.GET.get("account"))
    contact_id = parse_id(request.GET.get("contact"))
    ticketable = Account.objects.filter(
        account_ticketable_q(request.user), archived_at__isnull=True
    )
    contact = (
        Contact.objects.filter(pk=contact_id, archived_at__isnull=True)
        .only("id", "account_id")
        .first()
        if contact_id
        else None
    )
    if not account_id and contact is not None and contact.account_id:
        account_id = contact.account_id
    if account_id and ticketable.filter(pk=account_id).exists():
        initial["account"] = account_id
        if contact is not None and contact.account_id == initial["account"]:
            initial["contact"] = contact.pk
    if request.GET.get("channel") in Ticket.Channel.values:
        initial["channel"] = request.GET["channel"]
    if subject := request.GET.get("subject", "").strip():
        initial["subject"] = subject[:200]
    return initial


@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    _require_opener(request)
    form = TicketForm(
        request.POST or None,
        initial=_create_initial(request) if request.method == "GET" else {},
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Incidencia %(number)s abierta: %(subject)s")
                % {"number": ticket.number, "subject": ticket.subject},
            )
            return redirect(ticket)
    return render(
        request,
        T + "ticket_form.html",
        {"form": form, "creating": True},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def ticket_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_worker(request)
    ticket = _visible(request, pk)
    if ticket.status == Ticket.Status.CLOSED:
        messages.info(request, _("Una incidencia cerrada ya no se modifica."))
        return redirect(ticket)
    form = TicketEditForm(request.POST or None, instance=ticket)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_update(
                actor=request.user,
                ticket=ticket,
                data=form.cleaned_data,
                version=form.loaded_version,
            )
        except StaleEdit as exc:
            form.show_conflict(exc.conflict)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect(ticket)
    return render(
        request,
        T + "ticket_form.html",
        {"form": form, "ticket": ticket, "creating": False},
        status=edit_status(request, form),
    )


@require_http_methods(["GET", "POST"])
def ticket_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the ticket (POST). GET shows the move's form as a page: the resolve and close
    dialog of the ticket page, for a browser without JavaScript."""
    _require_worker(request)
    ticket = _visible(request, pk)
    if request.method == "GET":
        to_status = request.GET.get("to", "")
        if to_status not in services.allowed_transitions(ticket.status):
            return redirect(ticket)
        form = TransitionForm(initial={"to_status": to_status, "resolution": ticket.resolution})
        return _transition_page(request, ticket, form, to_status)
    form = TransitionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_transition(
                actor=request.user,
                ticket=ticket,
                to_status=data["to_status"],
                resolution=data["resolution"],
                note=data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(number)s: ahora «%(status)s».")
                % {"number": ticket.number, "status": ticket.get_status_display()},
            )
            return redirect(safe_next(request, ticket.get_absolute_url()))
    to_status = request.POST.get("to_status", "")
    if to_status not in services.allowed_transitions(ticket.status):
        messages.error(request, form_errors_text(form))
        return redirect(ticket)
    return _transition_page(request, ticket, form, to_status, status=422)


def _transition_page(
    request: HttpRequest, ticket: Ticket, form: TransitionForm, to_status: str, status: int = 200
) -> HttpResponse:
    return render(
        request,
        T + "ticket_transition.html",
        {
            "ticket": ticket,
            "form": form,
            "to_status": to_status,
            "to_label": Ticket.Status(to_status).label,
            "asks_resolution": to_status in RESOLUTION_MOVES,
        },
        status=status,
    )


@require_POST
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the ticket to an agent; "Asignarme" posts the signed-in agent."""
    _require_worker(request)
    ticket = _visible(request, pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Elige a alguien del equipo de soporte."))
        return redirect(ticket)
    try:
        ticket = services.ticket_assign(
            actor=request.user, ticket=ticket, assignee=form.cleaned_data["assignee"]
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        if ticket.assignee_id is None:
            messages.success(
                request, _("%(number)s queda sin asignar.") % {"number": ticket.number}
            )
        elif ticket.assignee_id == request.user.pk:
            messages.success(request, _("%(number)s es tuya.") % {"number": ticket.number})
        else:
            messages.success(
                request,
                _("%(number)s asignada a %(user)s.")
                % {"number": ticket.number, "user": form.cleaned_data["assignee"]},
            )
    return redirect(safe_next(request, ticket.get_absolute_url()))


# The form's helpers -----------------------------------------------------------------------


@require_http_methods(["GET"])
def ticket_account_picker(request: HttpRequest) -> HttpResponse:
    """Suggestions of the form's account picker: the accounts this user may open tickets for."""
    _require_opener(request)
    query = next((v for k, v in request.GET.items() if k == "q" or k.endswith("__search")), "")
    accounts = (
        account_list(user=request.user, filters={"q": query}).filter(
            account_ticketable_q(request.user)
        )[:PICKER_LIMIT]
        if query.strip()
        else []
    )
    return render(request, "accounts/account_picker.html", {"accounts": accounts, "query": query})


@require_http_methods(["GET"])
def ticket_contact_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the contact select for the account just chosen in the form."""
    _require_opener(request)
    account_id = parse_id(request.GET.get("account"))
    allowed = account_id is not None and (
        Account.objects.filter(account_ticketable_q(request.user), pk=account_id).exists()
    )
    contacts = contacts_of(account_id).only("id", "first_name", "last_name") if allowed else []
    return render(request, T + "contact_options.html", {"contacts": contacts})


# Panels of the customer sheet (crm.core.panels) -------------------------------------------------


def _panel(request: HttpRequest, *, tickets: list[Ticket], create_url: str | None, list_url: str):
    return render(
        request,
        T + "tickets_panel.html",
        {
            "tickets": selectors.with_sla_flags(tickets),
            "create_url": create_url,
            "list_url": list_url,
            "limit": selectors.PANEL_LIMIT,
        },
    )


@require_http_methods(["GET"])
def account_tickets_panel(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    account = Account.objects.filter(pk=pk).only("id", "archived_at").first()
    if account is None:
        raise Http404(_("No existe esa cuenta."))
    can_open = (
        can_open_tickets(request.user)
        and account.archived_at is None
        and Account.objects.filter(account_ticketable_q(request.user), pk=pk).exists()
    )
    return _panel(
        request,
        tickets=selectors.account_tickets(user=request.user, account=account),
        create_url=f"{reverse('support:ticket-create')}?account={pk}" if can_open else None,
        list_url=f"{reverse('support:ticket-list')}?account={pk}",
    )


@require_http_methods(["GET"])
def contact_tickets_panel(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    contact = Contact.objects.filter(pk=pk).only("id", "account_id", "archived_at").first()
    if contact is None:
        raise Http404(_("No existe ese contacto."))
    can_open = (
        can_open_tickets(request.user)
        and contact.account_id is not None
        and contact.archived_at is None
        and Account.objects.filter(
            account_ticketable_q(request.user), pk=contact.account_id, archived_at__isnull=True
        ).exists()
    )
    query = urlencode({"account": contact.account_id or "", "contact": pk})
    return _panel(
        request,
        tickets=selectors.contact_tickets(user=request.user, contact=contact),
        create_url=f"{reverse('support:ticket-create')}?{query}" if can_open else None,
        list_url=f"{reverse('support:ticket-list')}?contact={pk}",
    )
