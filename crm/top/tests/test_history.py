"""The history panel's words for a relation: its name, none, or one removed since."""

import pytest

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.history import history_entries

pytestmark = pytest.mark.django_db


def _changes(contact) -> list[tuple[str, str, str]]:
    records = list(contact.history.order_by("-history_date", "-history_id"))
    entries = history_entries(records, limit=len(records))
    return [
        (str(change["field"]), change["old"], change["new"])
        for entry in entries
        for change in entry["changes"]
    ]


def test_a_relation_set_and_cleared_reads_as_its_name_and_a_dash():
    account = AccountFactory(name="Aceros del Norte")
    contact = ContactFactory(account=None)
    contact.account = account
    contact.save()
    contact.account = None
    contact.save()

    assert ("cuenta", "Aceros del Norte", "—") in _changes(contact)
    assert ("cuenta", "—", "Aceros del Norte") in _changes(contact)
    assert not any("pk=None" in old + new for _field, old, new in _changes(contact))


def test_a_relation_removed_since_says_so():
    contact = ContactFactory(account=None)
    contact.account = AccountFactory(name="Temporal")
    contact.save()
    contact.account = None
    contact.save()
    # The history keeps the account's id without a constraint: point it at a row that is gone.
    record = contact.history.order_by("-history_date", "-history_id")[1]
    type(record).objects.filter(pk=record.pk).update(account_id=999_999)

    assert ("cuenta", "Cuenta n.º 999999 (ya no existe)", "—") in _changes(contact)
