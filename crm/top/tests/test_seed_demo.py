"""`seed_demo` composes every app's demo data (each app's own seed is tested in its
tests/test_seed.py): the volumes by default and by option, `--if-empty`, `--only-sales` and
`--only-support` on the customers already there, the users it prints, and the data of one app
referring to the data of another as the application itself would have it."""

from datetime import UTC, datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from taggit.models import TaggedItem

from accounts.models import Account
from campaigns.models import Send
from contacts.models import Consent, Contact
from crm.core.models import User
from crm.core.seed import DEMO_PASSWORD
from crm.top.management.commands.seed_demo import seed_demo
from opportunities.models import (
    Activity,
    ExchangeRate,
    LineItem,
    Opportunity,
    Product,
    Quota,
    StageChange,
)
from opportunities.services.tiers import account_tiers_compute
from support.models import Survey, Ticket

pytestmark = pytest.mark.django_db


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded(db) -> str:
    return _seed(contacts=200)


SEEDED_MODELS = (
    Account,
    Contact,
    User,
    Opportunity,
    StageChange,
    LineItem,
    Activity,
    Quota,
    Product,
    ExchangeRate,
    Ticket,
)


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in SEEDED_MODELS)


def test_default_volumes_follow_the_contacts(seeded):
    assert Contact.objects.count() == 200
    assert Account.objects.count() == 40  # 20 % of the contacts
    assert Opportunity.objects.count() == 100  # half the contacts
    assert Activity.objects.count() == 600  # three per contact
    assert Ticket.objects.count() == 40  # one per five contacts
    summary = seeded.split("Listo")[-1]
    for what in ("cuentas", "contactos", "oportunidades", "actividades", "incidencias"):
        assert what in summary
    assert "encuestas" in summary and "campañas" in summary
    assert "clasificación" in seeded  # the tiers recomputed after the load


def test_the_demo_users_are_printed_with_their_password(seeded):
    for username in User.objects.values_list("username", flat=True):
        assert username in seeded
    assert "vendedor1" in seeded and DEMO_PASSWORD in seeded
    assert "Los administradores configuran la verificación en dos pasos" in seeded


def test_each_app_refers_to_the_data_of_the_others(seeded):
    for opp in Opportunity.objects.select_related("account", "contact"):
        assert opp.owner_id == opp.account.owner_id
        assert opp.contact is None or opp.contact.account_id == opp.account_id
    for activity in Activity.objects.filter(account__isnull=False).select_related("contact"):
        assert activity.contact is None or activity.contact.account_id == activity.account_id
    for ticket in Ticket.objects.select_related("contact"):
        assert ticket.contact is None or ticket.contact.account_id == ticket.account_id
    for survey in Survey.objects.select_related("contact"):
        assert survey.contact.email
    assert Send.objects.exists()
    for send in Send.objects.select_related("contact"):
        assert send.email == send.contact.email.lower()
    # The tiers were recomputed from the deals just seeded: nothing is left to change.
    assert account_tiers_compute()["changed"] == 0


def test_the_same_seed_gives_the_same_data(db):
    """What the benchmark relies on: one seed, one data set (with the clock held still)."""

    def snapshot() -> tuple:
        return (
            list(Account.objects.order_by("pk").values_list("name", "tax_id", "tier")),
            list(Contact.objects.order_by("pk").values_list("first_name", "email", "lifecycle")),
            list(Opportunity.objects.order_by("pk").values_list("name", "amount", "stage")),
            list(Activity.objects.order_by("pk").values_list("kind", "status", "done_at")),
            list(Ticket.objects.order_by("pk").values_list("number", "status", "priority")),
            list(Send.objects.order_by("pk").values_list("email", "status")),
        )

    now = datetime(2026, 3, 4, 17, 30, tzinfo=UTC)
    taken = []
    with mock.patch.object(timezone, "now", return_value=now):
        for _ in range(2):
            with transaction.atomic():
                seed_demo(contacts=100, stdout=StringIO())
                taken.append(snapshot())
                transaction.set_rollback(True)
    assert taken[0] == taken[1]
    assert all(taken[0])


def test_if_empty_adds_nothing_the_second_time(seeded):
    counts = _counts()
    out = _seed(contacts=200, if_empty=True)
    assert _counts() == counts
    assert "no se cargan" in out


def test_running_again_without_if_empty_keeps_emails_and_tax_ids_unique(seeded):
    _seed(contacts=50, seed=42)  # the same seed would repeat names, e-mails and tax ids
    assert Contact.objects.count() == 250
    emails = list(Contact.objects.exclude(email="").values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    tax_ids = list(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
    assert len(set(tax_ids)) == len(tax_ids)
    assert User.objects.filter(username__startswith="vendedor").count() == 3


def test_options_set_the_volumes(db):
    _seed(contacts=60, accounts=7, opportunities=7, activities=11, tickets=5)
    assert (Contact.objects.count(), Account.objects.count()) == (60, 7)
    assert (Opportunity.objects.count(), Activity.objects.count()) == (7, 11)
    assert Ticket.objects.count() == 5


def test_only_sales_adds_sales_data_to_existing_customers(db):
    _seed(contacts=120, opportunities=0, activities=0)
    customers = (Account.objects.count(), Contact.objects.count(), TaggedItem.objects.count())
    assert Opportunity.objects.count() == 0 and Quota.objects.exists()
    out = _seed(only_sales=True)
    assert (Account.objects.count(), Contact.objects.count(), TaggedItem.objects.count()) == (
        customers
    )
    assert Opportunity.objects.count() == 60 and Activity.objects.count() == 360
    assert "datos de ventas" in out
    assert Contact.objects.filter(last_contacted_at__isnull=False).exists()
    counts = _counts()
    out = _seed(only_sales=True, if_empty=True)
    assert _counts() == counts and "no se cargan" in out


def test_only_support_adds_tickets_to_existing_customers(db):
    _seed(contacts=100, opportunities=0, activities=0, tickets=0)
    assert not Ticket.objects.exists() and not Survey.objects.exists()
    customers = (Account.objects.count(), Contact.objects.count(), Consent.objects.count())
    out = _seed(only_support=True, tickets=30)
    assert (Account.objects.count(), Contact.objects.count(), Consent.objects.count()) == (
        customers
    )
    assert Ticket.objects.count() == 30 and "datos de soporte" in out
    assert "oportunidades" not in out.split("Listo")[-1]
    out = _seed(only_support=True, if_empty=True)
    assert Ticket.objects.count() == 30 and "no se cargan" in out
    _seed(only_support=True)  # the default: one per five contacts, numbered after the others
    assert Ticket.objects.count() == 50
    assert Ticket.objects.values("number").distinct().count() == 50


def test_only_sales_and_only_support_together_are_refused(db):
    with pytest.raises(CommandError):
        _seed(only_sales=True, only_support=True)
    with pytest.raises(CommandError):
        _seed(contacts=-1)
