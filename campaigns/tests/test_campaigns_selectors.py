"""The editor's reads: the list's filters, the preview's contacts, missing merge data."""

import pytest

from campaigns.models import Campaign, Segment, SegmentMember
from campaigns.selectors import campaigns as selectors
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SuppressionFactory,
    TopicFactory,
    consenting_contact,
)
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _static(*contacts) -> Segment:
    segment = SegmentFactory(kind=Segment.Kind.STATIC, definition={})
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, contact=c) for c in contacts])
    return segment


def test_campaign_list_filters():
    topic = TopicFactory(name="Eventos")
    draft = CampaignFactory(name="Feria", topic=topic)
    sent = CampaignFactory(name="Navidad", subject="Regalos", status=Campaign.Status.SENT)
    assert list(selectors.campaign_list(filters={"status": "enviada"})) == [sent]
    assert list(selectors.campaign_list(filters={"topic": topic})) == [draft]
    assert list(selectors.campaign_list(filters={"q": "regalo"})) == [sent]
    assert set(selectors.campaign_list()) == {draft, sent}


def test_preview_contacts_stay_inside_the_segment():
    ana = ContactFactory(first_name="Ana", last_name="López", email="ana@uno.mx")
    beto = ContactFactory(first_name="Beto", last_name="Núñez", email="beto@dos.mx")
    outsider = ContactFactory(first_name="Ana", last_name="Fuera")
    campaign = CampaignFactory(segment=_static(ana, beto))
    assert selectors.preview_contacts(campaign=campaign, q="ana") == [ana]
    assert selectors.preview_contacts(campaign=campaign, q="dos.mx") == [beto]
    assert selectors.preview_contact(campaign=campaign, contact_id=outsider.pk) is None
    assert selectors.preview_contact(campaign=campaign, contact_id=beto.pk) == beto


def test_the_default_preview_contact_is_an_eligible_one():
    plain = ContactFactory()
    eligible = consenting_contact()
    campaign = CampaignFactory(segment=_static(plain, eligible))
    assert selectors.preview_contact(campaign=campaign, contact_id=None) == eligible
    campaign = CampaignFactory(segment=_static(plain))
    assert selectors.preview_contact(campaign=campaign, contact_id=None) == plain
    campaign = CampaignFactory(segment=None)
    assert selectors.preview_contact(campaign=campaign, contact_id=None) is None


def test_missing_merge_data_counts_eligible_contacts_with_the_field_empty():
    no_title = consenting_contact(job_title="")
    no_account = consenting_contact(account=None, job_title="Director")
    suppressed = consenting_contact(job_title="")
    SuppressionFactory(email=suppressed.email.lower())
    not_consenting = ContactFactory(job_title="")
    campaign = CampaignFactory(
        segment=_static(no_title, no_account, suppressed, not_consenting),
        subject="Para {{ puesto }}",
        html_body=(
            '<p>{{ empresa }} {{ nombre|default:"cliente" }} {{ ciudad|default:"tu ciudad" }}</p>'
        ),
    )
    found = {m.name: m.count for m in selectors.missing_merge_data(campaign=campaign)}
    # nombre and ciudad have a fallback: never a gap.
    assert found == {"puesto": 1, "empresa": 1}


def test_no_missing_data_without_merge_fields():
    campaign = CampaignFactory(subject="Hola", html_body="<p>Hola</p>", preheader="")
    campaign.text_body = "Hola"
    assert selectors.missing_merge_data(campaign=campaign) == []
