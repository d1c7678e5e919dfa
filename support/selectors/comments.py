"""Reads of a ticket's conversation: the thread, its attachments and the canned responses.

Whoever sees a ticket (`ticket_visible`) reads its whole conversation,
internal notes included: those are hidden from the customer, not from the team. Writing is for
support (`can_work_tickets`), checked by the services.
"""

import re

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

from crm.core.models import User
from support.models import Attachment, CannedResponse, Comment, Ticket
from support.permissions import ticket_visible_q
from support.selectors.tickets import ticket_visible

__all__ = [
    "attachment_visible",
    "canned_response_text",
    "canned_responses_for",
    "conversation",
    "conversation_ticket",
    "ticket_attachments",
]


def conversation_ticket(*, user: User, pk: int) -> Ticket:
    """The ticket whose conversation `user` may read; raises Ticket.DoesNotExist otherwise."""
    return ticket_visible(user=user, pk=pk)


def conversation(*, ticket: Ticket) -> QuerySet[Comment]:
    """Every message of the ticket, oldest first, with its author and files (three queries)."""
    return (
        Comment.objects.filter(ticket_id=ticket.pk)
        .select_related("author")
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("uploaded_at", "id"))
        )
        .order_by("created_at", "id")
    )


def ticket_attachments(*, ticket: Ticket) -> QuerySet[Attachment]:
    """Files attached to the ticket itself (e.g. when it was opened), not to a message."""
    return Attachment.objects.filter(ticket_id=ticket.pk, comment__isnull=True).order_by(
        "uploaded_at", "id"
    )


def attachment_visible(*, user: User, pk: int) -> Attachment:
    """A file of a ticket `user` sees; raises Attachment.DoesNotExist otherwise."""
    return Attachment.objects.select_related("ticket").get(
        ticket_visible_q(user, prefix="ticket__"), pk=pk
    )


def canned_responses_for(*, ticket: Ticket) -> list[CannedResponse]:
    """The active canned responses, those of the ticket's category first, then the general
    ones (no category), then those of other categories; by title within each group."""
    return list(
        CannedResponse.objects.filter(is_active=True)
        .annotate(
            fit=Case(
                When(category=ticket.category, then=Value(0)),
                When(category="", then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("fit", "title")
    )


MERGE_FIELD = re.compile(r"\{(nombre|numero|número|asunto|agente)\}")


def canned_response_text(*, canned: CannedResponse, ticket: Ticket, user: User) -> str:
    """The canned text with its merge fields filled from the ticket: {nombre} (the contact's
    first name, or the account's name), {numero}, {asunto} and {agente} (who writes)."""
    contact = ticket.contact if ticket.contact_id else None
    values = {
        "nombre": (contact.first_name if contact else "") or ticket.account.name,
        "numero": ticket.number,
        "número": ticket.number,
        "asunto": ticket.subject,
        "agente": user.get_full_name() or user.get_username(),
    }
    return MERGE_FIELD.sub(lambda match: values[match.group(1)], canned.body)
