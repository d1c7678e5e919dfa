"""The contacts list's export: filters, scope per role (marketing exports every contact)."""

import pytest
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from crm.core.tests.exports import csv_rows, xlsx_rows

pytestmark = pytest.mark.django_db
URL = reverse("contacts:contact-export")


def _names(client, **params) -> list[str]:
    return sorted(r[0] for r in csv_rows(client.get(URL, params))[1:])


def test_csv_labels_filters_and_formulas(rep, client_for):
    ContactFactory(first_name="-cmd|calc", owner=rep, lifecycle="mql")
    ContactFactory(first_name="Lucía", owner=rep, lifecycle="lead")
    client = client_for(rep)
    head, *rows = csv_rows(client.get(URL))
    assert head[:2] == ["Nombre", "Apellidos"]
    assert sorted(r[0] for r in rows) == ["'-cmd|calc", "Lucía"]
    assert _names(client, lifecycle="lead") == ["Lucía"]
    mql = csv_rows(client.get(URL, {"lifecycle": "mql"}))[1]
    assert mql[head.index("Etapa")] == "MQL (calificado por marketing)"


def test_scope_per_role(rep, manager, other_rep, marketing, admin_user, support, client_for):
    ContactFactory(first_name="Mío", owner=rep)
    ContactFactory(first_name="Ajeno", owner=other_rep)
    assert _names(client_for(rep)) == ["Mío"]
    assert _names(client_for(manager)) == ["Mío"]
    assert _names(client_for(marketing)) == ["Ajeno", "Mío"]
    assert _names(client_for(admin_user)) == ["Ajeno", "Mío"]
    assert client_for(support).get(URL).status_code == 403


def test_xlsx_keeps_the_score_a_number(rep, client_for):
    ContactFactory(first_name="Ana", owner=rep, lead_score=42)
    head, row = xlsx_rows(client_for(rep).get(URL, {"formato": "xlsx"}))
    assert row[head.index("Puntuación")] == 42


def test_queries_do_not_grow_with_rows(rep, client_for, django_assert_max_num_queries):
    client = client_for(rep)
    ContactFactory.create_batch(3, owner=rep, tags=["x"])
    with django_assert_max_num_queries(10) as few:
        csv_rows(client.get(URL))
    ContactFactory.create_batch(57, owner=rep, tags=["y"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(csv_rows(client.get(URL))) == 61


def test_the_list_offers_the_export(rep, client_for):
    page = client_for(rep).get(reverse("contacts:contact-list"), {"lifecycle": "lead"})
    assert f"{URL}?lifecycle=lead&amp;formato=csv" in page.text
