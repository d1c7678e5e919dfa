"""A ticket's message with files through the API (multipart/form-data): the page's service and
limits (the allowed types, their content, the size, how many), a refused file answering problem
details in Spanish with nothing written, not the message either; each message's files listed
with a download that goes through the page's permission check (whoever sees the ticket)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from crm.celery import app
from crm.core.api.tokens import SCOPES, token_create
from support.models import Attachment, Comment, Ticket
from support.services.comments import comment_note
from support.services.tickets import ticket_create

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def api(user, scopes=None) -> APIClient:
    _token, key = token_create(user=user, name="Centralita", scopes=scopes or SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def ticket(support, rep):
    return ticket_create(
        actor=support,
        account=AccountFactory(owner=rep),
        subject="Factura con importe erróneo",
        category=Ticket.Category.CLAIM,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )


def comments(ticket) -> str:
    return reverse("api:ticket-comments", args=[ticket.pk])


def stored(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def download(client, url: str):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.status_code == 200 else None
    return response, body


def test_a_note_with_one_file_is_listed_and_downloaded(support, ticket, tmp_path):
    client = api(support)
    created = client.post(
        comments(ticket),
        {"kind": "nota", "body": "La factura del cliente.", "files": [upload("f 12.pdf", PDF)]},
        format="multipart",
    )

    assert created.status_code == 201, created.json()
    [listed] = created.json()["attachments"]
    attachment = Attachment.objects.get()
    assert listed == {
        "id": attachment.pk,
        "filename": "f 12.pdf",
        "content_type": "application/pdf",  # from the content, not from the client's header
        "size": len(PDF),
        "url": reverse("api:ticket-attachment", args=[ticket.pk, attachment.pk]),
    }
    assert attachment.comment.kind == Comment.Kind.NOTE and attachment.uploaded_by == support
    assert len(stored(tmp_path)) == 1

    response, body = download(client, listed["url"])
    assert response.status_code == 200 and body == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    # Any Accept header: the file answers its own type.
    assert client.get(listed["url"], HTTP_ACCEPT="application/pdf").status_code == 200


def test_a_reply_with_two_files(support, ticket):
    client = api(support)
    created = client.post(
        comments(ticket),
        {
            "kind": "respuesta",
            "body": "Le envío la factura corregida y la foto del albarán.",
            "files": [
                upload("factura.pdf", PDF, "application/pdf"),
                upload("albarán.png", PNG, "image/png"),
            ],
        },
        format="multipart",
    )

    assert created.status_code == 201, created.json()
    names = sorted(row["filename"] for row in created.json()["attachments"])
    assert names == ["albarán.png", "factura.pdf"]
    [thread] = client.get(comments(ticket)).json()
    assert sorted(row["filename"] for row in thread["attachments"]) == names
    assert sorted(row["content_type"] for row in thread["attachments"]) == [
        "application/pdf",
        "image/png",
    ]
    assert Comment.objects.get().attachments.count() == 2


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [upload("plano.pdf", PDF + b"0" * 2048)],
            "«plano.pdf» pesa 2,1\xa0KB y el máximo es 1,0\xa0KB.",
        ),
        (
            [upload("ok.pdf", PDF[:900]), upload("instalador.exe", b"MZ\x90\x00")],
            "«instalador.exe»: ese tipo de archivo no se admite. Se admiten: pdf, png, jpg.",
        ),
        (
            [upload("factura.pdf", b"MZ\x90\x00 programa")],
            "«factura.pdf» no parece un archivo PDF: su contenido no corresponde a la extensión.",
        ),
        ([upload("vacío.png", b"")], "«vacío.png» está vacío."),
    ],
)
def test_a_refused_file_is_a_spanish_problem_and_writes_nothing(
    settings, support, ticket, tmp_path, files, message
):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 1024
    settings.SUPPORT_ATTACHMENT_TYPES = ["pdf", "png", "jpg"]

    refused = api(support).post(
        comments(ticket), {"kind": "nota", "body": "Adjunto", "files": files}, format="multipart"
    )

    assert refused.status_code == 400 and refused["Content-Type"] == PROBLEM
    problem = refused.json()
    assert problem["title"] == "Datos no válidos"
    assert problem["errors"]["files"] == [message]
    assert not Comment.objects.exists() and not Attachment.objects.exists()
    assert stored(tmp_path) == []


def test_too_many_files_and_too_large_a_body_are_refused(settings, support, ticket, tmp_path):
    settings.SUPPORT_ATTACHMENTS_PER_MESSAGE = 1
    client = api(support)
    refused = client.post(
        comments(ticket),
        {"kind": "nota", "body": "x", "files": [upload("a.pdf", PDF), upload("b.pdf", PDF)]},
        format="multipart",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["files"] == [
        "Puedes adjuntar como máximo 1 archivos por mensaje."
    ]
    # A body larger than every file allowed: refused by its declared length, unread.
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 10
    big = client.post(
        comments(ticket),
        {"kind": "nota", "body": "x", "files": [upload("a.pdf", PDF + b"0" * 2_000_000)]},
        format="multipart",
    )
    assert big.status_code == 400 and big["Content-Type"] == PROBLEM
    assert big.json()["errors"]["files"][0].startswith("Los archivos pesan demasiado")
    assert not Comment.objects.exists() and stored(tmp_path) == []


def test_a_message_without_files_still_goes_as_json_or_multipart(support, ticket):
    client = api(support)
    as_json = client.post(comments(ticket), {"kind": "nota", "body": "Uno"}, format="json")
    as_form = client.post(comments(ticket), {"kind": "nota", "body": "Dos"}, format="multipart")
    assert (as_json.status_code, as_form.status_code) == (201, 201)
    assert as_json.json()["attachments"] == [] and as_form.json()["attachments"] == []


# Who reads and who writes: the pages' rules -------------------------------------------------


def test_the_pages_rules_decide_who_uploads_and_who_downloads(
    support, rep, other_rep, marketing, ticket, tmp_path
):
    """Support writes (internal notes too); a rep reads the whole conversation of their
    customers' tickets, internal notes and their files included (support.selectors.comments),
    and writes nothing; another rep's key finds neither the file nor the ticket."""
    note = comment_note(
        actor=support, ticket=ticket, body="Copia interna", files=[upload("interna.pdf", PDF)]
    )
    attachment = note.attachments.get()
    url = reverse("api:ticket-attachment", args=[ticket.pk, attachment.pk])

    refused = api(rep).post(
        comments(ticket),
        {"kind": "respuesta", "body": "Hola", "files": [upload("mía.pdf", PDF)]},
        format="multipart",
    )
    assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM
    assert refused.json()["detail"] == (
        "Puedes leer la conversación, pero solo el equipo de soporte escribe en ella."
    )
    assert Comment.objects.count() == 1 and len(stored(tmp_path)) == 1

    [thread] = api(rep).get(comments(ticket)).json()
    assert [row["url"] for row in thread["attachments"]] == [url]
    response, body = download(api(rep), url)
    assert response.status_code == 200 and body == PDF

    response, _body = download(api(other_rep), url)
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "No existe esa incidencia."
    assert api(marketing).get(url).status_code == 403
    # The key needs the support area.
    assert api(support, scopes=["contacts:read"]).get(url).status_code == 403
    assert api(support, scopes=["support:read"]).get(url).status_code == 200


