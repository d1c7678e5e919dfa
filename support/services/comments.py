"""The conversation of a ticket: public replies, internal notes, the customer's own messages,
and their attachments.

A public reply is emailed to the ticket's contact by a task after the commit; the comment's
`emailed_at` is the ledger, so a task that runs twice, or the periodic requeue of replies a lost
task left pending, sends one email. Internal notes never leave the building: the only sender
refuses every comment that is not a public reply.

Attachments are checked before anything is written: size, the extension against the
allow-list (settings.SUPPORT_ATTACHMENT_TYPES) and, for the common types, the first bytes, so a
renamed executable or an HTML page called "factura.pdf" is refused, naming the file.
"""

import datetime
import logging
import mimetypes
import secrets
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.models import User
from crm.core.queue import enqueue_on_commit
from support.models import Attachment, Comment, Ticket
from support.permissions import can_work_tickets
from support.services.tickets import ticket_customer_replied, ticket_record_first_response

logger = logging.getLogger(__name__)

BODY_MAX_CHARS = 20_000
FILENAME_MAX_CHARS = 150
SNIFF_BYTES = 8192
Kind = Comment.Kind


# Attachments ----------------------------------------------------------------------------------


def _starts_with(*signatures: bytes) -> Callable[[bytes, UploadedFile], bool]:
    def check(head: bytes, upload: UploadedFile) -> bool:
        return head.startswith(signatures)

    return check


def _pdf(head: bytes, upload: UploadedFile) -> bool:
    # The header may follow up to 1,024 bytes of garbage (PDF 1.7, annex H), as readers accept.
    return b"%PDF-" in head[:1024]


def _webp(head: bytes, upload: UploadedFile) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


# Bytes that never appear in a text file (anything below a space but tab, LF, FF and CR).
_BINARY_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})


def _text(head: bytes, upload: UploadedFile) -> bool:
    """Plain text in any usual encoding (UTF-8, or Windows-1252 from a Spanish Excel)."""
    return not any(byte in _BINARY_BYTES for byte in head)


def _office(folder: str) -> Callable[[bytes, UploadedFile], bool]:
    """A docx or xlsx: a zip whose parts include [Content_Types].xml and the folder of its kind
    (the central directory only is read: nothing is decompressed)."""

    def check(head: bytes, upload: UploadedFile) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return False
        finally:
            upload.seek(0)
        return "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)

    return check


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    looks_right: Callable[[bytes, UploadedFile], bool]


# The types whose content is checked; an extension added to the allow-list beyond these is
# accepted by its extension alone (and always downloaded, never shown in the browser).
KNOWN_TYPES: dict[str, FileType] = {
    "pdf": FileType("application/pdf", "PDF", _pdf),
    "png": FileType("image/png", "PNG", _starts_with(b"\x89PNG\r\n\x1a\n")),
    "jpg": FileType("image/jpeg", "JPEG", _starts_with(b"\xff\xd8\xff")),
    "jpeg": FileType("image/jpeg", "JPEG", _starts_with(b"\xff\xd8\xff")),
    "gif": FileType("image/gif", "GIF", _starts_with(b"GIF87a", b"GIF89a")),
    "webp": FileType("image/webp", "WebP", _webp),
    "txt": FileType("text/plain", "TXT", _text),
    "csv": FileType("text/csv", "CSV", _text),
    "docx": FileType(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word (DOCX)",
        _office("word/"),
    ),
    "xlsx": FileType(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel (XLSX)",
        _office("xl/"),
    ),
}
# Content types a browser could run or render as a page: always served as plain bytes.
# What a message's form fields may add to its files in a request's declared length.
FORM_OVERHEAD_BYTES = 1024 * 1024


def upload_too_large(content_length: str | None) -> bool:
    """A request whose declared length cannot be a message within the limits: refused before
    its body is read (as Django's upload docs advise), by the page and by the API alike."""
    try:
        length = int(content_length or 0)
    except ValueError:
        return False
    limit = (
        settings.SUPPORT_ATTACHMENT_MAX_BYTES * settings.SUPPORT_ATTACHMENTS_PER_MESSAGE
        + FORM_OVERHEAD_BYTES
    )
    return length > limit


