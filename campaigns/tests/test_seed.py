"""The campaigns demo data keeps the rules the product itself keeps: one message per address,
only to contacts who could receive it when it went, outcomes only on sent messages, unsubscribes
in the consent ledger, and bounced addresses suppressed."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, Segment, Send, Suppression, TrackingEvent
from campaigns.segments import validate_definition
from contacts.models import Consent, Topic


@pytest.fixture
def seeded(db) -> str:
    out = StringIO()
    call_command("seed_demo", contacts=300, stdout=out)
    return out.getvalue()


def test_topics_segments_and_campaigns_in_every_state_marketing_needs(seeded):
    assert "campañas" in seeded
    assert Topic.objects.count() == 4
    for segment in Segment.objects.all():
        assert validate_definition(segment.definition) == [], segment.name
    states = dict(Campaign.objects.values_list("status").annotate(n=Count("id")))
    assert states[Campaign.Status.SENT] == 5
    assert states[Campaign.Status.SCHEDULED] == 1
    assert states[Campaign.Status.DRAFT] == 1
    scheduled = Campaign.objects.get(status=Campaign.Status.SCHEDULED)
    assert scheduled.scheduled_at > timezone.now()
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENT):
        assert campaign.sends.exists()
        assert campaign.links.exists()
        assert campaign.finished_at > campaign.started_at


def test_one_message_per_address_and_only_with_consent(seeded):
    sends = Send.objects.select_related("contact")
    assert sends.exists()
    for send in sends:
        assert send.email == send.contact.email.lower()
        granted = Consent.objects.filter(
            contact=send.contact,
            channel=Consent.Channel.EMAIL,
            topic__isnull=True,
            at__lte=send.claimed_at,
        ).order_by("-at", "-id")
        assert granted.first().action == Consent.Action.GRANT
    per_address = Send.objects.values("campaign", "email").annotate(n=Count("id"))
    assert max(row["n"] for row in per_address) == 1


def test_outcomes_only_on_sent_messages_and_unsubscribes_in_the_ledger(seeded):
    assert not TrackingEvent.objects.exclude(send__status=Send.Status.SENT).exists()
    assert (
        not Send.objects.exclude(status=Send.Status.SENT)
        .filter(first_opened_at__isnull=False)
        .exists()
    )
    assert TrackingEvent.objects.filter(kind=TrackingEvent.Kind.OPEN, is_machine=True).exists()
    for event in TrackingEvent.objects.filter(kind=TrackingEvent.Kind.UNSUBSCRIBE):
        assert Consent.objects.filter(
            contact=event.contact,
            channel=Consent.Channel.EMAIL,
            topic=event.campaign.topic,
            action=Consent.Action.WITHDRAW,
            source=Consent.Source.UNSUBSCRIBE,
        ).exists()


def test_bounced_and_refused_addresses_are_suppressed(seeded):
    lost = Send.objects.filter(status=Send.Status.FAILED) | Send.objects.filter(
        bounced_at__isnull=False
    )
    suppressed = set(Suppression.objects.values_list("email", flat=True))
    assert set(lost.values_list("email", flat=True)) <= suppressed


def test_the_demo_messages_greet_each_recipient_by_name(seeded):
    """The seeded bodies keep their merge fields: a recipient reads their own name, not
    the field's source."""
    from campaigns import content

    campaign = Campaign.objects.filter(status=Campaign.Status.SENT).first()
    assert content.content_errors(campaign) == {}
    assert '{{ nombre|default:"cliente" }}' in campaign.html_body
    send = campaign.sends.select_related("contact__account", "contact__owner").first()
    message = content.compile_message(campaign, tracking=False).render(
        content.merge_data(send.contact)
    )
    assert f"Hola {send.contact.first_name}," in message.html
    assert f"Hola {send.contact.first_name}," in message.text
    assert "nombre|default" not in message.html + message.text
