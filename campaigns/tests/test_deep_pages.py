"""Page 2,000 of the campaign list, the send ledger, the results overview and the suppression
list costs what page 1 costs (issue 12; see crm.core.tests.deep_pages)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Send, Suppression, Topic
from campaigns.tests.factories import CampaignFactory
from campaigns.views import results as results_views
from contacts.models import Contact
from crm.core.tests.deep_pages import (
    PER_PAGE,
    ROWS,
    assert_counts_nothing,
    assert_deep_page_is_cheap,
    get_page,
)


@pytest.fixture
def topic(db):
    return Topic.objects.create(name="Novedades")


def _campaigns(topic, marketing, **fields) -> list[Campaign]:
    return Campaign.objects.bulk_create(
        [
            Campaign(
                name=f"Campaña {i:05d}",
                topic=topic,
                subject="Novedades",
                created_by=marketing,
                **{k: v(i) if callable(v) else v for k, v in fields.items()},
            )
            for i in range(ROWS)
        ],
        batch_size=1000,
    )


def test_campaign_list_deep_page(topic, marketing, client_for, settings):
    """Newest first (the rows are made in order, so the newest is the last made)."""
    settings.PAGE_SIZE = PER_PAGE
    newest_first = sorted(
        _campaigns(topic, marketing), key=lambda c: (c.created_at, c.pk), reverse=True
    )

    assert_deep_page_is_cheap(
        client_for(marketing),
        reverse("campaigns:campaign-list"),
        model=Campaign,
        ordered=[c.pk for c in newest_first],
        labels=[c.name for c in newest_first],
    )


def test_results_overview_deep_page(topic, marketing, client_for, monkeypatch):
    """Sent campaigns, latest started first (its own page size, OVERVIEW_PAGE_SIZE); their
    figures already computed, as the nightly rollup leaves them."""
    monkeypatch.setattr(results_views, "OVERVIEW_PAGE_SIZE", PER_PAGE)
    now = timezone.now()
    sent = _campaigns(
        topic,
        marketing,
        status=Campaign.Status.SENT,
        materialized_at=now,
        stats_computed_at=now,
        started_at=lambda i: now - timedelta(minutes=i),
    )

    assert_deep_page_is_cheap(
        client_for(marketing),
        reverse("campaigns:results-overview"),
        model=Campaign,
        ordered=[c.pk for c in sent],
        labels=[c.name for c in sent],
    )


def _ledger(marketing, rows: int = ROWS) -> tuple[Campaign, list[Send]]:
    """One sent campaign's ledger, one row per recipient."""
    campaign = CampaignFactory(status=Campaign.Status.SENT)
    contacts = Contact.objects.bulk_create(
        [Contact(first_name="Ana", owner=marketing) for _ in range(rows)], batch_size=1000
    )
    sends = Send.objects.bulk_create(
        [
            Send(
                campaign=campaign,
                contact=contact,
                email=f"destinatario{i:05d}@ejemplo.com.mx",
                status=Send.Status.SENT,
            )
            for i, contact in enumerate(contacts)
        ],
        batch_size=1000,
    )
    return campaign, sends


def test_send_ledger_deep_page(marketing, client_for, settings):
    """By id; its progress bar (the ledger by status) loads on a request of its own."""
    settings.PAGE_SIZE = PER_PAGE
    campaign, sends = _ledger(marketing)

    assert_deep_page_is_cheap(
        client_for(marketing),
        reverse("campaigns:campaign-sends", args=[campaign.pk]),
        model=Send,
        ordered=[s.pk for s in sends],
        labels=[s.email for s in sends],
    )


def test_send_ledger_page_does_not_count_the_ledger(marketing, client_for, settings):
    """Any page of it, here the htmx swap of page 2 (the count does not depend on the page)."""
    settings.PAGE_SIZE = PER_PAGE
    campaign, _sends = _ledger(marketing, rows=10)
    client = client_for(marketing)
    url = reverse("campaigns:campaign-sends", args=[campaign.pk])
    client.get(url, {"page": 2}, HTTP_HX_REQUEST="true")

    rows = get_page(client, url, {"page": 2}, HTTP_HX_REQUEST="true")

    assert rows.response.status_code == 200
    assert_counts_nothing(rows.statements, model=Send)


def test_suppression_list_deep_page(marketing, client_for, settings):
    settings.PAGE_SIZE = PER_PAGE
    entries = Suppression.objects.bulk_create(
        [
            Suppression(email=f"suprimido{i:05d}@ejemplo.com.mx", reason=Suppression.Reason.MANUAL)
            for i in range(ROWS)
        ],
        batch_size=1000,
    )
    newest_first = sorted(entries, key=lambda e: (e.created_at, e.pk), reverse=True)

    assert_deep_page_is_cheap(
        client_for(marketing),
        reverse("campaigns:suppression-list"),
        model=Suppression,
        ordered=[e.pk for e in newest_first],
        labels=[e.email for e in newest_first],
    )
