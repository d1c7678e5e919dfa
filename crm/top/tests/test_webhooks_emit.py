"""The apps' services tell the webhooks of their changes (crm.core.webhooks.webhook_emit), in
their own transaction, with ids and the essentials only."""

import pytest
from django.core.exceptions import ValidationError

from accounts.tests.factories import AccountFactory
from campaigns.services import tracking
from campaigns.tests.factories import CampaignFactory, SendFactory, consenting_contact
from contacts.models import Lifecycle
from contacts.services import contact_create, contact_update
from contacts.tests.factories import ContactFactory
from crm.core.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventType
from opportunities.services import pipeline
from opportunities.tests.factories import OpportunityFactory, stage
from support.models import Ticket
from support.services import tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint():
    return WebhookEndpoint.objects.create(
        url="https://erp.ejemplo.mx/hooks",
        events=[t.value for t in WebhookEventType if t != WebhookEventType.TEST],
    )


def _events(event_type: str) -> list[dict]:
    """The payloads of the events of that type, in the order they were written."""
    return list(
        WebhookDelivery.objects.filter(event__type=event_type)
        .order_by("id")
        .values_list("event__payload", flat=True)
    )


def test_contact_created_and_updated(endpoint, rep):
    account = AccountFactory(owner=rep)
    contact = contact_create(
        actor=rep,
        data={
            "first_name": "José",
            "last_name": "Pérez",
            "email": "jose@ejemplo.com.mx",
            "lifecycle": Lifecycle.LEAD,
            "country": "MX",
            "account": account,
        },
    )
    expected = {
        "contact_id": contact.pk,
        "account_id": account.pk,
        "owner_id": rep.pk,
        "lifecycle": "lead",
    }
    assert _events("contact.created") == [expected]
    contact_update(actor=rep, contact=contact, data={"lifecycle": Lifecycle.MQL})
    assert _events("contact.updated") == [{**expected, "lifecycle": Lifecycle.MQL.value}]
    # No email, name or phone: the receiver reads those through the API.
    assert "jose@ejemplo.com.mx" not in str(_events("contact.created"))
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


def test_a_refused_change_emits_nothing(endpoint, rep):
    contact = ContactFactory(owner=rep, email="ya@ejemplo.mx")
    with pytest.raises(ValidationError):
        contact_create(
            actor=rep,
            data={"first_name": "Otro", "last_name": "X", "email": contact.email, "country": "MX"},
        )
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_opportunity_stage_changed_and_won(endpoint, rep):
    deal = OpportunityFactory(owner=rep)
    pipeline.opportunity_move(actor=rep, opportunity=deal, stage=stage("Calificación"))
    pipeline.opportunity_move(actor=rep, opportunity=deal, stage=stage("Ganada"))
    changes = _events("opportunity.stage_changed")
    assert [c["to_stage"] for c in changes] == ["Calificación", "Ganada"]
    assert changes[1]["opportunity_id"] == deal.pk and changes[1]["is_won"] is True
    assert changes[1]["from_stage_id"] == stage("Calificación").pk
    [won] = _events("opportunity.won")
    assert won["opportunity_id"] == deal.pk and won["owner_id"] == rep.pk
    assert (won["amount"], won["currency"]) == ("100000.00", "MXN")
    assert won["closed_at"]


def test_ticket_created_and_resolved(endpoint, support, rep):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account, owner=rep)
    ticket = tickets.ticket_create(
        actor=support,
        account=account,
        contact=contact,
        subject="Pedido incompleto",
        category=Ticket.Category.INCIDENT,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )
    [created] = _events("ticket.created")
    assert created["ticket_id"] == ticket.pk and created["number"] == ticket.number
    assert "Pedido incompleto" not in str(created)
    tickets.ticket_transition(
        actor=support, ticket=ticket, to_status=Ticket.Status.RESOLVED, resolution="Reenviado."
    )
    [resolved] = _events("ticket.resolved")
    assert resolved["ticket_id"] == ticket.pk and resolved["resolved_at"]


def test_contact_unsubscribed(endpoint):
    send = SendFactory(contact=consenting_contact(), campaign=CampaignFactory())
    assert tracking.unsubscribe(send=send, everything=False, ip_address=None, user_agent="")
    assert tracking.unsubscribe(send=send, everything=True, ip_address=None, user_agent="")
    # A repeated one-click POST changes nothing and tells nobody again.
    assert not tracking.unsubscribe(send=send, everything=True, ip_address=None, user_agent="")
    assert _events("contact.unsubscribed") == [
        {
            "contact_id": send.contact_id,
            "campaign_id": send.campaign_id,
            "topic_id": send.campaign.topic_id,
        },
        {"contact_id": send.contact_id, "campaign_id": send.campaign_id, "topic_id": None},
    ]


def test_only_subscribed_endpoints_get_the_event(rep):
    tickets_only = WebhookEndpoint.objects.create(
        url="https://soporte.ejemplo.mx/h", events=["ticket.created"]
    )
    ContactFactory(owner=rep)  # not through the service: nothing emitted
    contact_create(
        actor=rep, data={"first_name": "Ana", "last_name": "Gil", "email": "", "country": "MX"}
    )
    assert WebhookEvent.objects.count() == 0
    assert not tickets_only.deliveries.exists()
