"""The conversation's pages: the fragment and its page, posting with and without htmx, canned
responses, downloads, visibility per role and the queries of a long thread."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from support.models import Attachment, CannedResponse, Comment, Ticket
from support.services.comments import comment_note, comment_reply
from support.services.tickets import ticket_transition
from support.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _setup(monkeypatch, settings, tmp_path):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ticket(rep):
    account = AccountFactory(owner=rep, name="Papelería Guadalupe")
    contact = ContactFactory(
        account=account,
        owner=rep,
        first_name="Martín",
        last_name="Salgado",
        email="martin@papeleriaguadalupe.mx",
    )
    return TicketFactory(
        account=account,
        contact=contact,
        subject="La impresora no enciende",
        category=Ticket.Category.WARRANTY,
    )


def url(ticket) -> str:
    return reverse("support:ticket-comments", args=[ticket.pk])


# Reading ------------------------------------------------------------------------------------


def test_support_sees_the_thread_and_the_composer(client_for, support, ticket):
    comment_reply(actor=support, ticket=ticket, body="¿Nos confirma el número de serie?")
    comment_note(actor=support, ticket=ticket, body="Garantía vigente hasta marzo.")
    response = client_for(support).get(url(ticket), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "¿Nos confirma el número de serie?" in html
    assert "Garantía vigente hasta marzo." in html
    assert "Nota interna" in html
    assert 'name="body"' in html
    assert f'hx-post="{url(ticket)}"' in html
    assert "Las respuestas al cliente se envían a martin@papeleriaguadalupe.mx." in html


def test_the_page_without_htmx_is_a_whole_page(client_for, support, ticket):
    response = client_for(support).get(url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert ticket.get_absolute_url() in html
    assert f'action="{url(ticket)}"' in html
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_owner_and_manager_read_everything_but_do_not_write(
    client_for, request, support, ticket, role
):
    comment_note(actor=support, ticket=ticket, body="Cliente molesto, tratar con cuidado.")
    client = client_for(request.getfixturevalue(role))
    response = client.get(url(ticket), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cliente molesto, tratar con cuidado." in html
    assert 'name="body"' not in html
    assert "Solo el equipo de soporte escribe en la conversación." in html
    response = client.post(url(ticket), {"kind": "nota", "body": "Yo también opino."}, **HTMX)
    assert response.status_code == 403
    assert ticket.comments.count() == 1


@pytest.mark.parametrize("role", ["other_rep", "marketing"])
def test_others_get_404_everywhere(client_for, request, support, ticket, role):
    note = comment_note(
        actor=support,
        ticket=ticket,
        body="Dato interno.",
        files=[SimpleUploadedFile("foto.png", PNG)],
    )
    client = client_for(request.getfixturevalue(role))
    attachment = note.attachments.get()
    canned = CannedResponse.objects.first()
    for target in [
        url(ticket),
        reverse("support:canned-response", args=[ticket.pk]) + f"?canned={canned.pk}",
        reverse("support:attachment-download", args=[attachment.pk]),
    ]:
        assert client.get(target).status_code == 404
    assert client.post(url(ticket), {"kind": "nota", "body": "Hola"}).status_code == 404
    assert ticket.comments.count() == 1


@pytest.mark.parametrize(
    ("time_zone", "shown"),
    [("America/Mexico_City", "10/03/2026 09:30"), ("Europe/Madrid", "10/03/2026 16:30")],
)
def test_times_are_shown_in_the_users_time_zone(client_for, support, ticket, time_zone, shown):
    support.time_zone = time_zone
    support.save(update_fields=["time_zone"])
    comment = CommentFactory(ticket=ticket, author=support, body="Recibido.")
    at = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    Comment.objects.filter(pk=comment.pk).update(created_at=at)
    html = client_for(support).get(url(ticket), **HTMX).content.decode()
    assert f">{shown}</time>" in html


def test_a_closed_ticket_shows_no_composer(client_for, support, ticket):
    comment_reply(actor=support, ticket=ticket, body="Cambiamos la fuente de poder.")
    ticket_transition(
        actor=support, ticket=ticket, to_status=Ticket.Status.RESOLVED, resolution="Fuente nueva."
    )
    ticket_transition(actor=support, ticket=ticket, to_status=Ticket.Status.CLOSED)
    html = client_for(support).get(url(ticket), **HTMX).content.decode()
    assert 'name="body"' not in html
    assert "La incidencia está cerrada: la conversación ya no admite mensajes." in html


def test_a_contact_without_email_is_announced(client_for, support, ticket):
    ticket.contact.email = ""
    ticket.contact.save(update_fields=["email"])
    comment_reply(actor=support, ticket=ticket, body="Le llamamos.")
    html = client_for(support).get(url(ticket), **HTMX).content.decode()
    assert "El contacto no tiene correo electrónico" in html
    assert "No se envió: el contacto no tiene correo electrónico." in html


def test_a_long_thread_costs_a_constant_number_of_queries(
    client_for, support, ticket, django_assert_max_num_queries
):
    client = client_for(support)
    client.get(url(ticket), **HTMX)  # the session, warmed up
    start = timezone.now() - timedelta(days=2)
    kinds = [Comment.Kind.REPLY, Comment.Kind.NOTE, Comment.Kind.CUSTOMER]
    comments = [
        CommentFactory(ticket=ticket, author=support, kind=kinds[n % 3], body=f"Mensaje {n}")
        for n in range(50)
    ]
    for n, comment in enumerate(comments):
        Comment.objects.filter(pk=comment.pk).update(created_at=start + timedelta(minutes=n))
        Attachment.objects.create(
            ticket=ticket,
            comment=comment,
            file=f"tickets/{ticket.pk}/f{n}.pdf",
            filename=f"factura-{n}.pdf",
            content_type="application/pdf",
            size=2048,
            uploaded_by=support,
        )
    with django_assert_max_num_queries(7):
        response = client.get(url(ticket), **HTMX)
    html = response.content.decode()
    assert html.count('id="comment-') == 50
    assert html.count("factura-") == 50
    # Oldest first.
    assert html.index("Mensaje 0<") < html.index("Mensaje 1<") < html.index("Mensaje 49<")


# Writing ------------------------------------------------------------------------------------


def test_posting_a_reply_with_htmx_rerenders_the_fragment_and_emails(
    client_for, support, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(support).post(
            url(ticket),
            {
                "kind": "respuesta",
                "body": "Martín, le cambiamos la impresora esta semana.",
                "files": [SimpleUploadedFile("orden de servicio.pdf", PDF)],
            },
            **HTMX,
        )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "ticket-updated"
    html = response.content.decode()
    assert "<html" not in html
    assert "Respuesta guardada; se está enviando a martin@papeleriaguadalupe.mx." in html
    assert "le cambiamos la impresora esta semana" in html
    assert "orden de servicio.pdf" in html
    reply = ticket.comments.get()
    assert reply.kind == Comment.Kind.REPLY
    assert reply.attachments.get().filename == "orden de servicio.pdf"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[{ticket.number}] La impresora no enciende"
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at


def test_posting_without_javascript_redirects_with_a_message(client_for, support, ticket):
    client = client_for(support)
    response = client.post(url(ticket), {"kind": "nota", "body": "Pedir refacción a almacén."})
    note = ticket.comments.get()
    assert response.status_code == 302
    assert response["Location"] == f"{url(ticket)}#comment-{note.pk}"
    page = client.get(response["Location"]).content.decode()
    assert "Nota interna guardada. El cliente no la verá." in page
    assert note.kind == Comment.Kind.NOTE


def test_a_safe_next_is_followed_and_an_outside_one_is_not(client_for, support, ticket):
    client = client_for(support)
    detail = ticket.get_absolute_url()
    response = client.post(url(ticket), {"kind": "nota", "body": "Uno.", "next": detail})
    assert response["Location"] == detail
    response = client.post(
        url(ticket), {"kind": "nota", "body": "Dos.", "next": "https://malicioso.example/"}
    )
    assert response["Location"].startswith(url(ticket))


def test_a_customer_message_reopens_and_says_so(client_for, support, ticket):
    comment_reply(actor=support, ticket=ticket, body="Quedó resuelto.")
    ticket_transition(
        actor=support, ticket=ticket, to_status=Ticket.Status.RESOLVED, resolution="Reiniciada."
    )
    response = client_for(support).post(
        url(ticket), {"kind": "cliente", "body": "Volvió a fallar esta mañana."}, **HTMX
    )
    html = response.content.decode()
    assert "Mensaje del cliente registrado. La incidencia vuelve a estar abierta." in html
    assert "Registrado por" in html
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_a_refused_file_shows_its_name_and_keeps_the_text(client_for, support, ticket):
    response = client_for(support).post(
        url(ticket),
        {
            "kind": "respuesta",
            "body": "Le adjunto el manual.",
            "files": [SimpleUploadedFile("manual.pdf", b"<html>no soy un pdf</html>")],
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "«manual.pdf» no parece un archivo PDF" in html
    assert "Le adjunto el manual.</textarea>" in html
    assert Comment.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_an_empty_message_is_refused_without_javascript(client_for, support, ticket):
    response = client_for(support).post(url(ticket), {"kind": "respuesta", "body": " "})
    assert response.status_code == 422
    assert "Escribe el mensaje." in response.content.decode()
    assert Comment.objects.count() == 0


def test_posting_on_a_closed_ticket_is_refused_with_a_clear_message(client_for, support, ticket):
    comment_reply(actor=support, ticket=ticket, body="Listo.")
    ticket_transition(
        actor=support, ticket=ticket, to_status=Ticket.Status.RESOLVED, resolution="Listo."
    )
    ticket_transition(actor=support, ticket=ticket, to_status=Ticket.Status.CLOSED)
    response = client_for(support).post(url(ticket), {"kind": "respuesta", "body": "¿Algo más?"})
    assert response.status_code == 422
    assert f"La incidencia {ticket.number} está cerrada" in response.content.decode()
    assert ticket.comments.count() == 1


def test_an_oversized_upload_is_refused_before_reading_it(client_for, settings, support, ticket):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 1024
    settings.SUPPORT_ATTACHMENTS_PER_MESSAGE = 1
    big = SimpleUploadedFile("plano.pdf", PDF + b"0" * (2 * 1024 * 1024))
    response = client_for(support).post(
        url(ticket), {"kind": "respuesta", "body": "Plano.", "files": [big]}
    )
    assert response.status_code == 413
    assert "Los archivos pesan demasiado" in response.content.decode()
    assert Comment.objects.count() == 0


def test_the_composer_requires_a_csrf_token(support, ticket):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(support)
    response = client.post(url(ticket), {"kind": "nota", "body": "Sin token."})
    assert response.status_code == 403
    assert Comment.objects.count() == 0


# Canned responses ---------------------------------------------------------------------------


@pytest.fixture
def canned(db):
    return CannedResponse.objects.create(
        title="Garantía: recolección",
        body="Hola {nombre}, sobre {numero} («{asunto}»): pasaremos a recoger el equipo. {agente}",
        category=Ticket.Category.WARRANTY,
    )


def test_the_composer_lists_the_ticket_category_first(client_for, support, ticket, canned):
    CannedResponse.objects.create(title="Queja: disculpa", body="Lo sentimos.", category="queja")
    CannedResponse.objects.create(title="Inactiva", body="No.", is_active=False)
    html = client_for(support).get(url(ticket), **HTMX).content.decode()
    assert "Para «Garantía»" in html
    assert html.index("Garantía: recolección") < html.index("Acuse de recibo")
    assert html.index("Acuse de recibo") < html.index("Queja: disculpa")
    assert "Inactiva" not in html


def test_a_canned_response_is_inserted_with_its_merge_fields(client_for, support, ticket, canned):
    support.first_name, support.last_name = "Lucía", "Hernández"
    support.save()
    response = client_for(support).get(
        reverse("support:canned-response", args=[ticket.pk]),
        {"canned": canned.pk, "body": "Buenos días."},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith("<textarea")
    assert f'id="composer-body-{ticket.pk}"' in html
    expected = (
        f"Buenos días.\n\nHola Martín, sobre {ticket.number} («La impresora no enciende»): "
        "pasaremos a recoger el equipo. Lucía Hernández</textarea>"
    )
    assert expected in html


@pytest.mark.parametrize("action", ["canned", ""])
def test_without_javascript_the_server_expands_the_canned_response(
    client_for, support, ticket, canned, action
):
    # "Insertar", or "Enviar" with a canned response chosen and nothing written yet.
    response = client_for(support).post(
        url(ticket), {"kind": "respuesta", "body": "", "canned": canned.pk, "action": action}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert f"Hola Martín, sobre {ticket.number}" in html
    assert Comment.objects.count() == 0


def test_an_unknown_canned_response_leaves_the_text_alone(client_for, support, ticket):
    response = client_for(support).get(
        reverse("support:canned-response", args=[ticket.pk]),
        {"canned": "99999", "body": "Buenos días."},
        **HTMX,
    )
    assert "Buenos días.</textarea>" in response.content.decode()
    response = client_for(support).post(
        url(ticket), {"kind": "nota", "body": "Con texto.", "canned": "abc"}, **HTMX
    )
    assert ticket.comments.get().body == "Con texto."


@pytest.mark.parametrize("canned_id", ["²", "9" * 40])
def test_a_canned_response_id_no_row_can_have_leaves_the_text_alone(
    client_for, support, ticket, canned_id
):
    """ "²" passed str.isdigit() and failed int() in the query: a 500."""
    client = client_for(support)
    client.raise_request_exception = False
    response = client.get(
        reverse("support:canned-response", args=[ticket.pk]),
        {"canned": canned_id, "body": "Buenos días."},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Buenos días.</textarea>" in response.content.decode()


def test_reps_do_not_get_canned_responses(client_for, rep, ticket, canned):
    response = client_for(rep).get(
        reverse("support:canned-response", args=[ticket.pk]), {"canned": canned.pk}
    )
    assert response.status_code == 403


# Downloads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "rep", "manager", "admin_user"])
def test_a_file_is_downloaded_as_an_attachment_by_who_sees_the_ticket(
    client_for, request, support, ticket, role
):
    note = comment_note(
        actor=support,
        ticket=ticket,
        body="Foto de la etiqueta.",
        files=[SimpleUploadedFile("etiqueta de garantía.png", PNG)],
    )
    attachment = note.attachments.get()
    response = client_for(request.getfixturevalue(role)).get(
        reverse("support:attachment-download", args=[attachment.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "etiqueta" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml"])
def test_html_and_svg_are_never_served_as_such(client_for, support, ticket, content_type):
    attachment = Attachment.objects.create(
        ticket=ticket,
        file=SimpleUploadedFile("pagina.html", b"<script>alert(1)</script>"),
        filename="pagina.html",
        content_type=content_type,
        size=25,
        uploaded_by=support,
    )
    response = client_for(support).get(reverse("support:attachment-download", args=[attachment.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_missing_file_is_a_404(client_for, support, ticket):
    attachment = Attachment.objects.create(
        ticket=ticket,
        file=f"tickets/{ticket.pk}/perdido.pdf",
        filename="perdido.pdf",
        content_type="application/pdf",
        size=10,
        uploaded_by=support,
    )
    response = client_for(support).get(reverse("support:attachment-download", args=[attachment.pk]))
    assert response.status_code == 404


def test_files_of_the_ticket_itself_are_listed(client_for, support, ticket):
    Attachment.objects.create(
        ticket=ticket,
        file=SimpleUploadedFile("contrato.pdf", PDF),
        filename="contrato.pdf",
        content_type="application/pdf",
        size=len(PDF),
        uploaded_by=support,
    )
    html = client_for(support).get(url(ticket), **HTMX).content.decode()
    assert "Archivos de la incidencia:" in html
    assert "contrato.pdf" in html