def upload_too_large_message() -> str:
    return _("Los archivos pesan demasiado: como máximo %(count)s de %(size)s cada uno.") % {
        "count": settings.SUPPORT_ATTACHMENTS_PER_MESSAGE,
        "size": filesizeformat(settings.SUPPORT_ATTACHMENT_MAX_BYTES),
    }


UNSAFE_CONTENT_TYPES = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml"}


def attachment_allowed_extensions() -> list[str]:
    return [ext.lower().lstrip(".") for ext in settings.SUPPORT_ATTACHMENT_TYPES if ext.strip()]


def attachment_display_name(name: str) -> str:
    """The name the user gave the file, without any folder and within the column's length."""
    base = PurePosixPath((name or "").replace("\\", "/")).name.strip().replace("\x00", "")
    if not base or base in {".", ".."}:
        base = _("archivo")
    if len(base) > FILENAME_MAX_CHARS:
        path = PurePosixPath(base)
        suffix = path.suffix[:16]
        base = path.stem[: FILENAME_MAX_CHARS - len(suffix)] + suffix
    return base


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


@dataclass(frozen=True)
class CheckedFile:
    upload: UploadedFile
    filename: str
    content_type: str
    size: int


def attachment_check(upload: UploadedFile) -> CheckedFile:
    """The file's name and content type if it may be attached; ValidationError naming it if not."""
    name = attachment_display_name(upload.name)
    size = upload.size or 0
    allowed = attachment_allowed_extensions()
    ext = _extension(name)
    if ext not in allowed:
        raise ValidationError(
            _("«%(name)s»: ese tipo de archivo no se admite. Se admiten: %(types)s.")
            % {"name": name, "types": ", ".join(allowed)},
            code="type",
        )
    if size == 0:
        raise ValidationError(_("«%(name)s» está vacío.") % {"name": name}, code="empty")
    limit = settings.SUPPORT_ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ValidationError(
            _("«%(name)s» pesa %(size)s y el máximo es %(max)s.")
            % {"name": name, "size": filesizeformat(size), "max": filesizeformat(limit)},
            code="size",
        )
    known = KNOWN_TYPES.get(ext)
    if known is None:
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        content_type = "application/octet-stream" if guessed in UNSAFE_CONTENT_TYPES else guessed
        return CheckedFile(upload=upload, filename=name, content_type=content_type, size=size)
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    if not known.looks_right(head, upload):
        raise ValidationError(
            _(
                "«%(name)s» no parece un archivo %(type)s: su contenido no corresponde a la "
                "extensión."
            )
            % {"name": name, "type": known.label},
            code="content",
        )
    return CheckedFile(upload=upload, filename=name, content_type=known.content_type, size=size)


def attachments_check(files: Iterable[UploadedFile]) -> list[CheckedFile]:
    """Every file checked; one ValidationError (key "files") listing every refused file."""
    files = [f for f in files if f]
    limit = settings.SUPPORT_ATTACHMENTS_PER_MESSAGE
    if len(files) > limit:
        raise ValidationError(
            {
                "files": _("Puedes adjuntar como máximo %(count)s archivos por mensaje.")
                % {"count": limit}
            }
        )
    checked, errors = [], []
    for upload in files:
        try:
            checked.append(attachment_check(upload))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"files": errors})
    return checked


def _store(*, actor: User, ticket: Ticket, checked: CheckedFile, comment: Comment | None):
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        filename=checked.filename,
        content_type=checked.content_type,
        size=checked.size,
        uploaded_by=actor,
    )
    # A random prefix keeps the stored path unguessable and two "foto.jpg" apart.
    attachment.file.save(f"{secrets.token_hex(8)}_{checked.filename}", checked.upload, save=False)
    attachment.save()
    return attachment


