"""The results' figures: funnel, conversions in the window, segments, engagement, channels."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Send, TrackingEvent
from campaigns.selectors import analyses
from campaigns.selectors import results as selectors
from campaigns.tests.factories import (
    CampaignFactory,
    SendFactory,
    TrackingEventFactory,
    sent_campaign,
    won,
)
from contacts.models import Consent, Lifecycle
from contacts.tests.factories import ConsentFactory, ContactFactory
from opportunities.models import ExchangeRate

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return sent_campaign(cost=Decimal("500.00"), conversion_window_days=30)


def test_funnel_counts_and_rates_over_delivered(campaign):
    sent_at = timezone.now() - timedelta(days=10)
    opened = SendFactory(campaign=campaign, sent_at=sent_at, first_opened_at=sent_at)
    clicked = SendFactory(
        campaign=campaign, sent_at=sent_at, first_opened_at=sent_at, first_clicked_at=sent_at
    )
    SendFactory(campaign=campaign, sent_at=sent_at, bounced_at=sent_at)
    machine = SendFactory(campaign=campaign, sent_at=sent_at)
    SendFactory(campaign=campaign, status=Send.Status.FAILED, sent_at=None)
    TrackingEventFactory(send=machine, kind=TrackingEvent.Kind.OPEN, is_machine=True)
    TrackingEventFactory(send=opened, kind=TrackingEvent.Kind.OPEN)
    link = campaign.links.get()
    for _ in range(3):
        TrackingEventFactory(send=clicked, kind=TrackingEvent.Kind.CLICK, link=link)
    TrackingEventFactory(send=opened, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    TrackingEventFactory(send=clicked, kind=TrackingEvent.Kind.COMPLAINT)

    results = selectors.campaign_results(campaign=campaign)
    total = results.total
    assert (total.recipients, total.sent, total.failed, total.bounced) == (5, 4, 1, 1)
    assert total.delivered == 3
    assert (total.opened, total.machine_opened, total.clicked, total.clicks) == (2, 1, 1, 3)
    assert (total.unsubscribed, total.complaints) == (1, 1)
    assert total.open_rate == pytest.approx(66.7)
    assert total.click_rate == pytest.approx(33.3)
    assert [(lnk.total_clicks, lnk.unique_clicks) for lnk in results.links] == [(3, 1)]


def test_conversions_only_inside_the_window_and_once_per_opportunity(campaign):
    account = AccountFactory(tier_auto="A")
    sent_at = timezone.now() - timedelta(days=40)
    for _ in range(2):  # two recipients at the same account: the deal counts once
        SendFactory(campaign=campaign, contact=ContactFactory(account=account), sent_at=sent_at)
    won(account, at=sent_at + timedelta(days=5), amount="3000.00")
    won(account, at=sent_at + timedelta(days=31))  # after the window
    won(account, at=sent_at - timedelta(days=1))  # before the message
    won(AccountFactory(), at=sent_at + timedelta(days=2))  # not a recipient's account
    results = selectors.campaign_results(campaign=campaign)
    assert results.total.conversions == 1
    assert results.money.revenue == Decimal("3000.00")
    assert results.money.cost == Decimal("500.00")
    assert results.money.roi == 500.0
    assert results.total.average_order_value == Decimal("3000.00")
    assert results.total.revenue_per_email == Decimal("1500.00")
    tier_a = next(f for f in results.segments if f.key == "A")
    assert (tier_a.sent, tier_a.conversions, tier_a.revenue) == (2, 1, Decimal("3000.00"))


def test_foreign_currency_converted_or_reported(campaign):
    account = AccountFactory()
    sent_at = timezone.now() - timedelta(days=5)
    SendFactory(campaign=campaign, contact=ContactFactory(account=account), sent_at=sent_at)
    ExchangeRate.objects.create(
        currency="USD", valid_from=sent_at.date() - timedelta(days=30), rate=Decimal("17")
    )
    won(account, at=sent_at + timedelta(days=1), amount="100.00", currency="USD")
    won(account, at=sent_at + timedelta(days=1), amount="100.00", currency="EUR")
    results = selectors.campaign_results(campaign=campaign)
    assert results.total.conversions == 2
    assert results.money.revenue == Decimal("1700.00")
    assert results.money.excluded == [{"currency": "EUR", "count": 1}]


def test_lifecycle_segments_and_ab_variants(campaign):
    campaign.subject_b = "Otra línea de asunto"
    campaign.save()
    sent_at = timezone.now() - timedelta(days=3)
    account = AccountFactory()
    lead = ContactFactory(account=account, lifecycle=Lifecycle.LEAD)
    customer = ContactFactory(lifecycle=Lifecycle.CUSTOMER)
    SendFactory(
        campaign=campaign, contact=lead, variant="a", sent_at=sent_at, first_opened_at=sent_at
    )
    SendFactory(campaign=campaign, contact=customer, variant="b", sent_at=sent_at)
    won(account, at=sent_at + timedelta(days=1))
    results = selectors.campaign_results(campaign=campaign, dimension="lifecycle")
    by_key = {f.key: f for f in results.segments}
    assert by_key["lead"].opened == 1 and by_key["lead"].conversions == 1
    assert by_key["cliente"].opened == 0 and by_key["cliente"].conversions == 0
    a, b = results.variants
    assert (a.label, a.sent, a.opened, a.conversions) == (campaign.subject, 1, 1, 1)
    assert (b.label, b.sent, b.opened, b.conversions) == ("Otra línea de asunto", 1, 0, 0)


def test_without_amounts_no_money(campaign):
    SendFactory(campaign=campaign)
    results = selectors.campaign_results(campaign=campaign, with_amounts=False)
    assert results.money is None


def test_drafts_have_no_results():
    draft = CampaignFactory()
    assert selectors.results_campaign(pk=draft.pk) is None


def test_engagement_ranks_segments_and_contacts():
    campaign = sent_campaign()
    now = timezone.now()
    active = ContactFactory(lifecycle=Lifecycle.CUSTOMER)
    idle = ContactFactory(lifecycle=Lifecycle.LEAD)
    SendFactory(
        campaign=campaign, contact=active, sent_at=now, first_opened_at=now, first_clicked_at=now
    )
    SendFactory(campaign=campaign, contact=idle, sent_at=now)
    SendFactory(campaign=campaign, contact=ContactFactory(), sent_at=now - timedelta(days=200))
    data = analyses.engagement(period="trimestre", dimension="lifecycle")
    assert [r["group"] for r in data["segments"]] == ["cliente", "lead"]
    assert data["segments"][0]["score"] == 2.0
    assert data["most_active"][0]["contact_id"] == active.pk
    assert data["least_active"][0]["contact_id"] == idle.pk
    assert data["inactive_count"] == 1
    assert sum(r["received"] for r in data["trend"]) == 2


def test_channels_counts_leads_and_subscriptions_in_window():
    campaign = sent_campaign(conversion_window_days=7)
    sent_at = timezone.now() - timedelta(days=20)
    SendFactory(campaign=campaign, sent_at=sent_at)
    inside = ContactFactory(lead_source="email")
    inside.created_at = sent_at + timedelta(days=2)
    inside.save(update_fields=["created_at"])
    ConsentFactory(contact=inside, at=sent_at + timedelta(days=3))
    late = ContactFactory(lead_source="web")  # created now: after the window
    ConsentFactory(contact=late, channel=Consent.Channel.EMAIL)
    data = analyses.channels(period="trimestre")
    row = next(c for c in data["campaigns"] if c.pk == campaign.pk)
    assert (row.leads, row.subscriptions) == (1, 1)
    email = next(s for s in data["sources"] if s["key"] == "email")
    assert (email["leads_total"], email["subs_total"]) == (1, 1)


def test_contact_activity_timeline(campaign):
    contact = ContactFactory()
    send = SendFactory(campaign=campaign, contact=contact)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN, is_machine=True)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.CLICK, link=campaign.links.get())
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    [row] = selectors.contact_campaign_activity(contact)
    assert [e.kind for e in row.timeline] == ["apertura", "clic", "baja"]
    assert row.unsubscribed and row.click_total == 1
    assert selectors.account_campaign_activity(contact.account)[0].pk == send.pk
