"""Every write to the suppression list: addresses no campaign writes to, whatever their consent.

Addresses are stored lower-case (the eligibility rule compares them with `=`, and the table
has a CHECK for it). A suppression comes from a hard bounce or a spam complaint (the ESP's
webhooks, campaigns.services.tracking), from a person (one by one or a CSV), and is removed
only by a person; every manual change is audited, since it decides who may be written to.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns.models import Suppression
from crm.core.audit import audit
from crm.core.files import decode_text
from crm.core.models import AuditEvent, User
from crm.core.text import fold

# A suppression CSV is a list of addresses: 5 MB is some 150,000 of them.
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_BATCH = 2000
# Column names that hold the address in a file with a header row (compared accent-free).
EMAIL_HEADERS = {"email", "e-mail", "correo", "correo electronico", "mail", "direccion"}
# Errors listed on the page; the rest are only counted, so a broken file stays readable.
IMPORT_MAX_ERRORS = 50


def normalize_email(email: str) -> str:
    """The address as stored: trimmed and lower-case, or a Spanish ValidationError."""
    value = (email or "").strip().lower()
    if not value:
        raise ValidationError(_("Escribe un correo electrónico."), code="required")
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationError(
            _("«%(value)s» no es un correo electrónico válido."),
            code="invalid",
            params={"value": email.strip()},
        ) from exc
    if len(value) > 254:
        raise ValidationError(_("El correo pasa de 254 caracteres."), code="too_long")
    return value


def suppress(
    *,
    email: str,
    reason: str,
    note: str = "",
    actor: User | None = None,
) -> Suppression:
    """Put an address on the list; an address already there keeps its first entry.

    Idempotent, because bounces and complaints arrive from webhooks that an ESP may deliver
    twice, and two workers may record the same address at once (the unique index decides).
    A person's suppression is audited; an ESP's is recorded by its tracking event.
    """
    value = normalize_email(email)
    if reason not in Suppression.Reason.values:
        raise ValidationError(_("Motivo de supresión desconocido."), code="reason")
    existing = Suppression.objects.filter(email=value).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = Suppression.objects.create(
                email=value, reason=reason, note=(note or "")[:300], created_by=actor
            )
    except IntegrityError:
        return Suppression.objects.get(email=value)
    if actor is not None:
        audit(
            actor=actor,
            action=AuditEvent.Action.CONSENT,
            target=entry,
            detail={"suppression": "added", "email": value, "reason": reason},
        )
    return entry


@transaction.atomic
def suppression_create(*, actor: User, email: str, note: str = "") -> Suppression:
    """A person adds an address by hand; an address already on the list is an error to show."""
    value = normalize_email(email)
    if Suppression.objects.filter(email=value).exists():
        raise ValidationError(
            {"email": _("%(email)s ya está en la lista de supresión.") % {"email": value}},
            code="duplicate",
        )
    return suppress(email=value, reason=Suppression.Reason.MANUAL, note=note, actor=actor)


@transaction.atomic
def unsuppress(*, actor: User, suppression: Suppression) -> None:
    """Take an address off the list: campaigns may write to it again if it has consent.

    Audited with the address and the reason it had, since the row itself is gone.
    """
    detail = {
        "suppression": "removed",
        "email": suppression.email,
        "reason": suppression.reason,
        "note": suppression.note,
    }
    target = f"campaigns.suppression:{suppression.pk}"
    suppression.delete()
    audit(actor=actor, action=AuditEvent.Action.CONSENT, target=target, detail=detail)


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < IMPORT_MAX_ERRORS:
            self.errors.append(message)


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file (crm.core.files.decode_text: UTF-8, else the detected
    Windows code page)."""
    return decode_text(data)


def _rows(text: str) -> list[list[str]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _email_column(header: list[str]) -> int | None:
    for index, cell in enumerate(header):
        if fold(cell).strip(" *:") in EMAIL_HEADERS:
            return index
    return None


def suppression_import(*, actor: User, data: bytes, note: str = "") -> ImportResult:
    """Add the addresses of a CSV: one per row, or the column "email"/"correo" of a header row.

    Invalid lines are reported (by line number, in Spanish) and skipped; the valid ones are
    inserted in one transaction, ignoring those already on the list, so importing the same
    file twice adds nothing. Suppressing more addresses is always the safe side.
    """
    result = ImportResult()
    if len(data) > IMPORT_MAX_BYTES:
        raise ValidationError(
            _("El archivo pasa de %(mb)s MB; divídelo en partes más pequeñas.")
            % {"mb": IMPORT_MAX_BYTES // (1024 * 1024)},
            code="too_big",
        )
    try:
        rows = _rows(decode_upload(data))
    except csv.Error as exc:
        raise ValidationError(
            _("No se pudo leer el archivo como CSV: %(error)s") % {"error": exc}, code="csv"
        ) from exc
    column, start = 0, 0
    if rows:
        found = _email_column(rows[0])
        if found is not None:
            column, start = found, 1
    emails: dict[str, int] = {}
    for number, row in enumerate(rows[start:], start=start + 1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        result.rows += 1
        raw = cells[column] if column < len(cells) else ""
        if not raw:
            result.error(_("Línea %(line)s: no tiene correo electrónico.") % {"line": number})
            continue
        try:
            value = normalize_email(raw)
        except ValidationError as exc:
            result.error(
                _("Línea %(line)s: %(error)s") % {"line": number, "error": exc.messages[0]}
            )
            continue
        emails.setdefault(value, number)
    if not result.rows:
        raise ValidationError(_("El archivo no tiene ningún correo."), code="empty")
    note = (note or _("Importada de un archivo CSV"))[:300]
    with transaction.atomic():
        values = list(emails)
        for bottom in range(0, len(values), IMPORT_BATCH):
            batch = values[bottom : bottom + IMPORT_BATCH]
            existing = set(
                Suppression.objects.filter(email__in=batch).values_list("email", flat=True)
            )
            new = [
                Suppression(
                    email=email, reason=Suppression.Reason.IMPORT, note=note, created_by=actor
                )
                for email in batch
                if email not in existing
            ]
            Suppression.objects.bulk_create(new, ignore_conflicts=True)
            result.added += len(new)
            result.already += len(existing)
        result.already += result.rows - result.error_count - len(values)
        audit(
            actor=actor,
            action=AuditEvent.Action.IMPORT,
            target="campaigns.suppression",
            detail={
                "rows": result.rows,
                "added": result.added,
                "already": result.already,
                "errors": result.error_count,
            },
        )
    return result