def test_a_file_is_found_only_under_its_own_ticket(support, rep, ticket):
    other = ticket_create(
        actor=support,
        account=AccountFactory(owner=rep),
        subject="Otra",
        category=Ticket.Category.QUESTION,
        channel=Ticket.Channel.EMAIL,
        priority="baja",
    )
    note = comment_note(actor=support, ticket=ticket, body="x", files=[upload("a.pdf", PDF)])
    attachment = note.attachments.get()
    client = api(support)
    wrong = client.get(reverse("api:ticket-attachment", args=[other.pk, attachment.pk]))
    assert wrong.status_code == 404 and wrong.json()["detail"] == "No existe ese archivo."
    missing = client.get(reverse("api:ticket-attachment", args=[ticket.pk, 999999]))
    assert missing.status_code == 404


def test_the_schema_documents_the_multipart_body_and_the_download(rep):
    schema = api(rep).get(reverse("api:schema"), {"format": "json"}).json()
    body = schema["paths"]["/api/v1/tickets/{id}/comments/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    upload_schema = body["multipart/form-data"]["schema"]["$ref"].rpartition("/")[2]
    files = schema["components"]["schemas"][upload_schema]["properties"]["files"]
    assert files == {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "The files to attach to the message.",
    }
    get = schema["paths"]["/api/v1/tickets/{id}/attachments/{attachment_pk}/"]["get"]
    assert get["responses"]["200"]["content"]["application/octet-stream"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
