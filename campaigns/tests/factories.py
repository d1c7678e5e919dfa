"""Topics, segments, campaigns, ledger rows, events and suppressions for the campaigns tests."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns import content
from campaigns.models import Campaign, CampaignLink, Segment, Send, Suppression, TrackingEvent
from contacts.models import Consent, Topic
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.models import Role
from crm.tests.factories import UserFactory


class TopicFactory(DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Boletín {n}")


class SegmentFactory(DjangoModelFactory):
    """A dynamic segment of everyone (no conditions) unless a definition is given."""

    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segmento {n}")
    kind = Segment.Kind.DYNAMIC
    definition = factory.LazyFunction(lambda: {"match": "all", "groups": []})
    created_by = factory.SubFactory(UserFactory, role=Role.MARKETING)


BODY = (
    '<h1>Hola {{ nombre|default:"cliente" }}</h1>'
    '<p>Nuevos precios para {{ empresa|default:"tu empresa" }}: '
    '<a href="https://ejemplo.com.mx/ofertas?utm_source=crm">ver ofertas</a>.</p>'
)


class CampaignFactory(DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaña {n}")
    topic = factory.SubFactory(TopicFactory, name="Novedades")
    segment = factory.SubFactory(SegmentFactory)
    subject = 'Novedades de diciembre para {{ nombre|default:"ti" }}'
    preheader = "Precios nuevos y envío gratis"
    html_body = factory.LazyFunction(lambda: content.sanitize_html(BODY))
    text_body = factory.LazyAttribute(lambda o: content.html_to_text(o.html_body))
    created_by = factory.SubFactory(UserFactory, role=Role.MARKETING)

    @factory.post_generation
    def stored_links(self, create, extracted, **kwargs):
        # As the editor's service does: the body's links are the campaign's stored links.
        if create:
            for url in content.extract_links(self.html_body):
                CampaignLink.objects.get_or_create(campaign=self, url=url)


def consenting_contact(**kwargs):
    """A contact with a channel-wide email grant (the factory's default consent)."""
    contact = ContactFactory(**kwargs)
    ConsentFactory(contact=contact, channel=Consent.Channel.EMAIL)
    return contact


class SendFactory(DjangoModelFactory):
    class Meta:
        model = Send

    campaign = factory.SubFactory(CampaignFactory)
    contact = factory.SubFactory(ContactFactory)
    email = factory.LazyAttribute(lambda o: o.contact.email)
    status = Send.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)
    message_id = factory.Sequence(lambda n: f"<{n}.campana@crm.test>")


class TrackingEventFactory(DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    send = factory.SubFactory(SendFactory)
    campaign = factory.SelfAttribute("send.campaign")
    contact = factory.SelfAttribute("send.contact")
    kind = TrackingEvent.Kind.OPEN
    at = factory.LazyFunction(timezone.now)


class SuppressionFactory(DjangoModelFactory):
    class Meta:
        model = Suppression

    email = factory.Sequence(lambda n: f"suprimido{n}@ejemplo.com.mx")
    reason = Suppression.Reason.MANUAL
