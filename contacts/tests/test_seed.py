"""The demo contacts look like real people at the demo accounts: unique lower-case e-mail
addresses (also when seeded again), valid phones, search text, every account with someone to
talk to and some contacts with no account; tags; and a consent ledger that keeps its order."""

from io import StringIO

import pytest
from django.db.models import Count
from django.db.models.functions import Lower
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.seed import seed_accounts
from contacts.models import Consent, ConsentLatest, Contact
from contacts.seed import (
    contact_rows,
    contact_rows_existing,
    seed_consents,
    seed_contact_tags,
    seed_contacts,
)
from crm.core.seeding import Demo
from crm.core.tests.seeding import is_e164
from crm.core.text import digits, fold

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(demo, owners) -> list[Contact]:
    accounts = seed_accounts(demo, count=40, owners=owners)
    return seed_contacts(demo, accounts, count=200, owners=owners)


def test_contacts_are_realistic(contacts, demo):
    assert "contactos: 200" in demo.stdout.getvalue()
    contacts = list(Contact.objects.all())
    assert len(contacts) == 200
    emails = [c.email for c in contacts if c.email]
    assert len(emails) > 180
    assert all(email == email.lower() for email in emails)
    assert len(set(emails)) == len(emails)
    for contact in contacts:
        assert contact.search_text
        assert fold(contact.first_name) in contact.search_text
        for number in (contact.phone, contact.mobile):
            if number:
                assert is_e164(number)
        assert contact.mobile_digits == digits(contact.mobile)
        assert 0 <= contact.lead_score <= 100
        if contact.account_id:
            assert contact.created_at >= contact.account.created_at
    assert any(c.account_id is None for c in contacts)
    assert Account.objects.filter(contacts__isnull=True).count() == 0
    assert len({c.lifecycle for c in contacts}) >= 4


def test_seeding_again_keeps_emails_unique(contacts, owners):
    demo = Demo(seed=42, stdout=StringIO())  # the same draws: the same names
    seed_contacts(demo, seed_accounts(demo, count=10, owners=owners), count=50, owners=owners)
    assert Contact.objects.count() == 250
    assert (
        not Contact.objects.exclude(email="")
        .values(e=Lower("email"))
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )


def test_tags_and_consent_ledger(contacts, demo):
    assert seed_contact_tags(demo, contacts) == (
        TaggedItem.objects.filter(content_type__model="contact").count()
    )
    assert Contact.objects.filter(tags__isnull=False).exists()
    assert seed_consents(demo, contacts) == Consent.objects.count()
    assert Consent.objects.filter(action=Consent.Action.GRANT).count() > 50
    for withdrawal in Consent.objects.filter(action=Consent.Action.WITHDRAW):
        grant = Consent.objects.get(
            contact=withdrawal.contact, channel=withdrawal.channel, action=Consent.Action.GRANT
        )
        assert grant.at <= withdrawal.at
    latest = ConsentLatest.objects.select_related("entry")
    assert latest.count() == Consent.objects.values("contact", "channel").distinct().count()
    for row in latest:
        newer = Consent.objects.filter(
            contact=row.contact_id, channel=row.channel, at__gt=row.entry.at
        )
        assert not newer.exists()


def test_the_rows_from_the_database_are_the_rows_just_built(contacts):
    assert contact_rows_existing() == contact_rows(contacts)
