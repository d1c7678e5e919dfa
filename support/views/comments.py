"""The conversation of a ticket: the thread and its composer (an htmx fragment of the ticket page,
or a page of its own without JavaScript), canned responses, and attachment downloads."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from crm.core.forms_utils import add_service_errors, safe_next
from crm.core.text import parse_id
from support.forms.comments import CommentForm
from support.models import Attachment, CannedResponse, Comment, Ticket
from support.permissions import can_work_tickets
from support.selectors import comments as selectors
from support.services import comments as services

T = "support/comments/"
# Room for the text fields of the form besides the files.


def _ticket(request: HttpRequest, pk: int) -> Ticket:
    try:
        return selectors.conversation_ticket(user=request.user, pk=pk)
    except Ticket.DoesNotExist as exc:
        raise Http404(_("No existe esa incidencia.")) from exc


def _require_worker(request: HttpRequest) -> None:
    if not can_work_tickets(request.user):
        raise PermissionDenied(
            _("Puedes leer la conversación, pero solo el equipo de soporte escribe en ella.")
        )


def _conversation_url(ticket: Ticket) -> str:
    return reverse("support:ticket-comments", args=[ticket.pk])


def conversation_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: CommentForm | None = None,
    notice: tuple[str, str] | None = None,
    next_url: str = "",
) -> dict:
    """What the conversation fragment needs: the ticket page may include
    "support/comments/conversation.html#conversation" with this context to render it inline."""
    can_write = can_work_tickets(request.user) and ticket.status != Ticket.Status.CLOSED
    if can_write and form is None:
        form = CommentForm(ticket=ticket)
    return {
        "ticket": ticket,
        "comments": selectors.conversation(ticket=ticket),
        "ticket_files": selectors.ticket_attachments(ticket=ticket),
        "can_write": can_write,
        "form": form if can_write else None,
        "canned_responses": selectors.canned_responses_for(ticket=ticket) if can_write else [],
        "recipient": services.reply_recipient(ticket),
        "notice": notice,
        "next_url": next_url,
        "max_size": filesizeformat(settings.SUPPORT_ATTACHMENT_MAX_BYTES),
        "max_files": settings.SUPPORT_ATTACHMENTS_PER_MESSAGE,
        "allowed_types": ", ".join(services.attachment_allowed_extensions()),
        "kinds": Comment.Kind,
    }


def _render(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: CommentForm | None = None,
    notice: tuple[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = conversation_context(
        request, ticket, form=form, notice=notice, next_url=safe_next(request, "")
    )
    if request.htmx:
        return render(request, T + "conversation.html#conversation", context)
    return render(request, T + "conversation_page.html", context, status=status)


def _done(comment: Comment, ticket: Ticket, *, reopened: bool) -> tuple[str, str]:
    """(level, text) telling the agent what happened to their message."""
    if comment.kind == Comment.Kind.NOTE:
        return "success", _("Nota interna guardada. El cliente no la verá.")
    if comment.kind == Comment.Kind.CUSTOMER:
        if reopened:
            return "success", _(
                "Mensaje del cliente registrado. La incidencia vuelve a estar abierta."
            )
        return "success", _("Mensaje del cliente registrado.")
    recipient = services.reply_recipient(ticket)
    if recipient:
        return "success", _("Respuesta guardada; se está enviando a %(email)s.") % {
            "email": recipient
        }
    return "warning", _(
        "Respuesta guardada, pero no se envió: la incidencia no tiene un contacto con correo "
        "electrónico. Avísale por teléfono."
    )


def _with_canned(request: HttpRequest, ticket: Ticket, data) -> str:
    """The composer's text with the chosen canned response (merge fields filled) appended."""
    body = data.get("body", "")
    canned_id = parse_id(data.get("canned"))
    canned = (
        CannedResponse.objects.filter(is_active=True, pk=canned_id).first() if canned_id else None
    )
    if canned is None:
        return body
    text = selectors.canned_response_text(canned=canned, ticket=ticket, user=request.user)
    return f"{body.rstrip()}\n\n{text}" if body.strip() else text


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ticket_comments(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation: GET shows it, POST adds a reply, a note or a customer message.

    The CSRF check moves inside (`csrf_protect` below) so that an oversized upload is refused
    by its declared length before anything reads the body, as Django's upload docs advise.
    """
    if request.method == "POST" and services.upload_too_large(request.META.get("CONTENT_LENGTH")):
        error = services.upload_too_large_message()
        return _render(request, _ticket(request, pk), notice=("danger", error), status=413)
    return _ticket_comments(request, pk)


@csrf_protect
def _ticket_comments(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    if request.method == "GET":
        return _render(request, ticket)
    _require_worker(request)
    # Without JavaScript, "Insertar" (or "Enviar" with a canned response and no text yet)
    # expands the canned response into the text box; nothing is saved.
    wants_canned = request.POST.get("action") == "canned" or (
        request.POST.get("canned") and not request.POST.get("body", "").strip()
    )
    if wants_canned:
        form = CommentForm(
            initial={
                "kind": request.POST.get("kind") or Comment.Kind.REPLY,
                "body": _with_canned(request, ticket, request.POST),
            },
            ticket=ticket,
        )
        return _render(request, ticket, form=form)
    form = CommentForm(request.POST, request.FILES, ticket=ticket)
    if form.is_valid():
        data = form.cleaned_data
        status_before = ticket.status
        try:
            comment = services.comment_add(
                actor=request.user,
                ticket=ticket,
                kind=data["kind"],
                body=data["body"],
                files=data["files"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            ticket = _ticket(request, pk)
            reopened = status_before != ticket.status and ticket.status == Ticket.Status.OPEN
            level, text = _done(comment, ticket, reopened=reopened)
            if request.htmx:
                response = _render(request, ticket, notice=(level, text))
                # The ticket page refreshes its status and SLA badges on this event.
                response["HX-Trigger"] = "ticket-updated"
                return response
            messages.add_message(
                request, messages.SUCCESS if level == "success" else messages.WARNING, text
            )
            default = f"{_conversation_url(ticket)}#comment-{comment.pk}"
            return redirect(safe_next(request, default))
    errors = form.non_field_errors()
    notice = ("danger", " ".join(errors)) if errors else None
    return _render(request, ticket, form=form, notice=notice, status=422)


@require_http_methods(["GET"])
def canned_response(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer's text box with the chosen canned response inserted (htmx), or the
    conversation page with it (a plain link)."""
    ticket = _ticket(request, pk)
    _require_worker(request)
    if ticket.status == Ticket.Status.CLOSED:
        raise PermissionDenied(_("La incidencia está cerrada y ya no admite mensajes."))
    body = _with_canned(request, ticket, request.GET)
    kind = request.GET.get("kind")
    form = CommentForm(
        initial={"kind": kind if kind in Comment.Kind.values else Comment.Kind.REPLY, "body": body},
        ticket=ticket,
    )
    if request.htmx:
        return render(
            request, T + "conversation.html#composer-body", {"ticket": ticket, "form": form}
        )
    return _render(request, ticket, form=form)


@require_http_methods(["GET"])
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A file of a ticket the user sees, always as a download: never rendered by the browser."""
    try:
        attachment = selectors.attachment_visible(user=request.user, pk=pk)
    except Attachment.DoesNotExist as exc:
        raise Http404(_("No existe ese archivo.")) from exc
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("No se encuentra el archivo.")) from exc
    content_type = attachment.content_type or "application/octet-stream"
    if content_type in services.UNSAFE_CONTENT_TYPES or "html" in content_type:
        content_type = "application/octet-stream"
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
