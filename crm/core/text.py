"""Normalisation shared by every app: accent-free search text, phone numbers, and the ids a
request names.

Search must find "Pérez" when a user types "perez" on SQLite and PostgreSQL alike, and a phone
number whatever its format, so records keep a normalised copy of what is searched (written by
`save()` from the fields themselves, so it can never drift from them).
"""

import functools
import re
import unicodedata
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Func, TextField
from django.utils.translation import gettext as _

_NON_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")
# Lower-case and strip the accents Spanish and Portuguese names carry, so "Querétaro" matches
# "QUERETARO" on PostgreSQL without the unaccent extension (translate() maps char by char).
_ACCENTS = "áàâäãéèêëíìîïóòôöõúùûüñçÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇ"
_PLAIN = "aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc"
_ACCENT_TABLE = str.maketrans(_ACCENTS, _PLAIN)


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text ("  José  PÉREZ" → "jose perez")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def search_text(*parts: str | None) -> str:
    return " ".join(fold(part) for part in parts if part)


def digits(text: str | None) -> str:
    return _NON_DIGITS.sub("", text or "")


def _parse(raw: str, region: str | None) -> phonenumbers.PhoneNumber:
    number = phonenumbers.parse(raw, region or settings.PHONE_DEFAULT_REGION)
    # Mexico dropped the "1" that mobiles carried after +52 in 2019, but people still write it.
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        number.national_number = int(national[1:])
    return number


def normalize_phone(raw: str, region: str | None = None) -> str:
    """The number in E.164 ("+525512345678"), or a translated ValidationError.

    A number without a country code is read in `region` (the record's country), falling back to
    the company's default region from settings.
    """
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = _parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("«%(value)s» no es un número de teléfono."), code="phone", params={"value": raw}
        ) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("«%(value)s» no es un número de teléfono válido."),
            code="phone",
            params={"value": raw},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def format_phone(e164: str) -> str:
    """The stored E.164 number as people write it ("+52 55 1234 5678")."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_query_digits(query: str, region: str | None = None) -> list[str]:
    """The digit strings to look for when someone searches a phone number.

    "55 1234 5678", "+52 1 55-1234-5678" and "5512345678" must all find +525512345678: we search
    for the national significant number when the query parses as a full number, and for the
    typed digits otherwise (so three digits already narrow the list down).
    """
    typed = digits(query)
    if len(typed) < 3:
        return []
    found = [typed]
    try:
        number = _parse(query, region)
        national = phonenumbers.national_significant_number(number)
    except phonenumbers.NumberParseException:
        national = ""
    if national and national not in found and len(national) >= 7:
        found.insert(0, national)
    return found


# The largest id a table holds (BigAutoField). A larger number names no row, and the databases
# refuse to compare a column with it (SQLite raises OverflowError; PostgreSQL, out of range).
MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """The id a request names (`?account=12`, a hidden input), or None when it names none: not
    a plain number, or one no row can have."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):  # "²" and "٣" are digits, but no id
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


WEB_SCHEMES = ("http", "https")


def is_web_url(value) -> bool:
    """Whether an address is one a page may link to: http or https with a host. A `javascript:`
    or `data:` address (in any case, with spaces or control characters before the scheme, as
    browsers forgive) is not."""
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    # Browsers drop tabs and newlines inside the scheme ("java\tscript:"); urlsplit does too.
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc) and text.isprintable()


def column_fold(text: str | None) -> str:
    """Lower-case without Spanish accents, exactly as `Folded` computes it in the database."""
    return (text or "").lower().translate(_ACCENT_TABLE)


def fold_table(compared_with: tuple[str, ...] | None = None) -> tuple[str, str]:
    """(accented letters, their plain letters): the part of the accent table that folding a
    column must apply for it to equal, or contain, one of the texts `compared_with`, which
    are folded already (`fold`, `column_fold`). Only the letters that fold into a letter of
    those texts: a column's "é" must become "e" to match "mex", but its "á" matches no letter
    of "mex", folded or not, so it may stay as it is. Folding is letter by letter, so a column
    folded by this part equals or contains the text exactly when it would folded whole.
    PostgreSQL's translate() costs in proportion to the letters it maps: 2.2 µs per city with
    the whole table, 0.5 µs with the four "e"s of "mex" (100,000 contacts). Texts holding an
    accented letter themselves (never folded) get the whole table. None: the whole table."""
    if compared_with is None:
        return _ACCENTS, _PLAIN
    letters = set("".join(compared_with))
    if letters & set(_ACCENTS):
        return _ACCENTS, _PLAIN
    pairs = [pair for pair in zip(_ACCENTS, _PLAIN, strict=True) if pair[1] in letters]
    return "".join(a for a, _p in pairs), "".join(p for _a, p in pairs)


class Folded(Func):
    """`column_fold` of a text column, in SQL: TRANSLATE(LOWER()) on PostgreSQL; on SQLite,
    which has no translate(), the Python function itself, registered on the connection. Used
    where a column is compared with a value folded the same way (segments, score rules).

    `compared_with`: the folded texts the column is compared with (equal to, containing, in
    the list of), when known: PostgreSQL then maps only the accented letters that can fold
    into one of their letters (`fold_table`), the same answer at a fraction of the cost. A
    pattern (a regular expression) is compared folded whole."""

    output_field = TextField()

    def __init__(self, expression, *, compared_with: tuple[str, ...] | None = None, **extra):
        super().__init__(expression, **extra)
        self.compared_with = None if compared_with is None else tuple(compared_with)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"LOWER({sql})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # Idempotent; the raw connection exists once the query is compiled.
        connection.ensure_connection()
        connection.connection.create_function("crm_fold", 1, column_fold, deterministic=True)
        sql, params = compiler.compile(self.source_expressions[0])
        return f"crm_fold({sql})", params

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        accented, plain = fold_table(self.compared_with)
        if not accented:
            return f"LOWER({sql})", params
        return f"TRANSLATE(LOWER({sql}), %s, %s)", (*params, accented, plain)
