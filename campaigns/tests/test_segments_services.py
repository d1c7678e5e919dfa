"""Segment writes and reads: validation, audit, static lists, archiving, counts with consent."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from campaigns.models import Campaign, Segment, SegmentMember
from campaigns.selectors.segments import (
    segment_counts,
    segment_list,
    segment_sample,
    segment_topic_counts,
)
from campaigns.services.segments import (
    segment_add_contacts,
    segment_archive,
    segment_create,
    segment_remove_contacts,
    segment_update,
)
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SuppressionFactory,
    TopicFactory,
    consenting_contact,
)
from contacts.models import Consent
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

MQL = {
    "match": "all",
    "groups": [
        {"match": "all", "conditions": [{"field": "lifecycle", "op": "in", "value": ["mql"]}]}
    ],
}


def test_create_dynamic_validates_and_audits(marketing):
    segment = segment_create(actor=marketing, name="  Leads MQL ", definition=MQL)
    assert segment.name == "Leads MQL"
    assert segment.definition == MQL
    event = AuditEvent.objects.get(action="segment_create")
    assert event.actor == marketing
    assert event.target == f"campaigns.segment:{segment.pk}"


def test_create_refuses_a_bad_definition_and_saves_nothing(marketing):
    bad = {"match": "all", "groups": [{"match": "all", "conditions": []}]}
    with pytest.raises(ValidationError) as exc:
        segment_create(actor=marketing, name="Vacío", definition=bad)
    assert "está vacío" in str(exc.value)
    with pytest.raises(ValidationError):
        segment_create(actor=marketing, name="", definition=MQL)
    assert not Segment.objects.exists()
    assert not AuditEvent.objects.filter(action="segment_create").exists()


def test_create_static_keeps_no_definition(marketing):
    segment = segment_create(actor=marketing, name="Feria", kind="estatico", definition=MQL)
    assert segment.is_static
    assert segment.definition == {}


@pytest.mark.parametrize("role", ["rep", "manager", "support"])
def test_only_marketing_and_admin_write(request, role):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        segment_create(actor=user, name="X", definition=MQL)


def test_admin_may_write(admin_user):
    assert segment_create(actor=admin_user, name="X", definition=MQL).pk


def test_update_changes_definition_not_kind(marketing):
    segment = SegmentFactory(created_by=marketing)
    segment_update(actor=marketing, segment=segment, name="Nuevo", definition=MQL)
    segment.refresh_from_db()
    assert (segment.name, segment.definition, segment.kind) == ("Nuevo", MQL, "dinamico")
    assert AuditEvent.objects.filter(action="segment_update").count() == 1


def test_update_of_archived_is_refused(marketing):
    segment = SegmentFactory()
    segment_archive(actor=marketing, segment=segment)
    with pytest.raises(ValidationError):
        segment_update(actor=marketing, segment=segment, name="Otro", definition=MQL)
    segment.refresh_from_db()
    assert segment.name != "Otro"


def test_archive_refused_while_a_campaign_is_scheduled(marketing):
    campaign = CampaignFactory(status=Campaign.Status.SCHEDULED)
    with pytest.raises(ValidationError) as exc:
        segment_archive(actor=marketing, segment=campaign.segment)
    assert campaign.name in str(exc.value)
    campaign.segment.refresh_from_db()
    assert campaign.segment.archived_at is None


def test_archive_twice_is_one_archive(marketing):
    segment = SegmentFactory()
    segment_archive(actor=marketing, segment=segment)
    segment_archive(actor=marketing, segment=segment)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ARCHIVE).count() == 1
    assert list(segment_list(user=marketing)) == []
    assert list(segment_list(user=marketing, filters={"archived": True})) == [segment]


def test_static_add_is_idempotent_and_skips_archived(marketing):
    segment = SegmentFactory(kind="estatico", definition={})
    a, b = ContactFactory(), ContactFactory()
    gone = ContactFactory(archived_at="2026-01-01T00:00:00Z")
    assert segment_add_contacts(actor=marketing, segment=segment, contact_ids=[a.pk, gone.pk]) == 1
    assert segment_add_contacts(actor=marketing, segment=segment, contact_ids=[a.pk, b.pk]) == 1
    assert set(segment.memberships.values_list("contact_id", flat=True)) == {a.pk, b.pk}
    assert AuditEvent.objects.filter(action="segment_members").count() == 2


def test_static_add_bad_input_changes_nothing(marketing):
    segment = SegmentFactory(kind="estatico", definition={})
    for ids in ([], ["x"], [999999]):
        with pytest.raises(ValidationError):
            segment_add_contacts(actor=marketing, segment=segment, contact_ids=ids)
    dynamic = SegmentFactory()
    with pytest.raises(ValidationError):
        segment_add_contacts(actor=marketing, segment=dynamic, contact_ids=[ContactFactory().pk])
    assert not SegmentMember.objects.exists()


def test_static_remove(marketing):
    segment = SegmentFactory(kind="estatico", definition={})
    a, b = ContactFactory(), ContactFactory()
    segment_add_contacts(actor=marketing, segment=segment, contact_ids=[a.pk, b.pk])
    assert segment_remove_contacts(actor=marketing, segment=segment, contact_ids=[a.pk]) == 1
    assert segment_remove_contacts(actor=marketing, segment=segment, contact_ids=[a.pk]) == 0
    assert list(segment.memberships.values_list("contact_id", flat=True)) == [b.pk]


def test_counts_after_consent_and_suppression():
    topic = TopicFactory(name="Ofertas")
    ok = consenting_contact(lifecycle="mql")
    consenting_contact(lifecycle="mql", email="suprimido@ejemplo.com.mx")
    SuppressionFactory(email="suprimido@ejemplo.com.mx")
    ContactFactory(lifecycle="mql")  # no consent
    left_topic = consenting_contact(lifecycle="mql")
    ConsentFactory(contact=left_topic, topic=topic, action=Consent.Action.WITHDRAW)
    consenting_contact(lifecycle="lead")  # outside the segment
    segment = SegmentFactory(definition=MQL)

    assert segment_counts(segment=segment) == (4, 2)
    assert segment_counts(definition=MQL, topic_id=topic.pk) == (4, 1)
    counts = dict(segment_topic_counts(segment=segment))
    assert counts[None] == 2
    assert counts[topic] == 1
    sample = segment_sample(segment=segment, limit=2)
    assert len(sample) == 2
    assert ok in segment_sample(definition=MQL)
