"""Reading the files people have: CSV (UTF-8 with BOM, Windows-1252 with ";"), the exports of
Google Contacts and Outlook, XLSX, and vCard 2.1, 3.0 and 4.0 as phones write them."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook

from contacts.imports.readers import VCARD_HEADER, read_table
from contacts.tests.imports import table_of


def _rows(table):
    return [dict(zip(table.header, row, strict=True)) for row in table.rows()]


def test_a_windows_1252_csv_with_semicolons_keeps_its_accents():
    table = table_of("excel_cp1252_semicolon.csv")
    assert table.kind == "csv"
    assert table.delimiter == ";"
    assert table.header[2] == "Correo electrónico"
    rows = _rows(table)
    assert rows[0]["Apellidos"] == "Peña Muñoz"
    assert rows[0]["Empresa"] == "Ferretería Núñez"
    assert rows[2]["Nombre"] == "Íñigo"


def test_a_utf8_csv_with_a_bom_has_a_clean_first_column():
    table = table_of("utf8_bom_comma.csv")
    assert table.delimiter == ","
    assert table.header[0] == "First Name"  # no "\ufeff" glued to it
    assert _rows(table)[0]["Last Name"] == "Fernández"


def test_a_csv_with_ragged_rows_and_blank_lines_is_padded_and_skipped():
    data = "Nombre,Apellidos,Correo\nAna,López\n\n,,\nLuis,Paz,luis@x.mx,extra\n".encode()
    assert list(read_table("a.csv", data).rows()) == [
        ["Ana", "López", ""],
        ["Luis", "Paz", "luis@x.mx"],
    ]


def test_an_empty_file_is_refused_in_spanish():
    with pytest.raises(ValidationError, match="vacío"):
        read_table("a.csv", b"  \n")


def test_an_xlsx_reads_the_first_sheet_as_text_with_iso_dates_and_formulas_as_text():
    book = Workbook()
    sheet = book.active
    sheet.append(["Nombre", "Apellidos", "Teléfono", "Cumpleaños", "Notas"])
    sheet.append(["Ana", "Núñez", 5512345678, dt.datetime(1990, 7, 15), "=1+1"])
    sheet.append([None, None, None, None, None])
    book.create_sheet("Otra").append(["no", "se", "lee"])
    buffer = io.BytesIO()
    book.save(buffer)
    table = read_table("libro.xlsx", buffer.getvalue())
    assert table.kind == "xlsx"
    assert table.header == ["Nombre", "Apellidos", "Teléfono", "Cumpleaños", "Notas"]
    assert list(table.rows()) == [["Ana", "Núñez", "5512345678", "1990-07-15", "=1+1"]]


def test_a_vcard_21_export_with_quoted_printable_names_and_several_numbers():
    table = table_of("phone_export_v21.vcf")
    assert table.kind == "vcard"
    assert table.header == VCARD_HEADER
    jose, maria, raul = _rows(table)
    # Quoted-printable, UTF-8, folded with a soft line break in FN.
    assert (jose["Nombre"], jose["Apellidos"]) == ("José", "Pérez Martínez")
    assert jose["Nombre completo"] == "José Pérez Martínez"
    # The preferred email first; the cell phone as mobile, the others as phones.
    assert jose["Correo electrónico"] == "jperez@acme.mx"
    assert jose["Correo electrónico 2"] == "jose.perez@casa.mx"
    assert jose["Teléfono móvil"] == "+52 55 1111 2222"
    assert (jose["Teléfono"], jose["Teléfono 2"]) == ("55 3333 4444", "55 5555 6666")
    assert (jose["Empresa"], jose["Puesto"]) == ("Acme Servicios", "Director comercial")
    assert jose["Cumpleaños"] == "1980-05-17"
    assert jose["Error de lectura"] == ""  # the photo is ignored, not an error
    assert (maria["Nombre"], maria["Apellidos"], maria["Teléfono"]) == (
        "María",
        "Peña",
        "33 1234 9876",
    )
    assert raul["Teléfono móvil"] == "no tiene"


def test_vcard_30_and_40_types_and_tel_uris():
    carlos = _rows(table_of("contacts_v30.vcf"))[0]
    assert carlos["Teléfono móvil"] == "612 000 999"
    assert carlos["Teléfono"] == "+34 913 000 000"
    assert carlos["Correo electrónico"] == "carlos.ruiz@ejemplo.es"
    assert carlos["Empresa"] == "Construcciones Ruiz"
    lucia = _rows(table_of("contacts_v40.vcf"))[0]
    assert lucia["Teléfono móvil"] == "+34-622-345-678"
    assert lucia["Teléfono"] == "+34-914-345-678"
    assert lucia["Cumpleaños"] == "19850302"


def test_a_broken_card_is_one_error_row_and_the_others_are_read():
    data = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Uno;Ana\r\nFN:Ana Uno\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Tres;Eva\r\nNOTE;ENCODING=b:abc\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Dos;Luis\r\nFN:Luis Dos\r\nEND:VCARD\r\n"
    )
    rows = _rows(read_table("x.vcf", data))
    assert [r["Nombre"] for r in rows] == ["Ana", "", "Luis"]
    assert rows[1]["Error de lectura"].startswith("Tarjeta vCard ilegible")
