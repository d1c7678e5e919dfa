"""The suppression list pages: who may use them, the list, add, remove, import and export."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import Suppression
from campaigns.tests.factories import SuppressionFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

# (URL name, takes the entry's pk, accepts POST)
PAGES = [
    ("campaigns:suppression-list", False, False),
    ("campaigns:suppression-count", False, False),
    ("campaigns:suppression-create", False, True),
    ("campaigns:suppression-import", False, True),
    ("campaigns:suppression-export", False, False),
    ("campaigns:suppression-delete", True, True),
]


@pytest.mark.parametrize("user_fixture", ["rep", "manager", "support"])
@pytest.mark.parametrize(("name", "takes_pk", "posts"), PAGES)
def test_other_roles_get_403(request, client_for, user_fixture, name, takes_pk, posts):
    entry = SuppressionFactory()
    client = client_for(request.getfixturevalue(user_fixture))
    url = reverse(name, args=[entry.pk] if takes_pk else [])
    assert client.get(url).status_code == 403
    if posts:
        assert client.post(url, {"email": "x@ejemplo.com"}).status_code == 403
    assert Suppression.objects.filter(pk=entry.pk).exists()


def test_anonymous_users_are_sent_to_login(client, settings):
    response = client.get(reverse("campaigns:suppression-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("user_fixture", ["marketing", "admin_user"])
def test_the_list_searches_and_filters_by_reason(request, client_for, user_fixture):
    SuppressionFactory(email="ana@ejemplo.com", reason="rebote")
    SuppressionFactory(email="luis@ejemplo.com", reason="queja", note="Ana lo reportó")
    SuppressionFactory(email="eva@otro.com", reason="manual")
    client = client_for(request.getfixturevalue(user_fixture))
    url = reverse("campaigns:suppression-list")
    response = client.get(url)
    assert response.status_code == 200
    assert "campaigns/suppression/suppression_list.html" in [t.name for t in response.templates]
    assert len(response.context["page_obj"]) == 3
    emails = lambda r: {e.email for e in r.context["page_obj"]}  # noqa: E731
    assert emails(client.get(url, {"q": "ANA"})) == {"ana@ejemplo.com", "luis@ejemplo.com"}
    assert emails(client.get(url, {"reason": "queja"})) == {"luis@ejemplo.com"}
    assert emails(client.get(url, {"reason": "inventado"})) == {
        "ana@ejemplo.com",
        "luis@ejemplo.com",
        "eva@otro.com",
    }


def test_the_htmx_request_gets_the_table_only(client_for, marketing):
    SuppressionFactory(email="ana@ejemplo.com")
    response = client_for(marketing).get(
        reverse("campaigns:suppression-list"), {"q": "ana"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "ana@ejemplo.com" in body
    assert "<html" not in body


def test_the_list_reads_a_constant_number_of_queries(
    client_for, marketing, django_assert_max_num_queries
):
    client = client_for(marketing)
    url = reverse("campaigns:suppression-list")
    SuppressionFactory.create_batch(3, created_by=marketing)
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    SuppressionFactory.create_batch(80, created_by=marketing)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url, {"q": "suprimido"})
    page = response.context["page_obj"]
    assert len(page) == 25 and page.has_next


def test_the_count_is_loaded_apart(client_for, marketing):
    SuppressionFactory.create_batch(3, reason="rebote")
    SuppressionFactory(reason="queja")
    response = client_for(marketing).get(
        reverse("campaigns:suppression-count"), {"reason": "rebote"}
    )
    assert response.status_code == 200
    assert "3" in response.content.decode()


def test_adding_an_address_by_hand(client_for, marketing):
    client = client_for(marketing)
    url = reverse("campaigns:suppression-create")
    assert client.get(url).status_code == 200
    response = client.post(url, {"email": "Ana@Ejemplo.com", "note": "Lo pidió por teléfono"})
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert entry.email == "ana@ejemplo.com" and entry.reason == "manual"
    assert entry.note == "Lo pidió por teléfono" and entry.created_by == marketing


def test_a_bad_or_repeated_address_shows_the_form_again(client_for, marketing):
    SuppressionFactory(email="ana@ejemplo.com")
    client = client_for(marketing)
    url = reverse("campaigns:suppression-create")
    response = client.post(url, {"email": "no-es-correo"})
    assert response.status_code == 422
    assert "no es un correo electrónico válido" in response.content.decode()
    response = client.post(url, {"email": "ANA@ejemplo.com"})
    assert response.status_code == 422
    assert "ya está en la lista de supresión" in response.content.decode()
    assert Suppression.objects.count() == 1


def test_removing_asks_first_then_removes_and_audits(client_for, marketing):
    entry = SuppressionFactory(email="ana@ejemplo.com", reason="rebote")
    client = client_for(marketing)
    url = reverse("campaigns:suppression-delete", args=[entry.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert "ana@ejemplo.com" in response.content.decode()
    assert Suppression.objects.exists()
    response = client.post(url)
    assert response.status_code == 302
    assert not Suppression.objects.exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONSENT)
    assert event.detail["email"] == "ana@ejemplo.com" and event.actor == marketing
    assert client.post(url).status_code == 404


def test_importing_a_csv(client_for, marketing):
    client = client_for(marketing)
    url = reverse("campaigns:suppression-import")
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile(
        "lista.csv",
        "correo;nota\npena@ejemplo.com;Dueña\nno-vale;\nluis@ejemplo.com;\n".encode("cp1252"),
    )
    response = client.post(url, {"file": upload, "note": "Feria"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Línea 3" in body
    assert response.context["result"].added == 2
    assert Suppression.objects.filter(email="pena@ejemplo.com", note="Feria").exists()


def test_importing_an_empty_file_is_an_error(client_for, marketing):
    response = client_for(marketing).post(
        reverse("campaigns:suppression-import"),
        {"file": SimpleUploadedFile("vacio.csv", b"\n\n")},
    )
    assert response.status_code == 422
    assert "no tiene ningún correo" in response.content.decode()


def test_the_export_is_a_csv_safe_for_spreadsheets_and_audited(client_for, marketing):
    SuppressionFactory(email="ana@ejemplo.com", reason="queja", note="=HYPERLINK(1)")
    SuppressionFactory(email="luis@ejemplo.com", reason="manual")
    response = client_for(marketing).get(
        reverse("campaigns:suppression-export"), {"reason": "queja"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["Correo", "Motivo"]
    assert rows[1][:3] == ["ana@ejemplo.com", "Queja de spam", "'=HYPERLINK(1)"]
    assert len(rows) == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()
