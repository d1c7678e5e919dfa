"""Files people have, read as a header and rows of text.

- CSV in UTF-8 (with or without BOM) or Windows-1252, separated by "," or ";" (Excel in
  Spanish), including the contact exports of Google Contacts and Outlook.
- XLSX: the first sheet, every value as text (dates as ISO 8601). Formulas are read as their
  text ("=A1*2"), never evaluated, and stored as that text if mapped to a text field.
- vCard 2.1, 3.0 and 4.0 with many cards, as phones export them: each card becomes a row under
  a fixed header (VCARD_HEADER); photos and unknown properties are ignored.

A table can be read more than once (the runner counts and checks the names first, then
processes), so it keeps the bytes and parses them again each time instead of holding the
rows in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.core.files import decode_text, sniff_delimiter

KINDS = ("csv", "xlsx", "vcard")


@dataclass
class Table:
    kind: str
    header: list[str]
    data: bytes
    delimiter: str = ","

    def rows(self) -> Iterator[list[str]]:
        """The data rows (without the header), each as long as the header."""
        width = len(self.header)
        for row in _ROW_READERS[self.kind](self):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield row[:width] if len(row) > width else row


def detect_kind(file_name: str, data: bytes) -> str:
    name = file_name.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    head = data[:2048].lstrip(b"\xef\xbb\xbf\r\n\t ").upper()
    if name.endswith((".vcf", ".vcard")) or head.startswith(b"BEGIN:VCARD"):
        return "vcard"
    return "csv"


def read_table(file_name: str, data: bytes, kind: str | None = None) -> Table:
    """The file as a Table, or a ValidationError in Spanish when it cannot be read at all."""
    kind = kind or detect_kind(file_name, data)
    if not data.strip():
        raise ValidationError(_("El archivo está vacío."), code="empty")
    try:
        return _HEADER_READERS[kind](data)
    except ValidationError:
        raise
    except Exception as exc:  # a broken file: say so, whatever the library raised
        raise ValidationError(
            _("No se pudo leer el archivo «%(name)s» como %(kind)s: %(error)s"),
            code="unreadable",
            params={"name": file_name, "kind": kind.upper(), "error": exc},
        ) from exc


# --- CSV --------------------------------------------------------------------------------------


def _csv_table(data: bytes) -> Table:
    text = decode_text(data)
    delimiter = sniff_delimiter(text[:8192])
    table = Table("csv", [], data, delimiter)
    table._text = text
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    table.header = [cell.strip() for cell in header]
    if not any(table.header):
        raise ValidationError(_("El archivo no tiene fila de encabezados."), code="no_header")
    return table


def _csv_rows(table: Table) -> Iterator[list[str]]:
    text = getattr(table, "_text", None) or decode_text(table.data)
    reader = csv.reader(io.StringIO(text), delimiter=table.delimiter)
    next(reader, None)
    yield from reader


# --- XLSX -------------------------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number: 5512345678.0 → "5512345678"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def _xlsx_sheet_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    # read_only streams the sheet; data_only=False keeps a formula as its text (not evaluated).
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        book.close()


def _xlsx_table(data: bytes) -> Table:
    header = next(_xlsx_sheet_rows(data), [])
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise ValidationError(_("La primera hoja no tiene fila de encabezados."), code="no_header")
    return Table("xlsx", header, data)


def _xlsx_rows(table: Table) -> Iterator[list[str]]:
    rows = _xlsx_sheet_rows(table.data)
    next(rows, None)
    yield from rows


# --- vCard ------------------------------------------------------------------------------------

# The columns a card is spread over (mapping.suggest recognises them).
VCARD_HEADER = [
    "Nombre",
    "Apellidos",
    "Nombre completo",
    "Correo electrónico",
    "Correo electrónico 2",
    "Correo electrónico 3",
    "Teléfono móvil",
    "Teléfono",
    "Teléfono 2",
    "Empresa",
    "Puesto",
    "Cumpleaños",
    "Calle",
    "Ciudad",
    "Estado",
    "Código postal",
    "País",
    "Notas",
    "Error de lectura",
]
_V = {name: index for index, name in enumerate(VCARD_HEADER)}
# A quoted-printable line of vCard 2.1 that ends in "=" continues on the next line.
_QP_PROPERTY = re.compile(r"^[^:]*ENCODING=QUOTED-PRINTABLE[^:]*:", re.IGNORECASE)
_MOBILE_TYPES = {"CELL", "MOBILE", "IPHONE", "TEXT"}
_SKIP_TYPES = {"FAX", "PAGER"}


def _prepare(text: str) -> str:
    """vobject does not follow quoted-printable soft line breaks ("=" at the end of a line, as
    Android and old Nokia phones fold long names): join them before parsing. Photos go."""
    lines = _drop_binary(text.splitlines())
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _QP_PROPERTY.match(line):
            while line.endswith("=") and index + 1 < len(lines):
                index += 1
                line = line[:-1] + lines[index].lstrip()
        out.append(line)
        index += 1
    return "\r\n".join(out) + "\r\n"


_BINARY_PROPERTY = re.compile(r"^(PHOTO|LOGO|SOUND|KEY)[;:]", re.IGNORECASE)
_CARD = re.compile(r"^BEGIN:VCARD\s*$.*?^END:VCARD\s*$", re.IGNORECASE | re.MULTILINE | re.DOTALL)


def _drop_binary(lines: list[str]) -> list[str]:
    """Photos (and logos, sounds, keys) are not imported: drop them with their folded lines
    before parsing, so a truncated photo never costs the card."""
    out: list[str] = []
    skipping = False
    for line in lines:
        if _BINARY_PROPERTY.match(line):
            skipping = True
            continue
        if skipping and (line[:1] in (" ", "\t") or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return out


def _types(line) -> set[str]:
    """TYPE of a property in every version: 2.1 bare params (TEL;CELL), 3.0 TYPE=cell,
    4.0 TYPE="cell,voice"."""
    found = {param.upper() for param in getattr(line, "singletonparams", [])}
    for value in line.params.get("TYPE", []):
        found.update(part.strip().strip('"').upper() for part in value.split(","))
    return found


def _card_row(card) -> list[str]:
    row = [""] * len(VCARD_HEADER)
    contents = card.contents
    name = contents.get("n", [None])[0]
    if name is not None and hasattr(name.value, "given"):
        given = " ".join(filter(None, [_flat(name.value.given), _flat(name.value.additional)]))
        row[_V["Nombre"]] = given
        row[_V["Apellidos"]] = _flat(name.value.family)
    if "fn" in contents:
        row[_V["Nombre completo"]] = _flat(contents["fn"][0].value)
    emails = sorted(contents.get("email", []), key=lambda line: "PREF" not in _types(line))
    for slot, line in zip(
        ("Correo electrónico", "Correo electrónico 2", "Correo electrónico 3"), emails, strict=False
    ):
        row[_V[slot]] = _flat(line.value)
    mobiles, others = [], []
    for line in sorted(contents.get("tel", []), key=lambda line: "PREF" not in _types(line)):
        types = _types(line)
        value = _flat(line.value)
        if value.lower().startswith("tel:"):  # vCard 4.0: a URI
            value = value[4:]
        if not value or types & _SKIP_TYPES:
            continue
        (mobiles if types & _MOBILE_TYPES else others).append(value)
    if mobiles:
        row[_V["Teléfono móvil"]] = mobiles.pop(0)
    rest = others + mobiles
    for slot in ("Teléfono", "Teléfono 2"):
        if rest:
            row[_V[slot]] = rest.pop(0)
    if "org" in contents:
        org = contents["org"][0].value
        row[_V["Empresa"]] = _flat(org[0] if isinstance(org, list) and org else org)
    if "title" in contents:
        row[_V["Puesto"]] = _flat(contents["title"][0].value)
    if "bday" in contents:
        row[_V["Cumpleaños"]] = _flat(contents["bday"][0].value)
    if "adr" in contents:
        address = contents["adr"][0].value
        if hasattr(address, "street"):
            row[_V["Calle"]] = _flat(address.street)
            row[_V["Ciudad"]] = _flat(address.city)
            row[_V["Estado"]] = _flat(address.region)
            row[_V["Código postal"]] = _flat(address.code)
            row[_V["País"]] = _flat(address.country)
    if "note" in contents:
        row[_V["Notas"]] = _flat(contents["note"][0].value)
    return row


def _flat(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):  # a binary property (PHOTO): never a text field
        return ""
    if isinstance(value, list | tuple):
        return " ".join(_flat(part) for part in value if part).strip()
    return str(value).strip()


def _vcard_table(data: bytes) -> Table:
    return Table("vcard", list(VCARD_HEADER), data)


def _vcard_rows(table: Table) -> Iterator[list[str]]:
    import vobject

    # Card by card, so that one broken card is one rejected row and not the end of the file.
    for match in _CARD.finditer(decode_text(table.data)):
        try:
            card = vobject.readOne(_prepare(match.group(0)), ignoreUnreadable=True)
            row = _card_row(card)
        except Exception as exc:  # vobject raises a variety of errors on a broken card
            row = [""] * len(VCARD_HEADER)
            row[_V["Error de lectura"]] = _("Tarjeta vCard ilegible: %(error)s") % {
                "error": str(exc)[:200]
            }
        yield row


_HEADER_READERS = {"csv": _csv_table, "xlsx": _xlsx_table, "vcard": _vcard_table}
_ROW_READERS = {"csv": _csv_rows, "xlsx": _xlsx_rows, "vcard": _vcard_rows}
