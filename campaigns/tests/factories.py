"""Topics, segments, campaigns, ledger rows, events and suppressions for the campaigns tests."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns import content
from campaigns.models import (
    Campaign,
    CampaignLink,
    Segment,
    Send,
    SignupForm,
    Suppression,
    TrackingEvent,
)
from contacts.models import Consent, Topic
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory


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


class SignupFormFactory(DjangoModelFactory):
    """A double opt-in form asking name, email, phone and company; new contacts go to `owner`."""

    class Meta:
        model = SignupForm

    name = factory.Sequence(lambda n: f"Formulario {n}")
    slug = factory.Sequence(lambda n: f"boletin-{n}")
    title = "Recibe nuestras ofertas"
    intro = "Precios especiales cada mes."
    fields = factory.LazyFunction(
        lambda: [
            {"name": "first_name", "required": True, "label": "Tu nombre"},
            {"name": "last_name", "required": False, "label": ""},
            {"name": "email", "required": True, "label": ""},
            {"name": "phone", "required": False, "label": ""},
            {"name": "company", "required": False, "label": ""},
            {"name": "city", "required": False, "label": ""},
        ]
    )
    consent_text = "Acepto recibir correos con ofertas y novedades."
    consent_version = "ofertas-2026-01"
    double_opt_in = True
    thank_you = "¡Gracias por suscribirte!"
    owner = factory.SubFactory(UserFactory, role=Role.VENDEDOR)
    created_by = factory.SubFactory(UserFactory, role=Role.MARKETING)


def sent_campaign(**kwargs) -> Campaign:
    """A campaign sent ten days ago (the results tests' starting point)."""
    ten_days_ago = timezone.now() - timedelta(days=10)
    kwargs.setdefault("status", Campaign.Status.SENT)
    kwargs.setdefault("started_at", ten_days_ago)
    kwargs.setdefault("materialized_at", ten_days_ago)
    return CampaignFactory(**kwargs)


def won(account, *, at, amount="1000.00", currency="MXN"):
    """A deal won at `account` on `at` (a campaign's conversion when inside its window)."""
    from opportunities.tests.factories import OpportunityFactory, stage

    return OpportunityFactory(
        account=account,
        stage=stage("Ganada"),
        closed_at=at,
        amount=Decimal(amount),
        currency=currency,
    )


def send_over_smtp(*, campaign, user, sink, settings, capture) -> None:
    """Start `campaign` and send its whole ledger in this process, over SMTP to `sink` (the
    `capture` of django_capture_on_commit_callbacks keeps the tasks from being queued)."""
    from django.core.mail import get_connection

    from campaigns.services import batches, recipients, sending

    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    connection = get_connection(
        settings.CAMPAIGN_EMAIL_BACKEND, host="127.0.0.1", port=sink.port, timeout=5
    )
    with capture(execute=False):
        sending.campaign_send_now(campaign=campaign, user=user)
        recipients.campaign_materialize(campaign_id=campaign.pk)
    batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)


class AutomationFactory(DjangoModelFactory):
    """A birthday automation (no topic) with one step, unless told otherwise."""

    class Meta:
        model = "campaigns.Automation"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Automatización {n}")
    kind = "cumpleanos"
    send_hour = 9
    created_by = factory.SubFactory(UserFactory, role=Role.MARKETING)

    @factory.post_generation
    def step(self, create, extracted, **kwargs):
        # One step on the day unless `step=False`.
        if create and extracted is not False:
            AutomationStepFactory(automation=self, order=1)


class AutomationStepFactory(DjangoModelFactory):
    class Meta:
        model = "campaigns.AutomationStep"

    automation = factory.SubFactory(AutomationFactory, step=False)
    order = 1
    subject = '¡Felicidades, {{ nombre|default:"cliente" }}!'
    html_body = factory.LazyFunction(lambda: content.sanitize_html(BODY))
    text_body = factory.LazyAttribute(lambda o: content.html_to_text(o.html_body))
