"""What the apps' demo-data tests (<app>/tests/test_seed.py) share: the demo users as owners,
one draw with a fixed seed, and the check of a phone number as the seed writes them."""

from io import StringIO

import phonenumbers
import pytest

from crm.core.seed import portfolio_owners, seed_users
from crm.core.seeding import Demo


def is_e164(number: str) -> bool:
    """A valid number written in E.164 (+525512345678), as the seeds store phones."""
    parsed = phonenumbers.parse(number, None)
    return phonenumbers.is_valid_number(parsed) and number == phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.E164
    )


@pytest.fixture
def owners(db) -> list[int]:
    """The demo users who own a portfolio."""
    return portfolio_owners(seed_users())


@pytest.fixture
def demo() -> Demo:
    """One draw of demo data with a fixed seed (the same rows every run)."""
    return Demo(seed=42, stdout=StringIO())