@transaction.atomic
def attachments_add(
    *,
    actor: User,
    ticket: Ticket,
    files: Iterable[UploadedFile],
    comment: Comment | None = None,
) -> list[Attachment]:
    """Attach files to a ticket (and one of its comments): all of them, or none if one is
    refused. Stored under MEDIA_ROOT by the model's upload_to; served only by the permission-
    checked download view."""
    if not can_work_tickets(actor):
        raise PermissionDenied(_("Solo el equipo de soporte adjunta archivos a las incidencias."))
    checked = attachments_check(files)
    return [_store(actor=actor, ticket=ticket, checked=c, comment=comment) for c in checked]


# Comments ---------------------------------------------------------------------------------


def _locked(ticket: Ticket) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("account", "contact")
        .get(pk=ticket.pk)
    )


def _comment_add(
    *, actor: User, ticket: Ticket, kind: str, body: str, files: Iterable[UploadedFile]
) -> tuple[Comment, Ticket]:
    """Checks everything first (role, ticket open, text, files), then writes the comment and its
    attachments. Called inside the caller's transaction."""
    if not can_work_tickets(actor):
        raise PermissionDenied(
            _("Puedes leer la conversación, pero solo el equipo de soporte escribe en ella.")
        )
    ticket = _locked(ticket)
    if ticket.status == Ticket.Status.CLOSED:
        raise ValidationError(
            _(
                "La incidencia %(number)s está cerrada y ya no admite mensajes. Si el cliente "
                "vuelve a escribir, abre una incidencia nueva."
            )
            % {"number": ticket.number}
        )
    errors: dict[str, list[str]] = {}
    body = (body or "").strip()
    if not body:
        errors["body"] = [_("Escribe el mensaje.")]
    elif len(body) > BODY_MAX_CHARS:
        errors["body"] = [
            _("El mensaje es demasiado largo: como máximo %(max)s caracteres.")
            % {"max": BODY_MAX_CHARS}
        ]
    files = list(files or ())
    try:
        checked = attachments_check(files)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        checked = []
    if errors:
        raise ValidationError(errors)
    comment = Comment.objects.create(ticket=ticket, kind=kind, author=actor, body=body)
    for item in checked:
        _store(actor=actor, ticket=ticket, checked=item, comment=comment)
    # The ticket moved: the queues' "last activity" is the latest message.
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=comment.created_at)
    return comment, ticket


def reply_recipient(ticket: Ticket) -> str:
    """The address a public reply of this ticket goes to ("" when there is none)."""
    contact = ticket.contact if ticket.contact_id else None
    return contact.email if contact is not None and contact.email else ""


@transaction.atomic
def comment_reply(
    *, actor: User, ticket: Ticket, body: str, files: Iterable[UploadedFile] = ()
) -> Comment:
    """A public reply to the customer: saved with its files and, after the commit, emailed to
    the contact (if they have an email address). The first one stamps the first response."""
    comment, ticket = _comment_add(
        actor=actor, ticket=ticket, kind=Kind.REPLY, body=body, files=files
    )
    if ticket.first_response_at is None:
        ticket_record_first_response(ticket=ticket, actor=actor, at=comment.created_at)
    if reply_recipient(ticket):
        enqueue_on_commit("support.comment_reply_send", [comment.pk])
    return comment


@transaction.atomic
def comment_note(
    *, actor: User, ticket: Ticket, body: str, files: Iterable[UploadedFile] = ()
) -> Comment:
    """An internal note: for the team only, never emailed nor shown to the customer."""
    comment, _ticket = _comment_add(
        actor=actor, ticket=ticket, kind=Kind.NOTE, body=body, files=files
    )
    return comment


@transaction.atomic
def comment_customer_message(
    *, actor: User, ticket: Ticket, body: str, files: Iterable[UploadedFile] = ()
) -> Comment:
    """What the customer said (by phone, email, WhatsApp…), recorded by an agent. It counts as
    the customer's reply: a resolved or waiting ticket goes back to «abierto»."""
    comment, ticket = _comment_add(
        actor=actor, ticket=ticket, kind=Kind.CUSTOMER, body=body, files=files
    )
    ticket_customer_replied(ticket=ticket, at=comment.created_at)
    return comment


