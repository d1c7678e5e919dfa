"""Campaigns, their results and segments in the REST API (read only): the pages' roles
(campaigns.permissions) and the key's scopes, the figures of the results page with amounts only
for who sees them, problem details, and the queries of the lists."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from campaigns import api as campaigns_api
from campaigns.models import Campaign, Segment, TrackingEvent
from campaigns.tests import factories
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    TrackingEventFactory,
)
from contacts.tests.factories import ContactFactory
from crm.core.api.tokens import SCOPES, token_create
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
ROLES = ["rep", "other_rep", "manager", "support", "marketing", "admin_user"]
MQL = {
    "match": "all",
    "groups": [
        {"match": "all", "conditions": [{"field": "lifecycle", "op": "in", "value": ["mql"]}]}
    ],
}


def api(user, scopes=None) -> APIClient:
    _token, key = token_create(user=user, name="Tablero", scopes=scopes or SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def campaign():
    """Sent five days ago to four contacts of one account: all opened, two clicked, one
    unsubscribed; a deal of 5,000 won there since (a conversion)."""
    campaign = factories.sent_campaign(name="Ofertas de diciembre", cost=Decimal("1000.00"))
    account = AccountFactory()
    sent_at = timezone.now() - timedelta(days=5)
    link = campaign.links.first()
    for index in range(4):
        send = SendFactory(
            campaign=campaign,
            contact=ContactFactory(account=account),
            sent_at=sent_at,
            first_opened_at=sent_at,
            first_clicked_at=sent_at if index % 2 else None,
        )
        TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN)
        if index % 2:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.CLICK, link=link)
        if index == 0:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    OpportunityFactory(
        account=account,
        stage=stage("Ganada"),
        closed_at=timezone.now() - timedelta(days=2),
        amount=Decimal("5000.00"),
    )
    return campaign


def results(campaign) -> str:
    return reverse("api:campaign-results", args=[campaign.pk])


# Campaigns ------------------------------------------------------------------------------------

# The pages' rules: marketing and administrators work campaigns, managers read them and their
# results; reps and support get 403 (campaigns.permissions). Segments are marketing's.
CAMPAIGNS = {
    "rep": 403,
    "other_rep": 403,
    "manager": 200,
    "support": 403,
    "marketing": 200,
    "admin_user": 200,
}
SEGMENTS = {**CAMPAIGNS, "manager": 403}


@pytest.mark.parametrize("role", ROLES)
def test_the_access_matrix(request, role, campaign):
    user = request.getfixturevalue(role)
    client = api(user)
    segment = campaign.segment
    answers = {
        "campaigns": client.get(reverse("api:campaign-list")),
        "campaign": client.get(reverse("api:campaign-detail", args=[campaign.pk])),
        "results": client.get(results(campaign)),
    }
    for name, response in answers.items():
        assert response.status_code == CAMPAIGNS[role], name
    for response in (
        client.get(reverse("api:segment-list")),
        client.get(reverse("api:segment-detail", args=[segment.pk])),
    ):
        assert response.status_code == SEGMENTS[role]
        if SEGMENTS[role] == 403:
            assert response["Content-Type"] == PROBLEM
            assert response.json()["detail"] in (
                "Tu rol no tiene acceso a los segmentos.",
                "Tu rol no tiene acceso a las campañas.",
            )
    if CAMPAIGNS[role] == 403:
        assert answers["campaigns"].json()["detail"] == "Tu rol no tiene acceso a las campañas."


def test_the_list_and_a_campaign(marketing, campaign):
    draft = CampaignFactory(name="Rebajas de enero", scheduled_at=timezone.now() + timedelta(1))
    client = api(marketing)
    rows = client.get(reverse("api:campaign-list")).json()["results"]
    assert [row["id"] for row in rows] == [draft.pk, campaign.pk]
    sent = rows[1]
    assert sent["status"] == "enviada" and sent["sent_count"] == 4
    assert sent["topic_name"] == "Novedades" and sent["cost"] == "1000.00"
    assert "html_body" not in sent
    filtered = client.get(reverse("api:campaign-list"), {"status": "borrador"}).json()
    assert [row["id"] for row in filtered["results"]] == [draft.pk]
    by_word = client.get(reverse("api:campaign-list"), {"q": "enero"}).json()["results"]
    assert [row["name"] for row in by_word] == ["Rebajas de enero"]

    one = client.get(reverse("api:campaign-detail", args=[draft.pk]))
    assert one.status_code == 200
    body = one.json()
    assert body["status"] == "borrador" and body["scheduled_at"] is not None
    assert body["audience"] == {"contacts": 4, "eligible": 0}  # nobody consented to email
    missing = client.get(reverse("api:campaign-detail", args=[999999]))
    assert missing.status_code == 404 and missing.json()["detail"] == "No existe esa campaña."


def test_results_show_the_pages_figures(marketing, campaign):
    response = api(marketing).get(results(campaign))
    assert response.status_code == 200, response.json()
    body = response.json()
    total = body["total"]
    assert (total["sent"], total["delivered"], total["opens"], total["clicks"]) == (4, 4, 4, 2)
    assert (total["unsubscribes"], total["conversions"]) == (1, 1)
    assert total["open_rate"] == 100.0 and total["click_rate"] == 50.0
    assert Decimal(total["revenue"]) == Decimal("5000.00")
    assert body["money"]["roi"] == 400.0 and Decimal(body["money"]["cost"]) == Decimal("1000")
    assert body["links"][0]["total_clicks"] == 2
    assert body["dimension"] == "tier"
    by_stage = api(marketing).get(results(campaign), {"por": "lifecycle"}).json()
    assert by_stage["dimension"] == "lifecycle" and by_stage["segments"]


def test_amounts_only_for_who_sees_them(manager, campaign, monkeypatch):
    # Today everyone who reads results sees amounts; the API asks the same rule as the page.
    assert api(manager).get(results(campaign)).json()["money"] is not None
    monkeypatch.setattr(campaigns_api, "can_see_campaign_amounts", lambda user: False)
    client = api(manager)
    body = client.get(results(campaign)).json()
    assert body["money"] is None and body["total"]["revenue"] is None
    assert body["total"]["conversions"] == 1  # the count stays, as on the page
    one = client.get(reverse("api:campaign-detail", args=[campaign.pk])).json()
    assert "cost" not in one and "currency" not in one
    rows = client.get(reverse("api:campaign-list")).json()["results"]
    assert "cost" not in rows[0]
    asked = client.get(reverse("api:campaign-list"), {"fields": "id,cost"})
    assert asked.status_code == 400 and "cost" in asked.json()["errors"]["fields"][0]


def test_a_draft_has_no_results(marketing):
    draft = CampaignFactory()
    response = api(marketing).get(results(draft))
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "Esa campaña no existe o aún no se ha enviado."


# Segments -------------------------------------------------------------------------------------


def test_segments_with_their_definition_and_members(admin_user):
    ContactFactory(lifecycle="mql")
    ContactFactory(lifecycle="mql")
    ContactFactory(lifecycle="lead")
    dynamic = SegmentFactory(name="MQL", definition=MQL)
    static = SegmentFactory(name="Feria", kind=Segment.Kind.STATIC, definition={})
    static.memberships.create(contact=ContactFactory())
    client = api(admin_user)
    rows = client.get(reverse("api:segment-list"), {"ordering": "name"}).json()["results"]
    assert [(row["name"], row["member_count"]) for row in rows] == [("Feria", 1), ("MQL", None)]
    only_static = client.get(reverse("api:segment-list"), {"kind": "estatico"}).json()
    assert [row["id"] for row in only_static["results"]] == [static.pk]

    body = client.get(reverse("api:segment-detail", args=[dynamic.pk])).json()
    assert body["definition"] == MQL and body["broken"] == []
    assert body["member_count"] == 2 and body["eligible"] == 0
    assert body["match"] == "all" and len(body["groups"][0]["conditions"]) == 1
    assert "MQL" in body["groups"][0]["conditions"][0]
    assert body["eligible_by_topic"][0]["topic"] is None
    listed = client.get(reverse("api:segment-detail", args=[static.pk])).json()
    assert listed["member_count"] == 1 and listed["groups"] == []
    assert client.get(reverse("api:segment-detail", args=[999999])).status_code == 404


def test_a_broken_definition_is_reported_not_counted(marketing):
    broken = SegmentFactory(definition={"match": "quizá", "groups": []})
    body = api(marketing).get(reverse("api:segment-detail", args=[broken.pk])).json()
    assert body["broken"] and body["member_count"] is None


# Scopes and the read-only area ----------------------------------------------------------------


def test_scopes(marketing, campaign):
    reader = api(marketing, scopes=["campaigns:read"])
    assert reader.get(reverse("api:campaign-list")).status_code == 200
    assert reader.get(results(campaign)).status_code == 200
    assert reader.get(reverse("api:segment-list")).status_code == 200
    elsewhere = api(marketing, scopes=["contacts:write", "support:write"])
    for url in (reverse("api:campaign-list"), results(campaign), reverse("api:segment-list")):
        refused = elsewhere.get(url)
        assert refused.status_code == 403 and refused.json()["title"] == "Sin permiso"
    # Read only, whatever the key: no write reaches a campaign or a segment.
    for client in (reader, api(marketing)):
        created = client.post(reverse("api:campaign-list"), {"name": "X"}, format="json")
        assert created.status_code in (403, 405) and created["Content-Type"] == PROBLEM
        changed = client.patch(
            reverse("api:campaign-detail", args=[campaign.pk]), {"name": "Y"}, format="json"
        )
        assert changed.status_code in (403, 405)
        deleted = client.delete(reverse("api:segment-detail", args=[campaign.segment_id]))
        assert deleted.status_code in (403, 405)
    assert Campaign.objects.count() == 1 and Campaign.objects.get().name == "Ofertas de diciembre"
    assert Segment.objects.filter(pk=campaign.segment_id).exists()


# Queries --------------------------------------------------------------------------------------


def test_the_campaign_list_costs_the_same_queries_for_3_or_40(
    marketing, django_assert_max_num_queries
):
    client = api(marketing)
    url = reverse("api:campaign-list")
    client.get(url)
    for _ in range(3):
        SendFactory(campaign=CampaignFactory())
    with django_assert_max_num_queries(8) as few:
        assert len(client.get(url).json()["results"]) == 3
    for _ in range(37):
        SendFactory(campaign=CampaignFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url).json()["results"]) == 40


def test_the_segment_list_costs_the_same_queries_for_3_or_40(
    marketing, django_assert_max_num_queries
):
    client = api(marketing)
    url = reverse("api:segment-list")
    client.get(url)
    for index in range(3):
        SegmentFactory(kind="estatico" if index % 2 else "dinamico")
    with django_assert_max_num_queries(8) as few:
        assert len(client.get(url).json()["results"]) == 3
    for index in range(37):
        segment = SegmentFactory(kind="estatico" if index % 2 else "dinamico", definition=MQL)
        CampaignFactory(segment=segment)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url).json()["results"]) == 40


def test_results_cost_a_few_queries(marketing, campaign, django_assert_max_num_queries):
    client = api(marketing)
    client.get(results(campaign))  # the first view computes the stored figures
    with django_assert_max_num_queries(8):
        assert client.get(results(campaign)).status_code == 200
