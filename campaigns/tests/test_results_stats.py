"""The stored results (CampaignStat): equal to a fresh count, refreshed once when stale, read by
the pages without counting the ledger, recomputed by the "Actualizar" button and the beat."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Campaign, CampaignStat, Send, TrackingEvent
from campaigns.selectors import funnels as blocks
from campaigns.selectors import results as selectors
from campaigns.services import stats
from campaigns.tasks import stats as tasks
from campaigns.tests import factories
from campaigns.tests.factories import CampaignFactory, SendFactory, TrackingEventFactory, won
from contacts.models import Lifecycle
from contacts.tests.factories import ContactFactory
from crm.celery import app
from opportunities.models import ExchangeRate

pytestmark = pytest.mark.django_db

LEDGER_TABLES = ("campaigns_send", "campaigns_trackingevent")


def sent_campaign(**kwargs) -> Campaign:
    kwargs.setdefault("finished_at", timezone.now() - timedelta(days=10))
    kwargs.setdefault("cost", Decimal("500.00"))
    kwargs.setdefault("subject_b", "Asunto B")
    return factories.sent_campaign(**kwargs)


def mixed_ledger(campaign: Campaign, n: int = 12) -> None:
    """Recipients across tiers, regions, industries, lifecycles and both variants, with
    opens, machine opens, clicks, bounces, failures, unsubscribes and won deals in 3 currencies."""
    sent_at = timezone.now() - timedelta(days=6)
    link = campaign.links.first()
    lifecycles = [Lifecycle.LEAD, Lifecycle.CUSTOMER, Lifecycle.SUBSCRIBER]
    accounts = [
        AccountFactory(tier_auto="A", region="Jalisco"),
        AccountFactory(tier_auto="B", region=""),
        AccountFactory(tier_auto="C", region="Nuevo León"),
    ]
    for i in range(n):
        account = accounts[i % 3] if i % 4 else None
        contact = ContactFactory(account=account, lifecycle=lifecycles[i % 3])
        status = Send.Status.FAILED if i % 7 == 6 else Send.Status.SENT
        send = SendFactory(
            campaign=campaign,
            contact=contact,
            variant="ab"[i % 2],
            status=status,
            sent_at=sent_at if status == Send.Status.SENT else None,
            bounced_at=sent_at if i % 5 == 4 else None,
            first_opened_at=sent_at if i % 3 else None,
            first_clicked_at=sent_at if i % 3 == 1 else None,
        )
        if i % 3:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN)
        else:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN, is_machine=True)
        if i % 3 == 1:
            for _ in range(1 + i % 2):
                TrackingEventFactory(send=send, kind=TrackingEvent.Kind.CLICK, link=link)
        if i % 6 == 5:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    ExchangeRate.objects.get_or_create(
        currency="USD",
        valid_from=sent_at.date() - timedelta(days=30),
        defaults={"rate": Decimal("17")},
    )
    won(accounts[0], at=sent_at + timedelta(days=1), amount="3000.00")
    won(accounts[1], at=sent_at + timedelta(days=2), amount="100.00", currency="USD")
    won(accounts[2], at=sent_at + timedelta(days=2), amount="50.00", currency="EUR")  # no rate


def fresh(campaign: Campaign, dimension: str) -> dict:
    """Today's aggregate queries run directly: {key: (counts…, conversions)} of a dimension."""
    funnels = blocks._funnels(campaign, dimension)
    first = blocks._total(blocks._funnels(campaign, "variant"))
    for row in blocks._conversion_groups(campaign, first.first_sent, first.last_sent, dimension):
        key = row["group"] or ""
        funnels.setdefault(key, blocks.Funnel(key=key)).conversions += row["n"]
    return {
        key: (*(getattr(f, name) for name in blocks.COUNT_FIELDS), f.conversions)
        for key, f in funnels.items()
    }


def shown(funnels) -> dict:
    return {
        f.key: (*(getattr(f, name) for name in blocks.COUNT_FIELDS), f.conversions) for f in funnels
    }


