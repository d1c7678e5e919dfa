"""The ticket list's text filter: each word in the ticket's own text (number and subject), its
account's or its contact's, read where each is kept current, so that a renamed customer is
found by its new name at once and no longer by the old one. And migration 0006, which leaves
the existing tickets with their own words only."""

import importlib
import types

import django.apps
import pytest
from django.db import connection
from django.urls import reverse

from accounts.services import account_update
from accounts.tests.factories import AccountFactory
from contacts.services import contact_update
from contacts.tests.factories import ContactFactory
from crm.core.text import search_text
from support.models import Ticket
from support.selectors import tickets as selectors
from support.services import tickets as services
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("support.migrations.0006_ticket_search_text_own_fields")


@pytest.fixture
def account(rep):
    # A legal name of its own: the account's search_text holds it too.
    return AccountFactory(
        owner=rep, name="Papelería La Pluma", legal_name="Comercial Gráfica S.A. de C.V."
    )


@pytest.fixture
def contact(account, rep):
    return ContactFactory(
        account=account,
        owner=rep,
        first_name="Inés",
        last_name="Ramírez",
        email="compras@correo.com.mx",
    )


@pytest.fixture
def ticket(support, account, contact) -> Ticket:
    return services.ticket_create(
        actor=support,
        account=account,
        contact=contact,
        subject="Impresora atascada",
        category=Ticket.Category.INCIDENT,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )


@pytest.fixture
def found(support):
    def search(text: str) -> set[int]:
        rows = selectors.ticket_list(user=support, queue="all", filters={"text": text})
        return {row.pk for row in rows}

    return search


def test_the_ticket_keeps_only_its_own_words(ticket):
    assert ticket.search_text == f"{ticket.number.lower()} impresora atascada"


def test_renaming_the_account_finds_its_tickets_by_the_new_name_only(rep, account, ticket, found):
    assert found("pluma") == {ticket.pk}
    account_update(actor=rep, account=account, data={"name": "Papelería El Tintero"})
    assert found("tintero") == {ticket.pk}
    assert found("Papelería  TINTERO") == {ticket.pk}
    assert found("pluma") == set()


def test_renaming_the_contact_finds_its_tickets_by_the_new_last_name_only(
    rep, contact, ticket, found
):
    assert found("ramirez") == {ticket.pk}
    contact_update(actor=rep, contact=contact, data={"last_name": "Zúñiga"})
    assert found("zuniga") == {ticket.pk}
    assert found("Inés Zúñiga") == {ticket.pk}
    assert found("ramirez") == set()


def test_every_word_must_match_each_in_any_of_the_three(ticket, found):
    assert found("pluma atascada") == {ticket.pk}  # the account and the subject
    assert found("ramírez impresora") == {ticket.pk}  # the contact and the subject
    assert found("pluma ines") == {ticket.pk}  # the account and the contact
    assert found("grafica") == {ticket.pk}  # the account's legal name
    assert found("tornillo") == set()
    assert found("pluma tornillo") == set()
    assert found("atascada tornillo") == set()


def test_the_number_still_finds_the_ticket(ticket, found):
    assert found(ticket.number) == {ticket.pk}
    assert found(ticket.number.split("-")[-1]) == {ticket.pk}


def test_a_customers_name_finds_only_that_customers_tickets(support, rep, ticket, found):
    other = AccountFactory(owner=rep, name="Tlapalería El Tornillo")
    without_contact = services.ticket_create(
        actor=support,
        account=other,
        subject="Pedido incompleto",
        category=Ticket.Category.CLAIM,
        channel=Ticket.Channel.EMAIL,
        priority="baja",
    )
    assert found("tornillo") == {without_contact.pk}
    assert found("pedido") == {without_contact.pk}
    assert found("pluma") == {ticket.pk}
    assert found("tornillo impresora") == set()


def test_the_filtered_list_is_one_query(support, rep, account, django_assert_num_queries):
    for _ in range(5):
        TicketFactory(
            account=AccountFactory(owner=rep, name="Papelería Central"),
            search_text="no funciona el pedido",
        )
    with django_assert_num_queries(1):
        rows = list(
            selectors.ticket_list(user=support, queue="all", filters={"text": "papeleria pedido"})
        )
    assert len(rows) == 5


def test_the_page_filtered_by_a_customers_name_reads_few_rows(
    client_for, support, rep, django_assert_max_num_queries
):
    def tickets(n: int) -> None:
        for _ in range(n):
            account = AccountFactory(owner=rep, name="Papelería Central")
            TicketFactory(account=account, contact=ContactFactory(account=account, owner=rep))

    client = client_for(support)
    url = reverse("support:ticket-list") + "?queue=all&q=papeleria"
    tickets(2)
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    tickets(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    page = response.context["page_obj"]
    assert len(page) == 25 and page.has_next  # 32 found by the account's name


# Migration 0006 ---------------------------------------------------------------------------


def _migrate() -> None:
    migration.rewrite(django.apps.apps, types.SimpleNamespace(connection=connection))


def test_the_migration_rewrites_an_old_style_row(ticket):
    old = f"{ticket.number.lower()} impresora atascada papeleria la pluma ines ramirez"
    Ticket.objects.filter(pk=ticket.pk).update(search_text=old, subject="Impresora  ATASCADA ")
    _migrate()
    ticket.refresh_from_db()
    assert ticket.search_text == f"{ticket.number.lower()} impresora atascada"
    _migrate()  # harmless to run again
    ticket.refresh_from_db()
    assert ticket.search_text == f"{ticket.number.lower()} impresora atascada"


def test_the_migration_writes_every_batch(monkeypatch):
    monkeypatch.setattr(migration, "BATCH", 2)
    tickets = [TicketFactory(subject=f"Línea {n} sin tono") for n in range(5)]
    Ticket.objects.update(search_text="cliente renombrado")
    _migrate()
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.search_text == search_text(ticket.number, ticket.subject)
