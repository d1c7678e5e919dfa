"""The conversation's services: replies, internal notes, customer messages, closed tickets, roles,
and the attachment checks (size, allow-list, first bytes), with nothing saved on bad input."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from support.models import Attachment, Comment, Ticket
from support.services.comments import (
    attachment_check,
    comment_customer_message,
    comment_note,
    comment_reply,
)
from support.services.tickets import ticket_create, ticket_transition
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88"


def office_file(folder: str, part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}{part}", "<document/>")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SUPPORT_EMAIL = "soporte@miempresa.mx"
    settings.DEFAULT_FROM_EMAIL = "CRM <crm@miempresa.mx>"


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def ticket(support, rep):
    account = AccountFactory(owner=rep, name="Ferretería Bustamante")
    contact = ContactFactory(
        account=account,
        owner=rep,
        first_name="Elena",
        last_name="Duarte",
        email="elena@bustamante.mx",
    )
    return ticket_create(
        actor=support,
        account=account,
        contact=contact,
        subject="El pedido 4512 llegó incompleto",
        description="Faltan dos cajas de tornillos.",
        category=Ticket.Category.COMPLAINT,
        channel=Ticket.Channel.PHONE,
        priority="alta",
    )


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


# Public replies ---------------------------------------------------------------------------


def test_first_reply_is_saved_emailed_and_counts_as_first_response(
    support, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_reply(
            actor=support, ticket=ticket, body="Hola Elena, hoy mismo le enviamos las cajas."
        )
    comment.refresh_from_db()
    ticket.refresh_from_db()
    assert comment.kind == Comment.Kind.REPLY
    assert comment.author == support
    assert ticket.first_response_at == comment.created_at
    assert ticket.status == Ticket.Status.OPEN
    assert comment.emailed_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == f"[{ticket.number}] El pedido 4512 llegó incompleto"
    assert message.to == ['"Elena Duarte" <elena@bustamante.mx>']
    assert message.from_email == '"Mi Empresa S.A. de C.V." <crm@miempresa.mx>'
    assert message.reply_to == ["soporte@miempresa.mx"]
    assert "hoy mismo le enviamos las cajas" in message.body
    assert ticket.number in message.body
    html = message.alternatives[0][0]
    assert "hoy mismo le enviamos las cajas" in html
    assert message.extra_headers["References"] == f"<{ticket.number.lower()}@miempresa.mx>"


def test_later_replies_keep_the_first_response_time(support, ticket):
    first = comment_reply(actor=support, ticket=ticket, body="Lo revisamos.")
    second = comment_reply(actor=support, ticket=ticket, body="Ya salió el envío.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first.created_at
    assert second.created_at >= first.created_at
    assert ticket.comments.count() == 2


def test_reply_to_a_contact_without_email_is_kept_but_not_sent(
    support, ticket, django_capture_on_commit_callbacks
):
    ticket.contact.email = ""
    ticket.contact.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        comment = comment_reply(actor=support, ticket=ticket, body="Le llamamos mañana.")
    comment.refresh_from_db()
    assert callbacks == []
    assert mail.outbox == []
    assert comment.emailed_at is None
    ticket.refresh_from_db()
    assert ticket.first_response_at == comment.created_at


def test_reply_attaches_its_files_to_the_email(support, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        comment_reply(
            actor=support,
            ticket=ticket,
            body="Le enviamos la nota de crédito.",
            files=[upload("nota de crédito.pdf", PDF, "application/pdf")],
        )
    (message,) = mail.outbox
    assert message.attachments == [("nota de crédito.pdf", PDF, "application/pdf")]


# Internal notes -----------------------------------------------------------------------------


def test_internal_note_is_never_emailed(support, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = comment_note(
            actor=support,
            ticket=ticket,
            body="Ojo: es la tercera vez que reclama; revisar con almacén.",
            files=[upload("captura.png", PNG)],
        )
    assert callbacks == []
    assert mail.outbox == []
    note.refresh_from_db()
    assert note.kind == Comment.Kind.NOTE
    assert note.emailed_at is None
    assert note.attachments.get().content_type == "image/png"
    ticket.refresh_from_db()
    # A note is not an answer to the customer.
    assert ticket.first_response_at is None
    assert ticket.status == Ticket.Status.NEW


# The customer's messages ------------------------------------------------------------------


def test_customer_message_reopens_a_resolved_ticket(support, ticket):
    comment_reply(actor=support, ticket=ticket, body="Le enviamos las cajas que faltaban.")
    ticket_transition(
        actor=support,
        ticket=ticket,
        to_status=Ticket.Status.RESOLVED,
        resolution="Se enviaron las dos cajas faltantes.",
    )
    message = comment_customer_message(
        actor=support, ticket=ticket, body="Llamó: llegó solo una de las dos cajas."
    )
    ticket.refresh_from_db()
    assert message.kind == Comment.Kind.CUSTOMER
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.status_changes.last().note == "Respuesta del cliente"


def test_customer_message_on_a_waiting_ticket_reopens_it(support, ticket):
    comment_reply(actor=support, ticket=ticket, body="¿Nos manda una foto del paquete?")
    ticket_transition(actor=support, ticket=ticket, to_status=Ticket.Status.WAITING)
    comment_customer_message(actor=support, ticket=ticket, body="Mandó la foto por WhatsApp.")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_customer_message_is_not_emailed_back(support, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_customer_message(
            actor=support, ticket=ticket, body="Dice que el repartidor no dejó aviso."
        )
    comment.refresh_from_db()
    assert mail.outbox == []
    assert comment.emailed_at is None


# What is refused --------------------------------------------------------------------------


@pytest.mark.parametrize("service", [comment_reply, comment_note, comment_customer_message])
def test_a_closed_ticket_takes_no_more_messages(support, ticket, service):
    comment_reply(actor=support, ticket=ticket, body="Enviamos las cajas.")
    ticket_transition(
        actor=support, ticket=ticket, to_status=Ticket.Status.RESOLVED, resolution="Enviadas."
    )
    ticket_transition(actor=support, ticket=ticket, to_status=Ticket.Status.CLOSED)
    with pytest.raises(ValidationError) as exc:
        service(actor=support, ticket=ticket, body="¿Algo más?")
    assert "está cerrada" in exc.value.messages[0]
    assert ticket.number in exc.value.messages[0]
    assert ticket.comments.count() == 1


@pytest.mark.parametrize("role", ["rep", "manager", "marketing"])
@pytest.mark.parametrize("service", [comment_reply, comment_note, comment_customer_message])
def test_only_support_writes(request, ticket, role, service):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        service(actor=user, ticket=ticket, body="Hola, soy yo.", files=[upload("a.pdf", PDF)])
    assert Comment.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_admin_writes_too(admin_user, ticket):
    note = comment_note(actor=admin_user, ticket=ticket, body="Revisado por dirección.")
    assert note.author == admin_user


def test_an_empty_message_is_refused(support, ticket):
    with pytest.raises(ValidationError) as exc:
        comment_reply(actor=support, ticket=ticket, body="   \n ")
    assert exc.value.message_dict["body"] == ["Escribe el mensaje."]
    assert Comment.objects.count() == 0
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


# Attachments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("factura.pdf", PDF, "application/pdf"),
        ("foto.PNG", PNG, "image/png"),
        ("foto.jpg", JPEG, "image/jpeg"),
        ("foto.jpeg", JPEG, "image/jpeg"),
        ("animación.gif", GIF, "image/gif"),
        ("foto.webp", WEBP, "image/webp"),
        ("notas.txt", "Pedido 4512: faltan 2 cajas de tornillería.\n".encode(), "text/plain"),
        (
            "pedido.csv",
            "clave;descripción;cantidad\nT-12;Tornillo;200\n".encode("cp1252"),
            "text/csv",
        ),
        (
            "carta.docx",
            office_file("word/", "document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "inventario.xlsx",
            office_file("xl/", "workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_common_types_are_accepted_with_their_content_type(name, content, content_type):
    checked = attachment_check(upload(name, content, "application/x-whatever"))
    assert checked.content_type == content_type
    assert checked.size == len(content)
    assert checked.filename == name


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", b"MZ\x90\x00", "«virus.exe»: ese tipo de archivo no se admite."),
        ("pagina.html", b"<html></html>", "«pagina.html»: ese tipo de archivo no se admite."),
        ("dibujo.svg", b"<svg/>", "«dibujo.svg»: ese tipo de archivo no se admite."),
        ("sin extension", b"hola", "«sin extension»: ese tipo de archivo no se admite."),
        ("factura.pdf", b"<html><script>alert(1)</script></html>", "«factura.pdf» no parece"),
        ("foto.png", JPEG, "«foto.png» no parece un archivo PNG"),
        ("foto.jpg", b"MZ\x90\x00\x03\x00\x00\x00", "«foto.jpg» no parece un archivo JPEG"),
        ("foto.webp", b"RIFF\x1a\x00\x00\x00AVI LIST", "«foto.webp» no parece"),
        ("notas.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "«notas.txt» no parece"),
        ("carta.docx", b"PK\x03\x04 not really a zip", "«carta.docx» no parece"),
        ("carta.docx", office_file("xl/", "workbook.xml"), "«carta.docx» no parece"),
        ("vacío.pdf", b"", "«vacío.pdf» está vacío."),
    ],
)
def test_wrong_files_are_refused_naming_the_file(name, content, message):
    with pytest.raises(ValidationError) as exc:
        attachment_check(upload(name, content))
    assert message in exc.value.messages[0]


def test_a_file_over_the_limit_is_refused(settings):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as exc:
        attachment_check(upload("plano.pdf", PDF + b"0" * 1024))
    assert exc.value.messages[0].startswith("«plano.pdf» pesa 1,1")
    assert "el máximo es 1,0" in exc.value.messages[0]


def test_the_allow_list_comes_from_settings(settings):
    settings.SUPPORT_ATTACHMENT_TYPES = ["pdf", "zip"]
    with pytest.raises(ValidationError):
        attachment_check(upload("foto.png", PNG))
    # A type without a content check is accepted by its extension alone.
    assert attachment_check(upload("fotos.zip", b"PK\x05\x06" + b"\0" * 18)).content_type in (
        "application/zip",
        "application/x-zip-compressed",
    )


def test_the_path_is_dropped_from_the_name():
    checked = attachment_check(upload("C:\\Users\\elena\\Escritorio\\factura.pdf", PDF))
    assert checked.filename == "factura.pdf"


def test_a_bad_file_saves_nothing_at_all(support, ticket, tmp_path):
    with pytest.raises(ValidationError) as exc:
        comment_reply(
            actor=support,
            ticket=ticket,
            body="Le adjunto la guía y la factura.",
            files=[upload("guía.pdf", PDF), upload("factura.pdf", b"MZ\x90\x00 programa")],
        )
    assert exc.value.message_dict["files"] == [
        "«factura.pdf» no parece un archivo PDF: su contenido no corresponde a la extensión."
    ]
    assert Comment.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert stored_files(tmp_path) == []
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_too_many_files_are_refused(settings, support, ticket):
    settings.SUPPORT_ATTACHMENTS_PER_MESSAGE = 2
    with pytest.raises(ValidationError) as exc:
        comment_note(
            actor=support,
            ticket=ticket,
            body="Fotos del paquete.",
            files=[upload(f"foto{n}.png", PNG) for n in range(3)],
        )
    assert exc.value.message_dict["files"] == [
        "Puedes adjuntar como máximo 2 archivos por mensaje."
    ]
    assert Comment.objects.count() == 0


def test_files_are_stored_under_the_ticket_with_an_unguessable_name(support, ticket, tmp_path):
    note = comment_note(
        actor=support,
        ticket=ticket,
        body="Fotos del paquete.",
        files=[upload("foto.png", PNG), upload("foto.png", PNG)],
    )
    first, second = note.attachments.order_by("id")
    assert first.filename == second.filename == "foto.png"
    assert first.file.name != second.file.name
    assert first.file.name.startswith(f"tickets/{ticket.pk}/")
    assert first.file.name.endswith("_foto.png")
    assert first.ticket == ticket and first.uploaded_by == support and first.size == len(PNG)
    assert Path(first.file.path).read_bytes() == PNG
    assert Path(first.file.path).is_relative_to(tmp_path)


def test_comments_reach_the_ticket_factory_tickets_too(support):
    # A ticket made without the service (no SLA due times) still takes a reply.
    ticket = TicketFactory(contact__email="rosa@ejemplo.mx")
    comment = comment_reply(actor=support, ticket=ticket, body="Recibido.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == comment.created_at