def test_rollup_equals_a_fresh_computation_for_every_dimension():
    campaign = sent_campaign()
    mixed_ledger(campaign)
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    for dimension in blocks.DIMENSIONS:
        results = selectors.campaign_results(campaign=campaign, dimension=dimension)
        assert shown(results.segments) == fresh(campaign, dimension), dimension
    assert shown(results.variants) == fresh(campaign, "variant")
    total = blocks._total(blocks._funnels(campaign, "variant"))
    won = blocks.conversions(campaign, first=total.first_sent, last=total.last_sent)
    assert results.total.conversions == won.count() == 3
    assert [getattr(results.total, n) for n in blocks.COUNT_FIELDS] == [
        getattr(total, n) for n in blocks.COUNT_FIELDS
    ]
    # Converted at display time with the rates: 3,000 MXN + 100 USD × 17; EUR reported apart.
    assert results.money.revenue == Decimal("4700.00")
    assert results.money.excluded == [{"currency": "EUR", "count": 1}]
    links = {link.pk: (link.total_clicks, link.unique_clicks) for link in results.links}
    assert links == {
        link.pk: (link.total_clicks, link.unique_clicks) for link in blocks.link_clicks(campaign)
    }
    # The stored rows are exactly what a new computation gives.
    fields = ("dimension", "key", *blocks.COUNT_FIELDS, "conversions")
    stored = sorted(CampaignStat.objects.filter(campaign=campaign).values_list(*fields))
    computed = sorted(
        tuple(getattr(s, f) for f in fields) for s in stats.campaign_stats_compute(campaign)
    )
    assert stored == computed


def test_new_events_show_after_a_refresh_through_the_service():
    campaign = sent_campaign()
    send = SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    assert selectors.campaign_summary(campaign=campaign).clicks == 0  # first read computes
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.CLICK, link=campaign.links.first())
    assert selectors.campaign_summary(campaign=campaign).clicks == 0  # stored figures
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert selectors.campaign_summary(campaign=campaign).clicks == 1
    assert CampaignStat.objects.filter(campaign=campaign, dimension="campaign").count() == 1


