"""Machine opens, and the ESP's tracking events (anymail's normalised events and webhooks)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Send, Suppression, TrackingEvent
from campaigns.services import tracking as services
from campaigns.tests.factories import (
    CampaignFactory,
    SendFactory,
    SuppressionFactory,
    consenting_contact,
)
from contacts.models import Consent, ConsentLatest
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HOUR_AGO = timedelta(hours=1)


@pytest.fixture
def send():
    return SendFactory(
        contact=consenting_contact(),
        campaign=CampaignFactory(),
        sent_at=timezone.now() - HOUR_AGO,
        message_id="<20261204.abc@crm.test>",
    )


def _event(event_type: str, **kwargs) -> AnymailTrackingEvent:
    kwargs.setdefault("timestamp", timezone.now())
    kwargs.setdefault("message_id", "<20261204.abc@crm.test>")
    kwargs.setdefault("recipient", None)
    return AnymailTrackingEvent(event_type=event_type, **kwargs)


def _signal(event: AnymailTrackingEvent, esp_name: str = "Postmark") -> None:
    tracking.send(sender=object, event=event, esp_name=esp_name)


def _channel(contact) -> str | None:
    row = ConsentLatest.objects.filter(contact=contact, channel="email", topic=None).first()
    return row.action if row else None


# --- Machine opens ----------------------------------------------------------------------------

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
)


@pytest.mark.parametrize(
    ("agent", "ip", "sent", "machine"),
    [
        (BROWSER, "201.141.10.5", NOW - HOUR_AGO, False),
        ("Mozilla/5.0", "201.141.10.5", NOW - HOUR_AGO, True),  # Apple MPP's bare agent
        (BROWSER, "17.58.63.1", NOW - HOUR_AGO, True),  # Apple's network
        ("", "201.141.10.5", NOW - HOUR_AGO, True),
        ("Barracuda Sentinel (EE)", "201.141.10.5", NOW - HOUR_AGO, True),
        ("python-requests/2.32", "201.141.10.5", NOW - HOUR_AGO, True),
        (BROWSER, "201.141.10.5", NOW - timedelta(seconds=2), True),  # within 5 s of sending
        (BROWSER, "201.141.10.5", NOW - timedelta(seconds=30), False),
        # Gmail fetches images through its proxy when the person opens the message.
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)",
            "66.249.84.1",
            NOW - HOUR_AGO,
            False,
        ),
        (BROWSER, "not-an-ip", None, False),
    ],
)
def test_the_machine_open_rule(agent, ip, sent, machine):
    assert (
        services.is_machine_request(user_agent=agent, ip_address=ip, sent_at=sent, at=NOW)
        is machine
    )


def test_a_machine_open_is_stored_apart_and_does_not_date_the_first_open(send):
    event = services.record_open(send=send, ip_address="17.1.1.1", user_agent="Mozilla/5.0")
    assert event.is_machine
    send.refresh_from_db()
    assert send.first_opened_at is None
    human = services.record_open(send=send, ip_address="201.1.1.1", user_agent=BROWSER)
    send.refresh_from_db()
    assert not human.is_machine and send.first_opened_at == human.at


def test_a_scanner_click_right_after_sending_is_a_machine_click():
    fresh = SendFactory(sent_at=timezone.now())
    link = fresh.campaign.links.get()
    services.record_click(send=fresh, link_id=link.pk, ip_address=None, user_agent=BROWSER)
    fresh.refresh_from_db()
    assert fresh.first_clicked_at is None and fresh.first_opened_at is None
    assert TrackingEvent.objects.get(send=fresh).is_machine


# --- ESP events through anymail's signal ------------------------------------------------------


def test_a_delivery_is_recorded_once_by_its_event_id(send):
    for _ in range(2):
        _signal(_event("delivered", event_id="ev-1"))
    event = TrackingEvent.objects.get(send=send)
    assert event.kind == TrackingEvent.Kind.DELIVERED
    assert event.esp_event_id == "Postmark:ev-1"


def test_the_send_is_found_without_angle_brackets_too(send):
    _signal(_event("delivered", event_id="ev-2", message_id="20261204.abc@crm.test"))
    assert TrackingEvent.objects.filter(send=send, kind="entregado").exists()


def test_the_send_is_found_by_its_metadata(send):
    _signal(
        _event("delivered", event_id="ev-3", message_id="esp-uuid", metadata={"send_id": send.pk})
    )
    assert TrackingEvent.objects.filter(send=send, kind="entregado").exists()


def test_a_hard_bounce_dates_the_send_and_suppresses_the_address(send):
    send.email = "Rebota@Ejemplo.com.mx"
    Send.objects.filter(pk=send.pk).update(email="rebota@ejemplo.com.mx")
    _signal(
        _event(
            "bounced",
            event_id="ev-b",
            recipient="Rebota@Ejemplo.com.mx",
            description="550 5.1.1 mailbox does not exist",
        )
    )
    send.refresh_from_db()
    assert send.bounced_at is not None
    entry = Suppression.objects.get()
    assert entry.email == "rebota@ejemplo.com.mx"
    assert entry.reason == Suppression.Reason.BOUNCE
    assert "550 5.1.1" in entry.note
    assert TrackingEvent.objects.get(send=send).kind == TrackingEvent.Kind.BOUNCE


def test_a_deferred_delivery_is_not_a_bounce(send):
    _signal(_event("deferred", event_id="ev-d", recipient=send.email))
    send.refresh_from_db()
    assert send.bounced_at is None
    assert not Suppression.objects.exists()
    assert not TrackingEvent.objects.exists()


def test_a_complaint_suppresses_and_withdraws_all_email_in_the_ledger(send):
    _signal(_event("complained", event_id="ev-q", recipient=send.email))
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    assert _channel(send.contact) == Consent.Action.WITHDRAW
    entry = Consent.objects.filter(contact=send.contact).order_by("-at", "-id").first()
    assert entry.topic is None and entry.action == "withdraw"
    assert entry.source == services.COMPLAINT_SOURCE
    assert "Queja" in entry.note
    # Delivered again: nothing more.
    _signal(_event("complained", event_id="ev-q", recipient=send.email))
    assert Consent.objects.filter(contact=send.contact, action="withdraw").count() == 1
    assert TrackingEvent.objects.filter(kind="queja").count() == 1


def test_a_second_complaint_with_another_id_writes_no_second_withdrawal(send):
    _signal(_event("complained", event_id="ev-q1", recipient=send.email))
    _signal(_event("complained", event_id="ev-q2", recipient=send.email))
    assert Consent.objects.filter(contact=send.contact, action="withdraw").count() == 1
    assert Suppression.objects.count() == 1


def test_a_complaint_about_a_message_that_is_not_a_campaign_still_protects_the_person():
    contact = consenting_contact(email="cliente@ejemplo.com.mx")
    _signal(
        _event(
            "complained",
            event_id="ev-x",
            message_id="<otro@crm.test>",
            recipient="CLIENTE@ejemplo.com.mx",
        )
    )
    assert Suppression.objects.filter(email="cliente@ejemplo.com.mx").exists()
    assert _channel(contact) == Consent.Action.WITHDRAW
    assert not TrackingEvent.objects.exists()


def test_an_address_already_suppressed_keeps_its_entry(send):
    SuppressionFactory(email=send.email, reason=Suppression.Reason.MANUAL, note="por teléfono")
    _signal(_event("bounced", event_id="ev-b2", recipient=send.email))
    assert Suppression.objects.get().note == "por teléfono"


def test_esp_opens_and_clicks_date_the_send(send):
    link = send.campaign.links.get()
    _signal(_event("clicked", event_id="ev-c", click_url=link.url, user_agent=BROWSER))
    send.refresh_from_db()
    assert send.first_clicked_at is not None and send.first_opened_at is not None
    click = TrackingEvent.objects.get(kind="clic")
    assert click.link == link
    _signal(_event("opened", event_id="ev-o", user_agent=BROWSER))
    assert TrackingEvent.objects.filter(kind="apertura").count() == 2


def test_an_esp_unsubscribe_withdraws_the_campaigns_topic(send):
    _signal(_event("unsubscribed", event_id="ev-u", recipient=send.email))
    row = ConsentLatest.objects.get(contact=send.contact, topic=send.campaign.topic)
    assert row.action == Consent.Action.WITHDRAW
    assert _channel(send.contact) == Consent.Action.GRANT


def test_an_event_of_an_unknown_message_records_no_event():
    ContactFactory()
    _signal(_event("delivered", event_id="ev-n", message_id="<nadie@crm.test>"))
    _signal(_event("opened", event_id=None, message_id=""))
    assert not TrackingEvent.objects.exists()


# --- End to end: a real anymail webhook view ------------------------------------------------


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "esp:s3cret0"}
    return "esp:s3cret0"


def _postmark_bounce(send) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "MessageID": send.message_id.strip("<>"),
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": send.email,
        "BouncedAt": "2026-12-04T17:10:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Novedades",
        "Metadata": {},
    }


def test_a_postmark_bounce_webhook_suppresses_the_address(send, webhook_secret):
    client = Client()
    response = client.post(
        "/m/anymail/postmark/tracking/",
        data=json.dumps(_postmark_bounce(send)),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(webhook_secret),
    )
    assert response.status_code == 200
    assert Suppression.objects.get().email == send.email
    send.refresh_from_db()
    assert send.bounced_at is not None


def test_a_webhook_without_the_secret_is_refused(send, webhook_secret):
    response = Client().post(
        "/m/anymail/postmark/tracking/",
        data=json.dumps(_postmark_bounce(send)),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic("esp:equivocada"),
    )
    assert response.status_code == 400
    assert not Suppression.objects.exists()
    send.refresh_from_db()
    assert send.bounced_at is None


def test_the_webhooks_are_closed_while_no_secret_is_configured(send, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
    response = Client().post(
        "/m/anymail/postmark/tracking/",
        data=json.dumps(_postmark_bounce(send)),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not Suppression.objects.exists()


def test_the_webhook_urls_keep_anymails_names():
    assert reverse("campaigns_public:anymail:postmark_tracking_webhook") == (
        "/m/anymail/postmark/tracking/"
    )
