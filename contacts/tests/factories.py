"""People at customer companies, and entries of their consent ledger."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import AccountFactory
from contacts.models import Consent, Contact, LeadSource, Lifecycle, ScoreRule
from contacts.services import consent_latest_advance
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from crm.core.text import fold


def _email(contact, n: int) -> str:
    local = ".".join(
        "".join(ch for ch in fold(part) if ch.isalnum())
        for part in (contact.first_name, contact.last_name)
    )
    return f"{local}.{n}@ejemplo.com.mx"


class ContactFactory(DjangoModelFactory):
    """A lead at an account of the same owner; `account=None` for a person on their own."""

    class Meta:
        model = Contact
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name", locale="es_MX")
    last_name = factory.Faker("last_name", locale="es_MX")
    email = factory.LazyAttributeSequence(_email)
    phone = factory.Sequence(lambda n: f"+5255{40000000 + n:08d}")
    mobile = factory.Sequence(lambda n: f"+5233{10000000 + n:08d}")
    job_title = factory.Faker("job", locale="es_MX")
    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory, owner=factory.SelfAttribute("..owner"))
    lifecycle = Lifecycle.LEAD
    lead_source = LeadSource.WEB
    lead_score = 10
    city = factory.Faker("city", locale="es_MX")
    region = factory.Faker("state", locale="es_MX")
    country = "MX"

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


class ConsentFactory(DjangoModelFactory):
    """A grant of email marketing consent through the web form, unless told otherwise."""

    class Meta:
        model = Consent

    contact = factory.SubFactory(ContactFactory)
    channel = Consent.Channel.EMAIL
    action = Consent.Action.GRANT
    at = factory.LazyFunction(timezone.now)
    source = Consent.Source.FORM
    legal_basis = Consent.LegalBasis.CONSENT
    text_version = "aviso-privacidad-v1"
    ip_address = factory.Faker("ipv4")
    user_agent = factory.Faker("user_agent")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As consent_record does: the projection of the latest entry follows the ledger.
        entry = super()._create(model_class, *args, **kwargs)
        consent_latest_advance(entry)
        return entry


class ScoreRuleFactory(DjangoModelFactory):
    """A profile rule (+20 for the construction sector) unless told otherwise; `behaviour()`
    gives a click rule."""

    class Meta:
        model = ScoreRule

    name = factory.Sequence(lambda n: f"Regla {n}")
    kind = ScoreRule.Kind.PROFILE
    field = ScoreRule.Field.INDUSTRY
    values = factory.LazyFunction(lambda: ["construccion"])
    points = 20
    created_by = factory.SubFactory(UserFactory, role=Role.MARKETING)

    @classmethod
    def behaviour(cls, event=ScoreRule.Event.CLICKED, points=10, half_life_days=30, **kwargs):
        return cls(
            kind=ScoreRule.Kind.BEHAVIOUR,
            field="",
            values=[],
            event=event,
            points=points,
            half_life_days=half_life_days,
            **kwargs,
        )
