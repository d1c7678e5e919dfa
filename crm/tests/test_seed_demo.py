"""The demo data must look like a real customer base: valid tax ids and phones, unique e-mails,
search text filled in, and a user for every role to log in with."""

from io import StringIO

import phonenumbers
import pytest
from django.core.management import call_command
from django.db.models import Count
from django.db.models.functions import Lower
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.validators import normalize_tax_id
from contacts.models import Consent, Contact
from crm.management.commands.seed_demo import DEMO_PASSWORD
from crm.models import Role, Team, User
from crm.text import digits, fold


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def _is_e164(number: str) -> bool:
    parsed = phonenumbers.parse(number, None)
    return phonenumbers.is_valid_number(parsed) and number == phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.E164
    )


@pytest.fixture
def seeded(db) -> str:
    return _seed(contacts=200)


@pytest.mark.django_db
def test_every_role_has_a_demo_user_with_the_printed_password(seeded):
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.role == Role.ADMINISTRADOR
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD), user.username
    for team in Team.objects.all():
        assert team.manager.role == Role.GERENTE
        assert team.members.filter(role=Role.VENDEDOR).exists()
    assert "vendedor1" in seeded and DEMO_PASSWORD in seeded


@pytest.mark.django_db
def test_accounts_are_realistic(seeded):
    accounts = list(Account.objects.all())
    assert len(accounts) == 40  # 20 % of the contacts
    assert {a.country for a in accounts} <= {"MX", "ES"}
    assert sum(1 for a in accounts if a.tax_id) > len(accounts) * 0.8
    for account in accounts:
        assert normalize_tax_id(account.tax_id, account.country) == account.tax_id
        if account.phone:
            assert _is_e164(account.phone)
            assert account.phone.startswith("+52" if account.country == "MX" else "+34")
            assert account.phone_digits == digits(account.phone)
        assert fold(account.name) in account.search_text
        assert account.city and account.region
        assert account.owner.role in (Role.VENDEDOR, Role.GERENTE)
    assert len({a.tier for a in accounts}) > 1


@pytest.mark.django_db
def test_contacts_are_realistic(seeded):
    contacts = list(Contact.objects.all())
    assert len(contacts) == 200
    emails = [c.email for c in contacts if c.email]
    assert len(emails) > 180
    assert all(email == email.lower() for email in emails)
    assert len(set(emails)) == len(emails)
    assert (
        not Contact.objects.exclude(email="")
        .values(e=Lower("email"))
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for contact in contacts:
        assert contact.search_text
        assert fold(contact.first_name) in contact.search_text
        for number in (contact.phone, contact.mobile):
            if number:
                assert _is_e164(number)
        assert contact.mobile_digits == digits(contact.mobile)
        assert 0 <= contact.lead_score <= 100
    assert any(c.account_id is None for c in contacts)
    assert Account.objects.filter(contacts__isnull=True).count() == 0
    assert len({c.lifecycle for c in contacts}) >= 4


@pytest.mark.django_db
def test_tags_and_consent_ledger(seeded):
    assert TaggedItem.objects.filter(content_type__model="account").exists()
    assert TaggedItem.objects.filter(content_type__model="contact").exists()
    assert Account.objects.filter(tags__isnull=False).exists()
    assert Contact.objects.filter(tags__isnull=False).exists()
    assert Consent.objects.filter(action=Consent.Action.GRANT).count() > 50
    for withdrawal in Consent.objects.filter(action=Consent.Action.WITHDRAW):
        grant = Consent.objects.get(
            contact=withdrawal.contact, channel=withdrawal.channel, action=Consent.Action.GRANT
        )
        assert grant.at <= withdrawal.at


@pytest.mark.django_db
def test_if_empty_adds_nothing_the_second_time(seeded):
    counts = (Account.objects.count(), Contact.objects.count(), User.objects.count())
    out = _seed(contacts=200, if_empty=True)
    assert (Account.objects.count(), Contact.objects.count(), User.objects.count()) == counts
    assert "no se cargan" in out


@pytest.mark.django_db
def test_running_again_without_if_empty_keeps_emails_and_tax_ids_unique(seeded):
    _seed(contacts=50, seed=42)  # the same seed would repeat names, e-mails and tax ids
    assert Contact.objects.count() == 250
    emails = list(Contact.objects.exclude(email="").values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    tax_ids = list(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
    assert len(set(tax_ids)) == len(tax_ids)
    assert User.objects.filter(username__startswith="vendedor").count() == 3
