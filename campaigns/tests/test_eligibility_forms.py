"""The eligibility rule has two spellings: `eligible_q` (EXISTS, for filters: materialising
and the claim-time re-check) and `eligible_count_form` (LEFT JOINs and a hashed NOT IN, for the
segment counts). They must pick the same contacts in every case the rule knows."""

import pytest
from django.db.models import Count
from django.utils import timezone

from campaigns.eligibility import eligible_count_form, eligible_q
from campaigns.tests.factories import SuppressionFactory, TopicFactory, consenting_contact
from contacts.models import Consent, Contact
from contacts.services import consent_record
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

SOURCE = Consent.Source.UNSUBSCRIBE


def _withdraw(contact, topic=None):
    consent_record(contact=contact, action=Consent.Action.WITHDRAW, topic=topic, source=SOURCE)


@pytest.fixture
def cases():
    news, offers = TopicFactory(name="Novedades"), TopicFactory(name="Ofertas")
    people = {
        "grant": consenting_contact(),
        "no consent": ContactFactory(),
        "withdrew everything": consenting_contact(),
        "left offers": consenting_contact(),
        "left offers, came back": consenting_contact(),
        "suppressed": consenting_contact(),
        "archived": consenting_contact(),
        "no email": consenting_contact(email=""),
    }
    _withdraw(people["withdrew everything"])
    _withdraw(people["left offers"], offers)
    _withdraw(people["left offers, came back"], offers)
    consent_record(
        contact=people["left offers, came back"],
        action=Consent.Action.GRANT,
        topic=offers,
        source=SOURCE,
    )
    SuppressionFactory(email=people["suppressed"].email.lower())
    Contact.objects.filter(pk=people["archived"].pk).update(archived_at=timezone.now())
    return people, news, offers


@pytest.mark.parametrize("topic_name", [None, "Novedades", "Ofertas"])
def test_both_spellings_pick_the_same_contacts(cases, topic_name):
    people, news, offers = cases
    topic_id = {None: None, "Novedades": news.pk, "Ofertas": offers.pk}[topic_name]
    by_filter = set(Contact.objects.filter(eligible_q(topic_id)).values_list("pk", flat=True))
    aliases, q = eligible_count_form(topic_id)
    rows = (
        Contact.objects.alias(**aliases)
        .values("pk")
        .annotate(ok=Count("pk", filter=q))
        .values_list("pk", "ok")
    )
    by_count = {pk for pk, ok in rows if ok}
    assert by_filter == by_count
    expected = {"grant", "left offers, came back"}
    if topic_name != "Ofertas":
        expected.add("left offers")
    assert by_filter == {people[name].pk for name in expected}