def test_refresh_task_twice_writes_one_set_of_rows(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    campaign = sent_campaign()
    mixed_ledger(campaign, 6)
    tasks.campaign_stats_refresh.delay(campaign.pk)
    rows = CampaignStat.objects.filter(campaign=campaign).count()
    tasks.campaign_stats_refresh.delay(campaign.pk)
    assert CampaignStat.objects.filter(campaign=campaign).count() == rows > 0
    assert tasks.campaign_stats_refresh.name == "campaigns.campaign_stats_refresh"


def _age(campaign: Campaign, seconds: int) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(
        stats_computed_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_first_view_computes_at_once_and_queues_nothing(
    client_for, marketing, django_capture_on_commit_callbacks
):
    campaign = sent_campaign()
    SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    url = reverse("campaigns:campaign-results", args=[campaign.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(marketing).get(url)
    assert response.context["results"].total.sent == 1
    assert callbacks == []
    campaign.refresh_from_db()
    assert campaign.stats_computed_at is not None
    assert "Cifras de hace" in response.content.decode()


def test_stale_rollup_queues_exactly_one_refresh_and_serves_the_stored_figures(
    client_for, marketing, manager, django_capture_on_commit_callbacks, monkeypatch
):
    campaign = sent_campaign()
    send = SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    _age(campaign, settings.CAMPAIGN_STATS_MAX_AGE_SECONDS + 60)
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    queued = []
    monkeypatch.setattr(
        tasks.campaign_stats_refresh, "apply_async", lambda args, **options: queued.extend(args)
    )
    results = reverse("campaigns:campaign-results", args=[campaign.pk])
    summary = reverse("campaigns:campaign-results-summary", args=[campaign.pk])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = client_for(marketing).get(results)
        client_for(manager).get(results)
        client_for(manager).get(summary)
        client_for(marketing).get(f"{results}?por=lifecycle")
    assert len(callbacks) == 1
    assert queued == [campaign.pk]
    assert first.context["results"].total.unsubscribed == 0  # what is stored, while it runs
    # The worker runs the one task: the figures move and the request is answered.
    tasks.campaign_stats_refresh(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.stats_refresh_queued_at is None
    page = client_for(marketing).get(results)
    assert page.context["results"].total.unsubscribed == 1


def test_stale_rollup_of_a_settled_campaign_is_served_as_it_is(
    client_for, marketing, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timedelta(days=90)
    campaign = sent_campaign(started_at=long_ago, finished_at=long_ago, materialized_at=long_ago)
    SendFactory(campaign=campaign, sent_at=long_ago)
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    _age(campaign, 86400)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client_for(marketing).get(reverse("campaigns:campaign-results", args=[campaign.pk]))
    assert callbacks == []
    campaign.refresh_from_db()
    assert campaign.stats_refresh_queued_at is None


def test_the_pages_read_the_rollup_in_few_queries_without_counting_the_ledger(
    client_for, marketing, django_assert_max_num_queries
):
    campaign = sent_campaign()
    client = client_for(marketing)
    results = reverse("campaigns:campaign-results", args=[campaign.pk])
    summary = reverse("campaigns:campaign-results-summary", args=[campaign.pk])
    mixed_ledger(campaign, 3)
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    with django_assert_max_num_queries(10) as few:
        client.get(results)
    mixed_ledger(campaign, 40)
    stats.campaign_stats_refresh(campaign_id=campaign.pk)
    for url in (results, f"{results}?por=region", f"{results}?por=lifecycle", summary):
        with django_assert_max_num_queries(len(few.captured_queries)) as page:
            response = client.get(url)
        assert response.status_code == 200
        sql = " ".join(q["sql"] for q in page.captured_queries)
        for table in LEDGER_TABLES:
            assert f'"{table}"' not in sql, (url, table)
    assert "Cifras de hace" in response.content.decode()


def test_actualizar_recomputes_and_returns_to_the_page(client_for, marketing):
    campaign = sent_campaign()
    send = SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    client = client_for(marketing)
    page = reverse("campaigns:campaign-results", args=[campaign.pk])
    html = client.get(f"{page}?por=lifecycle").content.decode()
    refresh = reverse("campaigns:campaign-results-refresh", args=[campaign.pk])
    assert f'action="{refresh}"' in html and "csrfmiddlewaretoken" in html
    TrackingEventFactory(send=send, kind=TrackingEvent.Kind.COMPLAINT)
    response = client.post(refresh, {"por": "lifecycle"})
    assert response.status_code == 302
    assert response["Location"] == f"{page}?por=lifecycle"
    after = client.get(response["Location"])
    assert after.context["results"].total.complaints == 1
    assert "Cifras actualizadas" in after.content.decode()
    assert client.post(refresh, {"por": "__class__"})["Location"] == page
    assert client.get(refresh).status_code == 405


def test_actualizar_needs_the_results_role_and_csrf(client_for, rep, support, marketing):
    campaign = sent_campaign()
    SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    refresh = reverse("campaigns:campaign-results-refresh", args=[campaign.pk])
    for user in (rep, support):
        assert client_for(user).post(refresh).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(marketing)
    assert strict.post(refresh).status_code == 403
    assert not CampaignStat.objects.filter(campaign=campaign).exists()
    draft = CampaignFactory()
    url = reverse("campaigns:campaign-results-refresh", args=[draft.pk])
    assert client_for(marketing).post(url).status_code == 404


def test_beat_queues_the_live_campaigns_once(django_capture_on_commit_callbacks, monkeypatch):
    now = timezone.now()
    sending = sent_campaign(status=Campaign.Status.SENDING, finished_at=None)
    recent = sent_campaign()
    long_ago = now - timedelta(days=90)
    settled = sent_campaign(started_at=long_ago, finished_at=long_ago, materialized_at=long_ago)
    never = sent_campaign(started_at=long_ago, finished_at=long_ago, materialized_at=long_ago)
    fresh_one = sent_campaign()
    for campaign in (sending, recent, settled, fresh_one):
        stats.campaign_stats_refresh(campaign_id=campaign.pk)
    for campaign in (sending, recent, settled):
        _age(campaign, 3600)
    CampaignFactory()  # a draft: nothing to count
    queued = []
    monkeypatch.setattr(
        tasks.campaign_stats_refresh, "apply_async", lambda args, **options: queued.extend(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.campaigns_stats_refresh_live()
        tasks.campaigns_stats_refresh_live()  # the next beat, before the workers ran
    assert sorted(queued) == sorted([sending.pk, recent.pk, never.pk])
    assert "campaigns.campaigns_stats_refresh_live" in {
        job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_an_older_refresh_leaves_newer_figures_alone():
    campaign = sent_campaign()
    SendFactory(campaign=campaign, sent_at=timezone.now() - timedelta(days=1))
    Campaign.objects.filter(pk=campaign.pk).update(
        stats_computed_at=timezone.now() + timedelta(minutes=1)
    )
    assert stats.campaign_stats_refresh(campaign_id=campaign.pk) == 0
    assert not CampaignStat.objects.filter(campaign=campaign).exists()
