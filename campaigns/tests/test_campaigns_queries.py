"""The editor's lists read a constant number of rows whatever the number of campaigns (≤ 12)."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory, SendFactory, TopicFactory

pytestmark = pytest.mark.django_db

MAX_QUERIES = 12
STATUSES = [s for s, _label in Campaign.Status.choices]


def _campaigns(n: int, *, start: int = 0) -> None:
    topics = [TopicFactory(name=f"Boletín {i}") for i in range(3)]
    for i in range(start, start + n):
        campaign = CampaignFactory(
            name=f"Campaña {i}", topic=topics[i % 3], status=STATUSES[i % len(STATUSES)]
        )
        if i % 3 == 0:
            SendFactory(campaign=campaign)


@pytest.mark.parametrize("query", ["", "?status=enviada", "?q=Campa", "?page=2"])
def test_the_campaign_list_with_many_rows(
    client_for, marketing, django_assert_max_num_queries, settings, query
):
    settings.PAGE_SIZE = 5  # the first count has rows on page 2 and of every status too
    client = client_for(marketing)
    url = reverse("campaigns:campaign-list") + query
    _campaigns(12)
    with django_assert_max_num_queries(MAX_QUERIES) as few:
        assert client.get(url).status_code == 200
    _campaigns(60, start=12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_the_topic_list_with_many_rows(client_for, marketing, django_assert_max_num_queries):
    client = client_for(marketing)
    url = reverse("campaigns:topic-list")
    TopicFactory.create_batch(3)
    with django_assert_max_num_queries(MAX_QUERIES) as few:
        assert client.get(url).status_code == 200
    _campaigns(30)
    TopicFactory.create_batch(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
