"""Tickets at an account (and one of its contacts), comments and surveys."""

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.models import Comment, Survey, Ticket


class TicketFactory(DjangoModelFactory):
    """A new ticket, numbered like the service numbers them (no SLA due times: see services)."""

    class Meta:
        model = Ticket

    number = factory.Sequence(lambda n: f"INC-2026-{900000 + n:06d}")
    account = factory.SubFactory(AccountFactory)
    contact = factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account"))
    subject = factory.Sequence(lambda n: f"No funciona el pedido {n}")
    description = "El cliente indica que el pedido llegó incompleto."
    created_by = factory.SubFactory(UserFactory, role=Role.SOPORTE)


class CommentFactory(DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    kind = Comment.Kind.REPLY
    author = factory.SelfAttribute("ticket.created_by")
    body = "Gracias por avisarnos, lo revisamos hoy mismo."


class SurveyFactory(DjangoModelFactory):
    class Meta:
        model = Survey

    kind = Survey.Kind.CSAT
    ticket = factory.SubFactory(TicketFactory)
    contact = factory.SelfAttribute("ticket.contact")
