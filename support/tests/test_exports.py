"""The tickets list's export: its queue and filters, scope per role, constant queries."""

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from crm.core.tests.exports import csv_rows, xlsx_rows
from support.models import Ticket
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db
URL = reverse("support:ticket-export")


def _subjects(client, **params) -> list[str]:
    return sorted(r[1] for r in csv_rows(client.get(URL, params))[1:])


def test_support_exports_every_ticket_with_labels_and_filters(support, rep, client_for):
    TicketFactory(subject="=Roto", account=AccountFactory(owner=rep), priority="alta")
    TicketFactory(subject="Lento", priority="baja")
    TicketFactory(subject="Cerrada", status=Ticket.Status.CLOSED, resolution="Repuesto")
    client = client_for(support)
    head, *rows = csv_rows(client.get(URL))
    assert head[:4] == ["Número", "Asunto", "Cuenta", "Contacto"]
    assert sorted(r[1] for r in rows) == ["'=Roto", "Lento"]  # the open ones, as the list
    assert _subjects(client, priority="alta") == ["'=Roto"]
    assert _subjects(client, queue="all") == ["'=Roto", "Cerrada", "Lento"]
    row = next(r for r in rows if r[1] == "'=Roto")
    assert row[head.index("Prioridad")] == "Alta"


def test_scope_per_role(rep, manager, other_rep, support, marketing, client_for):
    TicketFactory(subject="De mi cliente", account=AccountFactory(owner=rep))
    TicketFactory(subject="De otro", account=AccountFactory(owner=other_rep))
    assert _subjects(client_for(rep)) == ["De mi cliente"]
    assert _subjects(client_for(manager)) == ["De mi cliente"]
    assert _subjects(client_for(support)) == ["De mi cliente", "De otro"]
    assert client_for(marketing).get(URL).status_code == 403


def test_xlsx_opens(support, client_for):
    TicketFactory(subject="+Urgente")
    head, row = xlsx_rows(client_for(support).get(URL, {"formato": "xlsx"}))
    assert row[head.index("Asunto")] == "'+Urgente"


def test_queries_do_not_grow_with_rows(support, client_for, django_assert_max_num_queries):
    client = client_for(support)
    TicketFactory.create_batch(3)
    with django_assert_max_num_queries(12) as few:
        csv_rows(client.get(URL))
    TicketFactory.create_batch(57)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(csv_rows(client.get(URL))) == 61


def test_the_list_offers_the_export(support, client_for):
    page = client_for(support).get(reverse("support:ticket-list"), {"queue": "all"})
    assert f"{URL}?queue=all&amp;formato=csv" in page.text
