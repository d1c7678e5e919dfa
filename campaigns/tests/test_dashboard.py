"""The marketing part of the home page: what is sending, what is next, how the last ones went."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Send
from campaigns.selectors.dashboard import marketing_home
from campaigns.tests.factories import CampaignFactory, SendFactory, TopicFactory, consenting_contact

pytestmark = pytest.mark.django_db


def _sent_campaign(topic, name: str, *, opened: int, clicked: int, total: int) -> Campaign:
    now = timezone.now()
    campaign = CampaignFactory(
        name=name,
        topic=topic,
        status=Campaign.Status.SENT,
        started_at=now - timedelta(days=1),
        finished_at=now - timedelta(hours=20),
        materialized_at=now - timedelta(days=1),
    )
    for n in range(total):
        contact = consenting_contact()
        SendFactory(
            campaign=campaign,
            contact=contact,
            email=contact.email.lower(),
            status=Send.Status.SENT,
            sent_at=now - timedelta(days=1),
            first_opened_at=now if n < opened else None,
            first_clicked_at=now if n < clicked else None,
        )
    return campaign


def test_marketing_sees_progress_schedule_last_sent_and_the_emailable_count(marketing):
    topic = TopicFactory()
    _sent_campaign(topic, "Promoción de verano", opened=2, clicked=1, total=4)
    CampaignFactory(
        name="Catálogo 2027",
        topic=topic,
        status=Campaign.Status.SCHEDULED,
        scheduled_at=timezone.now() + timedelta(days=3),
    )
    CampaignFactory(name="Boletín", topic=topic, status=Campaign.Status.SENDING)
    figures = marketing_home(user=marketing)
    (last,) = figures["campaigns_last_sent"]
    assert (last.sent_total, last.open_rate, last.click_rate) == (4, 50.0, 25.0)
    assert [c.name for c in figures["campaigns_scheduled"]] == ["Catálogo 2027"]
    assert [c.name for c in figures["campaigns_in_progress"]] == ["Boletín"]
    assert figures["emailable_contacts"] == 4


def test_managers_read_the_last_sent_only_and_reps_get_nothing(manager, rep):
    _sent_campaign(TopicFactory(), "Promoción", opened=0, clicked=0, total=1)
    assert set(marketing_home(user=manager)) == {"campaigns_last_sent"}
    assert marketing_home(user=rep) == {}


def test_the_home_shows_it_in_a_constant_number_of_queries(
    marketing, client_for, django_assert_max_num_queries
):
    topic = TopicFactory()
    client = client_for(marketing)
    _sent_campaign(topic, "Primera", opened=1, clicked=0, total=2)
    with django_assert_max_num_queries(40) as few:
        assert client.get(reverse("crm:home")).status_code == 200
    for n in range(5):
        _sent_campaign(topic, f"Campaña {n}", opened=3, clicked=1, total=6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("crm:home"))
    assert "Campaña 4" in response.content.decode()
    assert "50,0 % abrieron" in response.content.decode() or "50.0 % abrieron" in (
        response.content.decode()
    )
