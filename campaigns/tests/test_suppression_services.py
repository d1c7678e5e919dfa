"""The suppression list's writes: by hand, from a CSV, and removal, all audited."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.eligibility import eligible_contact_ids
from campaigns.models import Suppression
from campaigns.services import suppression as services
from campaigns.tests.factories import SuppressionFactory, TopicFactory, consenting_contact
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_suppress_lower_cases_and_is_idempotent(marketing):
    first = services.suppress(
        email="  Ana.Lopez@Ejemplo.COM.mx ", reason="manual", note="lo pidió", actor=marketing
    )
    again = services.suppress(email="ana.lopez@ejemplo.com.mx", reason="queja")
    assert first.pk == again.pk
    assert Suppression.objects.get().email == "ana.lopez@ejemplo.com.mx"
    assert Suppression.objects.get().reason == "manual"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT).count() == 1


@pytest.mark.parametrize("email", ["", "no-es-correo", "a@b", "dos@@ejemplo.com"])
def test_an_invalid_address_is_refused_in_spanish(email):
    with pytest.raises(ValidationError) as exc:
        services.suppress(email=email, reason="manual")
    assert "correo" in exc.value.messages[0]
    assert not Suppression.objects.exists()


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValidationError):
        services.suppress(email="ana@ejemplo.com", reason="capricho")


def test_the_manual_create_refuses_a_duplicate(marketing):
    SuppressionFactory(email="ana@ejemplo.com")
    with pytest.raises(ValidationError) as exc:
        services.suppression_create(actor=marketing, email="ANA@ejemplo.com")
    assert "ya está en la lista" in str(exc.value)
    assert Suppression.objects.count() == 1


def test_a_suppressed_address_is_not_eligible_until_it_is_removed(marketing):
    contact = consenting_contact(email="cliente@ejemplo.com.mx")
    topic = TopicFactory(name="Ofertas")
    entry = services.suppression_create(actor=marketing, email="Cliente@Ejemplo.com.mx", note="")
    assert eligible_contact_ids([contact.pk], topic.pk) == set()
    services.unsuppress(actor=marketing, suppression=entry)
    assert eligible_contact_ids([contact.pk], topic.pk) == {contact.pk}
    removal = AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT).order_by("-id").first()
    assert removal.detail["suppression"] == "removed"
    assert removal.detail["email"] == "cliente@ejemplo.com.mx"
    assert removal.actor == marketing


# --- CSV import -------------------------------------------------------------------------------


def test_one_address_per_line(marketing):
    data = b"ana@ejemplo.com\nLUIS@ejemplo.com\n\nana@ejemplo.com\n"
    result = services.suppression_import(actor=marketing, data=data)
    assert result.added == 2 and result.errors == []
    assert set(Suppression.objects.values_list("email", flat=True)) == {
        "ana@ejemplo.com",
        "luis@ejemplo.com",
    }
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"importacion"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).count() == 1


def test_a_header_row_names_the_column_and_excel_cp1252_is_read(marketing):
    data = "nombre;Correo electrónico;nota\nPeña;pena@ejemplo.com;dueña\nNúñez;nunez@ejemplo.com;\n"
    result = services.suppression_import(actor=marketing, data=data.encode("cp1252"), note="Feria")
    assert result.added == 2
    assert Suppression.objects.filter(email="pena@ejemplo.com", note="Feria").exists()


def test_utf8_with_bom_and_an_email_column(marketing):
    data = "\ufeffemail,nombre\nana@ejemplo.com,Ana\n".encode()
    result = services.suppression_import(actor=marketing, data=data)
    assert result.added == 1


def test_invalid_lines_are_reported_in_spanish_and_the_rest_imported(marketing):
    data = b"correo,nota\nana@ejemplo.com,\nno-es-correo,\n\n,sin correo\nluis@ejemplo.com,\n"
    result = services.suppression_import(actor=marketing, data=data)
    assert result.added == 2
    assert result.error_count == 2
    assert result.errors[0] == "Línea 3: «no-es-correo» no es un correo electrónico válido."
    assert result.errors[1] == "Línea 5: no tiene correo electrónico."


def test_importing_twice_adds_nothing_the_second_time(marketing):
    SuppressionFactory(email="ana@ejemplo.com", reason="queja")
    data = b"ana@ejemplo.com\nluis@ejemplo.com\n"
    assert services.suppression_import(actor=marketing, data=data).added == 1
    second = services.suppression_import(actor=marketing, data=data)
    assert second.added == 0 and second.already == 2
    assert Suppression.objects.get(email="ana@ejemplo.com").reason == "queja"


def test_an_empty_or_too_big_file_is_refused(marketing, monkeypatch):
    with pytest.raises(ValidationError):
        services.suppression_import(actor=marketing, data=b"\n\n")
    monkeypatch.setattr(services, "IMPORT_MAX_BYTES", 10)
    with pytest.raises(ValidationError) as exc:
        services.suppression_import(actor=marketing, data=b"ana@ejemplo.com\n" * 2)
    assert "MB" in exc.value.messages[0]
    assert not Suppression.objects.exists()


def test_many_rows_are_inserted_in_batches(marketing, django_assert_max_num_queries):
    data = "\n".join(f"persona{n}@ejemplo.com" for n in range(5000)).encode()
    # SQLite splits each bulk insert by its variable limit; still a few dozen, not 5,000.
    with django_assert_max_num_queries(60):
        result = services.suppression_import(actor=marketing, data=data)
    assert result.added == 5000
    assert Suppression.objects.count() == 5000
