"""The "Campañas" panels of the contact and account sheets: every role reads, nobody sends."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Campaign, Send, TrackingEvent
from campaigns.tests.factories import CampaignFactory, SendFactory, TrackingEventFactory
from contacts.tests.factories import ContactFactory
from crm.core.panels import panels_for

pytestmark = pytest.mark.django_db


def sent(contact, *, name="Ofertas de invierno", **kwargs) -> Send:
    campaign = CampaignFactory(
        name=name,
        status=Campaign.Status.SENT,
        materialized_at=timezone.now() - timedelta(days=3),
        started_at=timezone.now() - timedelta(days=3),
    )
    return SendFactory(campaign=campaign, contact=contact, **kwargs)


@pytest.mark.parametrize("who", ["rep", "support", "manager", "marketing", "admin_user"])
def test_panels_registered_for_every_role(request, who):
    user = request.getfixturevalue(who)
    contact = ContactFactory()
    keys = [p["key"] for p in panels_for(contact, user=user)]
    assert "campaigns" in keys
    urls = {p["key"]: p["url"] for p in panels_for(contact.account, user=user)}
    assert urls["campaigns"] == reverse(
        "campaigns:account-campaigns-panel", args=[contact.account.pk]
    )


def test_contact_panel_shows_timeline_read_only(client_for, rep):
    contact = ContactFactory()
    now = timezone.now()
    send = sent(contact, first_opened_at=now, first_clicked_at=now)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN, at=now)
    TrackingEventFactory(
        send=send, kind=TrackingEvent.Kind.CLICK, link=send.campaign.links.get(), at=now
    )
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE, at=now)
    sent(ContactFactory(), name="De otro contacto")
    response = client_for(rep).get(reverse("campaigns:contact-campaigns-panel", args=[contact.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ofertas de invierno" in html
    assert "De otro contacto" not in html
    assert "Abierto" in html and "1 clic" in html and "Se dio de baja" in html
    assert "https://ejemplo.com.mx/ofertas" in html
    assert "<form" not in html and "button" not in html


def test_account_panel_lists_its_contacts_messages(client_for, support):
    account = AccountFactory()
    first = ContactFactory(account=account, first_name="Lucía")
    sent(first, name="Boletín de marzo")
    sent(ContactFactory(), name="Otra cuenta")
    response = client_for(support).get(
        reverse("campaigns:account-campaigns-panel", args=[account.pk])
    )
    html = response.content.decode()
    assert "Boletín de marzo" in html and "Lucía" in html
    assert "Otra cuenta" not in html


def test_panel_empty_and_missing(client_for, rep):
    contact = ContactFactory()
    client = client_for(rep)
    html = client.get(reverse("campaigns:contact-campaigns-panel", args=[contact.pk])).content
    assert "No se le ha enviado ninguna campaña" in html.decode()
    assert client.get(reverse("campaigns:contact-campaigns-panel", args=[0])).status_code == 404
    assert client.get(reverse("campaigns:account-campaigns-panel", args=[0])).status_code == 404


def test_panels_queries_constant(client_for, rep, django_assert_max_num_queries):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    client = client_for(rep)
    urls = [
        reverse("campaigns:contact-campaigns-panel", args=[contact.pk]),
        reverse("campaigns:account-campaigns-panel", args=[account.pk]),
    ]
    send = sent(contact)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN)
    counts = []
    for url in urls:
        with django_assert_max_num_queries(8) as few:
            client.get(url)
        counts.append(len(few.captured_queries))
    for i in range(12):
        other = ContactFactory(account=account)
        for person in (contact, other):
            row = sent(person, name=f"Campaña {i}")
            TrackingEventFactory(send=row, kind=TrackingEvent.Kind.OPEN)
            TrackingEventFactory(
                send=row, kind=TrackingEvent.Kind.CLICK, link=row.campaign.links.get()
            )
    for url, count in zip(urls, counts, strict=True):
        with django_assert_max_num_queries(count):
            client.get(url)
