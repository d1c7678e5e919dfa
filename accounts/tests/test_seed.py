"""The demo accounts look like real companies: valid tax ids and phones, search text filled in,
owned by the sales staff, unique tax ids even when seeded again, and the same rows for the apps
above whether they take them from the objects just built or from the database."""

from io import StringIO

import pytest
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.seed import account_rows, account_rows_existing, seed_account_tags, seed_accounts
from accounts.validators import normalize_tax_id
from crm.core.models import Role
from crm.core.seeding import Demo
from crm.core.tests.seeding import is_e164
from crm.core.text import digits, fold

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(demo, owners) -> list[Account]:
    return seed_accounts(demo, count=40, owners=owners)


def test_accounts_are_realistic(accounts, demo):
    assert "cuentas: 40" in demo.stdout.getvalue()
    accounts = list(Account.objects.all())
    assert len(accounts) == 40
    assert {a.country for a in accounts} <= {"MX", "ES"}
    assert sum(1 for a in accounts if a.tax_id) > len(accounts) * 0.8
    for account in accounts:
        assert normalize_tax_id(account.tax_id, account.country) == account.tax_id
        if account.phone:
            assert is_e164(account.phone)
            assert account.phone.startswith("+52" if account.country == "MX" else "+34")
            assert account.phone_digits == digits(account.phone)
        assert fold(account.name) in account.search_text
        assert account.city and account.region
        assert account.owner.role in (Role.VENDEDOR, Role.GERENTE)
        assert account.created_at <= account.updated_at <= demo.now
    assert len({a.tier for a in accounts}) > 1


def test_some_accounts_are_tagged(accounts, demo):
    assigned = seed_account_tags(demo, accounts)
    assert assigned == TaggedItem.objects.filter(content_type__model="account").count() > 0
    assert Account.objects.filter(tags__isnull=False).exists()


def test_seeding_again_keeps_tax_ids_unique(accounts, owners):
    seed_accounts(Demo(seed=42, stdout=StringIO()), count=40, owners=owners)  # the same draws
    tax_ids = list(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
    assert len(tax_ids) > 60 and len(set(tax_ids)) == len(tax_ids)


def test_the_rows_from_the_database_are_the_rows_just_built(accounts):
    assert account_rows_existing() == account_rows(accounts)
