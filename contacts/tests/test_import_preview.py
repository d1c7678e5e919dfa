"""The preview: every row new, update, duplicate (by email, phone digits; accounts by tax id or
name) or error with its reason in Spanish, and nothing written."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from contacts.imports.rows import DUPLICATE, ERROR, NEW, UPDATE, capitalise_name
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts.tests.imports import preview

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_errors_are_explained_in_spanish_naming_the_field(rep):
    result = preview("excel_cp1252_semicolon.csv", actor=rep, consent_basis="consentimiento")
    bad = result.rows[2]
    assert bad.status == ERROR
    text = bad.reason_text
    assert "Correo electrónico:" in text and "válida" in text
    assert "«55 1234» no es un número de teléfono válido" in text
    assert "El dígito verificador de «MAB9307148T5» no es correcto" in text
    assert "«Prospecto raro» no es una de las opciones" in text
    assert [row.status for row in result.rows] == [NEW, NEW, ERROR, NEW]
    assert result.counts_line == "creados 3, actualizados 0, duplicados 0, errores 1"
    assert not Contact.objects.exists()  # the preview writes nothing


def test_phones_are_read_in_the_country_the_user_picks(rep):
    data = _csv("Nombre,Móvil", "Ana,612 345 678")
    assert preview("a.csv", actor=rep, data=data, country="ES").rows[0].values["mobile"] == (
        "+34612345678"
    )
    assert preview("a.csv", actor=rep, data=data, country="MX").rows[0].status == ERROR


def test_a_formula_like_cell_is_kept_as_text(rep):
    row = preview("excel_cp1252_semicolon.csv", actor=rep, consent_basis="contrato").rows[3]
    assert row.status == NEW
    assert row.values["first_name"] == '=HYPERLINK("http://x")'


def test_names_are_capitalised_only_when_the_whole_file_is_in_capitals(rep):
    shouting = _csv("Nombre,Apellidos", "JOSÉ,DE LA PEÑA", "MARÍA,LÓPEZ-GARZA")
    rows = preview("a.csv", actor=rep, data=shouting).rows
    assert [(r.values["first_name"], r.values["last_name"]) for r in rows] == [
        ("José", "De la Peña"),
        ("María", "López-Garza"),
    ]
    mixed = _csv("Nombre,Apellidos", "JOSÉ,DE LA PEÑA", "Ana,McArthur")
    rows = preview("a.csv", actor=rep, data=mixed).rows
    assert rows[0].values["last_name"] == "DE LA PEÑA"
    assert rows[1].values["last_name"] == "McArthur"
    assert capitalise_name("DE LA FUENTE") == "De la Fuente"


def test_duplicate_by_email_whatever_its_case(rep):
    existing = ContactFactory(owner=rep, email="ana@ejemplo.mx")
    rows = preview("a.csv", actor=rep, data=_csv("Nombre,Correo", "Ana,ANA@Ejemplo.MX")).rows
    assert rows[0].status == DUPLICATE
    assert (rows[0].match_id, rows[0].match_rule) == (existing.pk, "email")
    assert f"#{existing.pk}" in rows[0].reason_text


def test_duplicate_by_phone_digits_whatever_the_format(rep):
    existing = ContactFactory(owner=rep, email="otro@ejemplo.mx", mobile="+525512345678")
    rows = preview("a.csv", actor=rep, data=_csv("Nombre,Teléfono", "Ana,(55) 1234-5678")).rows
    assert (rows[0].status, rows[0].match_id, rows[0].match_rule) == (
        DUPLICATE,
        existing.pk,
        "teléfono",
    )


def test_a_row_repeating_an_earlier_row_of_the_file(rep):
    rows = preview(
        "a.csv", actor=rep, data=_csv("Nombre,Correo", "Ana,a@x.mx", "Ana B,A@X.MX")
    ).rows
    assert [r.status for r in rows] == [NEW, DUPLICATE]
    assert rows[1].duplicate_of_line == 2


def test_the_duplicate_policy_update_create_skip(rep, other_rep):
    mine = ContactFactory(owner=rep, first_name="Ana", email="ana@x.mx", job_title="Compras")
    same = ContactFactory(
        owner=rep, first_name="Luis", email="luis@x.mx", job_title="Ventas", mobile="+525512340000"
    )
    theirs = ContactFactory(owner=other_rep, email="eva@x.mx")
    data = _csv(
        "Nombre,Correo,Puesto,Móvil",
        "Ana,ana@x.mx,Dirección,",
        "Luis,luis@x.mx,Ventas,",
        "Eva,eva@x.mx,Gerente,",
        "Luis,otro@x.mx,,55 1234 0000",
    )
    rows = preview("a.csv", actor=rep, data=data, duplicates="update").rows
    assert rows[0].status == UPDATE
    assert rows[0].changes == {"job_title": ("Compras", "Dirección")}
    assert rows[1].status == DUPLICATE and "sin cambios" in rows[1].reason_text
    assert rows[2].status == ERROR and "no puedes modificar" in rows[2].reason_text
    assert rows[3].status == UPDATE  # same phone as Luis
    assert rows[3].match_id == same.pk
    rows = preview("a.csv", actor=rep, data=data, duplicates="create").rows
    # Another contact may share a phone, never an email.
    assert [r.status for r in rows] == [DUPLICATE, DUPLICATE, DUPLICATE, NEW]
    assert {mine.pk, theirs.pk} <= {r.match_id for r in rows}


def test_accounts_by_tax_id_or_name_and_created_only_if_asked(rep):
    acme = AccountFactory(owner=rep, name="Acme", tax_id="MAB9307148T4")
    data = _csv(
        "Nombre,Empresa,RFC",
        "Ana,Otro nombre,MAB 930714 8T4",
        "Luis,ACME,",
        "Eva,Nueva SA,",
        "Pía,,GODE561231GR8",
    )
    rows = preview("a.csv", actor=rep, data=data).rows
    assert [r.account_id for r in rows[:2]] == [acme.pk, acme.pk]
    assert rows[2].account_id is None and "no existe" in rows[2].warnings[0]
    assert rows[2].status == NEW
    result = preview("a.csv", actor=rep, data=data, create_accounts=True)
    assert result.rows[2].account_new[1] == "Nueva SA"
    assert result.rows[3].status == ERROR and "falta su nombre" in result.rows[3].reason_text
    assert result.accounts_to_create == 1
    assert Account.objects.count() == 1


def test_a_consent_column_needs_a_legal_basis(rep):
    with pytest.raises(ValidationError, match="base legal"):
        preview("excel_cp1252_semicolon.csv", actor=rep)
    rows = preview("excel_cp1252_semicolon.csv", actor=rep, consent_basis="consentimiento").rows
    assert [r.consent for r in rows] == ["grant", "withdraw", "grant", ""]


def test_google_phone_types_choose_mobile_or_phone(rep):
    rows = preview("google_contacts.csv", actor=rep).rows
    ana, luis = rows
    assert ana.values["mobile"] == "+525523456789"
    assert ana.values["phone"] == "+525587654321"
    assert "ana@casa.mx" in ana.values["notes"]
    assert luis.values["phone"] == "+528112345678" and "mobile" not in luis.values


def test_a_birthday_without_its_year_goes_to_the_notes_and_keeps_the_contact(rep):
    data = _csv(
        "Nombre,Cumpleaños",
        "Ana,--0517",  # vCard 3/4
        "Beto,--05-17",
        "Carla,1604-02-29",  # an iPhone's "no year"
        "Dora,1990-05-17",
        "Eva,--1345",  # no such day
    )
    rows = preview("a.csv", actor=rep, data=data).rows
    assert [row.status for row in rows] == [NEW, NEW, NEW, NEW, ERROR]
    assert "birthday" not in rows[0].values
    assert rows[0].values["notes"] == "Cumpleaños (sin año): 17/05"
    assert rows[0].warnings == ["Cumpleaños sin año (17/05): se guarda en las notas."]
    assert rows[1].values["notes"] == "Cumpleaños (sin año): 17/05"
    assert rows[2].values["notes"] == "Cumpleaños (sin año): 29/02"
    assert str(rows[3].values["birthday"]) == "1990-05-17" and not rows[3].warnings
    assert "Cumpleaños: «--1345» no es una fecha" in rows[4].reason_text
