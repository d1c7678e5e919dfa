"""The exporter's cells (formulas neutralised, numbers and dates kept) and who exports what."""

import datetime
import io
import zoneinfo
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils import timezone
from openpyxl import load_workbook

from crm.core.exports import csv_value, export_response, safe_cell, xlsx_value
from crm.core.models import Role
from crm.core.permissions import ALL, PORTFOLIO, export_scope, export_scope_q
from crm.core.tests.exports import csv_rows
from crm.core.tests.factories import UserFactory

DANGEROUS = [
    "=1+1",
    "-2+3+cmd|' /C calc'!A0",
    '+HYPERLINK("http://x","y")',
    "-x",
    "@SUM(A1)",
    "\tx",
    "\rx",
    '=HYPERLINK("http://x","y")',
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_text_that_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert safe_cell(text) == "'" + text
    assert csv_value(text) == "'" + text
    assert xlsx_value(text) == "'" + text


@pytest.mark.parametrize("text", ["+52 55 1234 5678", "+34 600", "-2", "-1500.75", "+(55) 1234"])
def test_a_number_or_a_phone_stays_readable(text):
    # Only digits, signs, spaces and brackets: a spreadsheet reads a number, which runs nothing.
    assert safe_cell(text) == text


def test_other_values_stay_as_they_are():
    assert safe_cell("Aceros = buenos") == "Aceros = buenos"
    assert safe_cell(-2) == -2
    assert xlsx_value(Decimal("-1500.50")) == Decimal("-1500.50")  # a number, not text
    assert xlsx_value(7) == 7
    assert xlsx_value(None) is None
    assert csv_value(None) == ""
    assert xlsx_value(True) == "sí"


def test_times_are_shown_in_the_users_time_zone():
    moment = datetime.datetime(2026, 3, 1, 18, 30, tzinfo=datetime.UTC)
    with timezone.override(zoneinfo.ZoneInfo("America/Mexico_City")):
        assert csv_value(moment) == "2026-03-01 12:30"
        assert xlsx_value(moment) == datetime.datetime(2026, 3, 1, 12, 30)
    assert xlsx_value(datetime.date(2026, 3, 1)) == datetime.date(2026, 3, 1)


def test_csv_response_has_a_bom_and_streams():
    request = RequestFactory().get("/")
    response = export_response(
        request, rows=iter([("=mal", 3)]), headers=["Nombre", "Número"], filename="x", fmt="csv"
    )
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert csv_rows(response) == [["Nombre", "Número"], ["'=mal", "3"]]


def test_xlsx_response_keeps_numbers_and_dates():
    request = RequestFactory().get("/")
    day = datetime.date(2026, 1, 31)
    response = export_response(
        request,
        rows=iter([("=mal", Decimal("12.50"), day)]),
        headers=["Nombre", "Importe", "Fecha"],
        filename="x",
        fmt="xlsx",
    )
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == ["Nombre", "Importe", "Fecha"]
    name, amount, date = sheet[2]
    assert name.value == "'=mal" and name.data_type == "s"  # text, not a formula
    assert amount.value == 12.5 and amount.data_type == "n"
    assert date.value.date() == day and date.is_date


ROLES = [Role.VENDEDOR, Role.GERENTE, Role.SOPORTE, Role.MARKETING, Role.ADMINISTRADOR]
EXPECTED = {
    "accounts": [PORTFOLIO, PORTFOLIO, None, None, ALL],
    "contacts": [PORTFOLIO, PORTFOLIO, None, ALL, ALL],
    "opportunities": [PORTFOLIO, PORTFOLIO, None, None, ALL],
    "activities": [PORTFOLIO, PORTFOLIO, None, None, ALL],
    "tickets": [PORTFOLIO, PORTFOLIO, ALL, None, ALL],
    "campaign_results": [None, ALL, None, ALL, ALL],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", EXPECTED)
def test_export_scope_per_list_and_role(name):
    for role, expected in zip(ROLES, EXPECTED[name], strict=True):
        assert export_scope(UserFactory(role=role), name) == expected, (name, role)
    assert export_scope(UserFactory(role=Role.VENDEDOR, is_active=False), name) is None
    assert export_scope(UserFactory(role=Role.VENDEDOR), "unknown") is None


@pytest.mark.django_db
def test_portfolio_is_the_owners_records_and_nothing_for_the_others(rep, manager, support):
    assert str(export_scope_q(rep, "accounts")) == str(export_scope_q(rep, "accounts", "owner"))
    assert "owner" in str(export_scope_q(rep, "accounts"))
    assert "team__manager" in str(export_scope_q(manager, "accounts"))
    assert "pk__in" in str(export_scope_q(support, "accounts"))


def test_xlsx_drops_the_control_characters_excel_refuses():
    assert xlsx_value("a\x00b\x1fc") == "abc"


def test_the_audit_keeps_a_clean_short_copy_of_the_filters():
    from django.http import QueryDict

    from crm.core.exports import AUDIT_VALUE_CHARS, filters_of

    params = QueryDict(mutable=True)
    params.setlist("q", ["a\x00b"])
    params.setlist("status", ["activo", "prospecto"])
    params.setlist("notes", ["x" * 100_000])
    params.setlist("page", ["3"])
    params.setlist("formato", ["xlsx"])
    assert filters_of(params) == {
        "q": "ab",
        "status": ["activo", "prospecto"],
        "notes": "x" * AUDIT_VALUE_CHARS,
    }