COMMENT_SERVICES = {
    Kind.REPLY: comment_reply,
    Kind.NOTE: comment_note,
    Kind.CUSTOMER: comment_customer_message,
}


def comment_add(
    *, actor: User, ticket: Ticket, kind: str, body: str, files: Iterable[UploadedFile] = ()
) -> Comment:
    """One of the three services above, by the composer's kind."""
    service = COMMENT_SERVICES.get(kind)
    if service is None:
        raise ValidationError({"kind": _("Elige si es una respuesta, una nota o un mensaje.")})
    return service(actor=actor, ticket=ticket, body=body, files=files)


# The email of a public reply ------------------------------------------------------------------


def _mailbox(name: str, address: str) -> str:
    """'"Name" <address>', left unencoded: Django encodes a non-ASCII name when it sends."""
    name = " ".join((name or "").split()).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{address}>' if name else address


def _from_address() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return _mailbox(settings.COMPANY["name"], address)


def _thread_id(ticket: Ticket, domain: str) -> str:
    return f"<{ticket.number.lower()}@{domain}>"


def comment_reply_message(comment: Comment) -> EmailMultiAlternatives:
    """The email of a public reply: "[INC-2026-000123] <asunto>", from the company, answered to
    the support address, threaded per ticket, with the reply's files attached."""
    ticket = comment.ticket
    contact = ticket.contact
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "comment": comment,
            "ticket": ticket,
            "contact": contact,
            "author": comment.author,
            "company": settings.COMPANY,
        }
        text = render_to_string("support/emails/reply.txt", context)
        html = render_to_string("support/emails/reply.html", context)
    subject = " ".join(f"[{ticket.number}] {ticket.subject}".split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=_from_address(),
        to=[_mailbox(contact.full_name, contact.email)],
        reply_to=[settings.SUPPORT_EMAIL] if settings.SUPPORT_EMAIL else None,
        headers={
            # Stable per reply: a resent message is recognised as the same one.
            "Message-ID": f"<{ticket.number.lower()}.{comment.pk}@{domain}>",
            "In-Reply-To": _thread_id(ticket, domain),
            "References": _thread_id(ticket, domain),
        },
    )
    message.attach_alternative(html, "text/html")
    for attachment in comment.attachments.all():
        try:
            with attachment.file.open("rb") as handle:
                message.attach(attachment.filename, handle.read(), attachment.content_type)
        except FileNotFoundError:
            logger.warning("attachment %s of comment %s is missing", attachment.pk, comment.pk)
    return message


@transaction.atomic
def comment_reply_email(*, comment_id: int) -> bool:
    """Email a public reply to the ticket's contact, unless it was already sent.

    The comment row is locked while sending, so two workers running the task at once send one
    email. Internal notes and customer messages are never sent. Returns whether it was sent.
    """
    comment = (
        Comment.objects.select_for_update(of=("self",))
        .select_related("ticket", "ticket__contact", "author")
        .filter(pk=comment_id)
        .first()
    )
    if comment is None or comment.kind != Kind.REPLY or comment.emailed_at is not None:
        return False
    if not reply_recipient(comment.ticket):
        logger.info("reply %s not emailed: the ticket's contact has no email", comment.pk)
        return False
    comment_reply_message(comment).send()
    comment.emailed_at = timezone.now()
    comment.save(update_fields=["emailed_at"])
    return True


def comment_replies_pending(*, now: datetime.datetime) -> list[int]:
    """Public replies of the last day still unsent a few minutes after they were written (their
    task was lost): the requeue job wakes a worker up for each."""
    return list(
        Comment.objects.filter(
            kind=Kind.REPLY,
            emailed_at__isnull=True,
            created_at__lt=now - datetime.timedelta(minutes=5),
            created_at__gte=now - datetime.timedelta(days=1),
        )
        .exclude(ticket__contact__isnull=True)
        .exclude(ticket__contact__email="")
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
