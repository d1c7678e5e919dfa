"""Column mapping: suggested from the header (Spanish, English, Google, Outlook), saved by name."""

import pytest
from django.core.exceptions import ValidationError

from contacts.imports.mapping import clean_mapping, mapping_for, mapping_save, suggest
from contacts.imports.models import ImportMapping
from contacts.tests.imports import table_of


def test_spanish_headers_are_recognised_whatever_the_accents_and_case():
    assert suggest(["NOMBRE", "apellidos", "Correo electrónico", "Teléfono móvil", "CORREO"]) == {
        "NOMBRE": "first_name",
        "apellidos": "last_name",
        "Correo electrónico": "email",
        "Teléfono móvil": "mobile",
    }  # the second email column is not taken: one column per field


def test_google_contacts_export():
    mapping = suggest(table_of("google_contacts.csv").header)
    assert mapping["Given Name"] == "first_name"
    assert mapping["Family Name"] == "last_name"
    assert mapping["E-mail 1 - Value"] == "email"
    assert mapping["Phone 1 - Value"] == mapping["Phone 2 - Value"] == "phone_by_type"
    assert mapping["Organization 1 - Name"] == "account_name"
    assert "Phone 1 - Type" not in mapping


def test_outlook_export():
    mapping = suggest(table_of("outlook_contacts.csv").header)
    assert mapping["First Name"] == "first_name"
    assert mapping["Last Name"] == "last_name"
    assert mapping["E-mail Address"] == "email"
    assert mapping["Mobile Phone"] == "mobile"
    assert mapping["Business Phone"] == "phone"
    assert mapping["Company"] == "account_name"
    assert mapping["Job Title"] == "job_title"
    assert "Title" not in mapping  # Outlook's "Title" is "Sr."/"Dra.", not a job


def test_a_mapping_needs_a_name_and_one_column_per_field():
    header = ["Correo", "Mail"]
    with pytest.raises(ValidationError, match="nombre"):
        clean_mapping({"Correo": "email"}, header)
    with pytest.raises(ValidationError, match="una sola columna"):
        clean_mapping({"Correo": "email", "Mail": "email", "x": "first_name"}, [*header, "x"])


def test_a_saved_mapping_is_reused_by_name_and_completed_by_suggestions(rep):
    mapping_save(owner=rep, name="CRM viejo", columns={"Alias": "first_name", "Correo": "email"})
    mapping_save(owner=rep, name="CRM viejo", columns={"Alias": "first_name", "Correo": "notes"})
    assert ImportMapping.objects.filter(owner=rep).count() == 1
    header = ["Alias", "Correo", "Apellidos", "Columna rara"]
    assert mapping_for(header, name="CRM viejo", owner=rep) == {
        "Alias": "first_name",
        "Correo": "notes",
        "Apellidos": "last_name",
    }
    with pytest.raises(ValidationError, match="No hay una asignación"):
        mapping_for(header, name="otro", owner=rep)
