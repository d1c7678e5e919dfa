"""The accounts list's export: its filters, order and pages, human columns, scope per role."""

import datetime

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from crm.core.models import AuditEvent
from crm.core.tests.exports import csv_rows, xlsx_rows

pytestmark = pytest.mark.django_db
URL = reverse("accounts:account-export")


def test_csv_has_a_bom_spanish_headers_labels_and_formulas_neutralised(rep, client_for):
    AccountFactory(name='=HYPERLINK("http://mal.example","clic")', owner=rep, status="activo")
    response = client_for(rep).get(URL, {"formato": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="cuentas.csv"' in response["Content-Disposition"]
    head, row = csv_rows(response)
    assert head[:3] == ["Cuenta", "Razón social", "Identificador fiscal"]
    assert row[0] == '\'=HYPERLINK("http://mal.example","clic")'
    assert row[head.index("Situación")] == "Activo"  # the label, not the code
    assert row[head.index("Responsable")] == str(rep)


def test_xlsx_opens_with_text_neutralised_and_dates_as_dates(rep, client_for):
    AccountFactory(name="@SUM(1+1)", owner=rep, tags=["norte"])
    response = client_for(rep).get(URL, {"formato": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    head, row = xlsx_rows(response)
    assert head[0] == "Cuenta"
    assert row[0] == "'@SUM(1+1)"
    assert isinstance(row[head.index("Creada")], datetime.datetime)


def test_export_has_the_lists_filters_order_and_every_page(rep, client_for, settings):
    settings.PAGE_SIZE = 2
    for name in ("Cacao", "Aceros", "Botanas"):
        AccountFactory(name=name, owner=rep, status="activo")
    AccountFactory(name="Dulces", owner=rep, status="prospecto")
    rows = csv_rows(client_for(rep).get(URL, {"status": "activo", "sort": "-name", "page": 2}))
    assert [r[0] for r in rows[1:]] == ["Cacao", "Botanas", "Aceros"]


def test_a_rep_exports_only_their_portfolio_a_manager_their_teams(
    rep, manager, other_rep, admin_user, client_for
):
    AccountFactory(name="Mía", owner=rep)
    AccountFactory(name="Del gerente", owner=manager)
    AccountFactory(name="Ajena", owner=other_rep)
    # Everyone reads every account on screen, but exports only their own.
    assert "Ajena" in client_for(rep).get(reverse("accounts:account-list")).text

    def names(user):
        return sorted(r[0] for r in csv_rows(client_for(user).get(URL))[1:])

    assert names(rep) == ["Mía"]
    assert names(manager) == ["Del gerente", "Mía"]
    assert names(admin_user) == ["Ajena", "Del gerente", "Mía"]


def test_support_and_marketing_may_not_export_accounts(support, marketing, client_for):
    for user in (support, marketing):
        assert client_for(user).get(URL).status_code == 403
        page = client_for(user).get(reverse("accounts:account-list"))
        assert URL not in page.text  # no menu for them


def test_the_export_is_audited(rep, client_for):
    AccountFactory(owner=rep, status="activo")
    AccountFactory(owner=rep, status="activo")
    client_for(rep).get(URL, {"status": "activo", "formato": "xlsx", "page": "3"})
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == rep
    assert event.target == "list:accounts"
    assert event.detail == {
        "list": "accounts",
        "format": "xlsx",
        "rows": 2,
        "filters": {"status": "activo"},
    }


def test_unknown_format_is_not_found(rep, client_for):
    assert client_for(rep).get(URL, {"formato": "pdf"}).status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_queries_do_not_grow_with_rows(rep, client_for, django_assert_max_num_queries, fmt):
    client = client_for(rep)
    AccountFactory.create_batch(3, owner=rep, tags=["a"])
    with django_assert_max_num_queries(10) as few:
        csv_rows(client.get(URL, {"formato": fmt})) if fmt == "csv" else xlsx_rows(
            client.get(URL, {"formato": fmt})
        )
    AccountFactory.create_batch(57, owner=rep, tags=["b"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, {"formato": fmt})
        rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    assert len(rows) == 61


def test_the_list_offers_the_export_with_its_filters(rep, client_for):
    page = client_for(rep).get(reverse("accounts:account-list"), {"status": "activo", "page": 2})
    assert f"{URL}?status=activo&amp;formato=csv" in page.text
    assert f"{URL}?status=activo&amp;formato=xlsx" in page.text
    partial = client_for(rep).get(
        reverse("accounts:account-list"), {"q": "acero"}, headers={"HX-Request": "true"}
    )
    assert f"{URL}?q=acero&amp;formato=xlsx" in partial.text  # follows the live filters


def test_a_nul_byte_in_a_filter_is_recorded_without_it(rep, client_for):
    # PostgreSQL's jsonb refuses NUL: the audit record of the export must still be written.
    AccountFactory(owner=rep, name="Aceros del Norte")
    response = client_for(rep).get(reverse("accounts:account-export"), {"q": "Ace\x00ros"})
    assert response.status_code == 200
    assert AuditEvent.objects.get(action="export").detail["filters"] == {"q": "Aceros"}
