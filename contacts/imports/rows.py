"""Each row of a file normalised, validated and classified, before anything is written.

Normalisation: cells trimmed; names capitalised only when the whole file writes its names in
capitals ("JOSÉ DE LA PEÑA" → "José de la Peña"; a file with "McArthur" is left alone); phones
to E.164 with `crm.core.text.normalize_phone` in the row's country, else the country the user
picked; tax ids with `accounts.validators.normalize_tax_id`; the rest checked with the model
fields' own validators (`Model.clean_fields`), so no rule is written twice.

Formula-like cells ("=SUMA(A1)", "+52…", "-", "@usuario") are data: they are stored as the text
they are, never evaluated (nothing here evaluates anything) and never stripped; exports and the
rejected-rows file escape them when they go back to a spreadsheet (DESIGN.md §5).

Classification (`Classifier.classify`, one batch at a time, the same for the preview and the
run): an error (with its reasons in Spanish, naming the field), a duplicate of an existing
contact (same email, else the same phone digits) or of an earlier row of the file, an update
(a duplicate the user chose to update, with the fields that change), or new.

Tags (a column mapped to "tags"): names separated by commas or semicolons, or by " ::: " as
Google Contacts writes its labels ("* myContacts ::: Clientes"; its "* myContacts", every
contact's, is not a tag; the "* " of its other system labels is dropped).
"""

from __future__ import annotations

import datetime as dt
import functools
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import connection, connections
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import translation
from django.utils.translation import gettext as _
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.validators import normalize_tax_id
from contacts.imports.mapping import type_column
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from crm.core.models import Country, User
from crm.core.permissions import editable_by_owner_q
from crm.core.text import digits, fold, normalize_phone

NEW, UPDATE, DUPLICATE, ERROR = "nuevo", "actualizar", "duplicado", "error"
STATUSES = (NEW, UPDATE, DUPLICATE, ERROR)
POLICIES = ("skip", "update", "create")

NAME_FIELDS = ("first_name", "last_name", "full_name")
# Fields written to the contact as they are (after the checks).
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "job_title",
    "lifecycle",
    "lead_source",
    "lead_score",
    "birthday",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
)
_PARTICLES = {"de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos", "van", "von"}
_YES = {"si", "s", "yes", "y", "true", "verdadero", "1", "x", "acepta", "otorgado", "opt-in"}
_NO = {"no", "n", "false", "falso", "0", "rechaza", "retirado", "baja", "opt-out"}
_MOBILE_TYPES = {"mobile", "movil", "cell", "celular", "cel"}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d")
_COUNTRIES = {fold(str(label)): code for code, label in Country.choices} | {
    "mexico": "MX",
    "espana": "ES",
    "spain": "ES",
    "united states": "US",
    "estados unidos": "US",
}


TAG_MAX_LENGTH = 100  # taggit's Tag.name
# Google Contacts' label every contact of the account has: not a tag.
_GOOGLE_ALL = {"mycontacts"}
_TAG_SEPARATORS = re.compile(r"\s*(?::::|[;,])\s*")


@dataclass
class ImportOptions:
    """What the user decides before the import (stored as JSON on the ImportRun)."""

    owner_id: int
    country: str = "MX"
    duplicates: str = "skip"  # skip | update | create (create: only when the email differs)
    create_accounts: bool = False
    # Consent is imported only with a column mapped to "consent" and a legal basis stated.
    consent_basis: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ImportOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def check(self, mapping: dict[str, str]) -> None:
        errors = {}
        if self.duplicates not in POLICIES:
            errors["duplicates"] = _("Elige qué hacer con los duplicados.")
        if self.country not in Country.values:
            errors["country"] = _("País desconocido: %(code)s.") % {"code": self.country}
        if "consent" in mapping.values() and self.consent_basis not in Consent.LegalBasis.values:
            errors["consent_basis"] = _(
                "Indica la base legal del consentimiento de la columna «%(column)s», o no la "
                "importes: sin ella los contactos se importan sin consentimiento."
            ) % {"column": next(c for c, f in mapping.items() if f == "consent")}
        if errors:
            raise ValidationError(errors)


@dataclass
class RowResult:
    line: int  # the row's line in the file (the header is line 1), or the card's number
    status: str
    raw: list[str]
    values: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The existing contact this row repeats, and by which rule ("email", "teléfono").
    match_id: int | None = None
    match_rule: str = ""
    duplicate_of_line: int | None = None
    # {"field": (before, after)} for an update.
    changes: dict = field(default_factory=dict)
    account_id: int | None = None
    account_new: tuple | None = None  # (key, name, tax_id) of an account to create
    consent: str = ""  # "grant", "withdraw" or ""
    # The tags the row gives the contact: all the file names for a new one, those it lacks for
    # an update.
    tags: list[str] = field(default_factory=list)
    contact: Contact | None = None  # the existing contact to update (not for the preview page)
    # The new contact's column values, made ahead by the normalising thread (writer).
    prepared: dict | None = None

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons)


_CONTACT_FIELDS_META = {name: Contact._meta.get_field(name) for name in CONTACT_FIELDS}


def _text_limit(model_field) -> int | None:
    """The length a value may have, for a text field whose only validator is its maximum
    length (or none at all); None for a field that needs `field.clean`. For such a field a
    string within that length (and one of its choices, if it has them: _CHOICE_VALUES) is
    exactly what `clean` accepts, so the check costs a `len()` per cell instead of a clean."""
    validators = model_field.validators
    if not validators:
        return 10**9
    if len(validators) == 1 and type(validators[0]) is MaxLengthValidator:
        return validators[0].limit_value
    return None


_TEXT_LIMITS = {
    name: limit
    for name, model_field in _CONTACT_FIELDS_META.items()
    if model_field.get_internal_type() in ("CharField", "TextField")
    and (limit := _text_limit(model_field)) is not None
}
_CHOICE_VALUES = {
    name: frozenset(str(value) for value, _label in model_field.flatchoices)
    for name, model_field in _CONTACT_FIELDS_META.items()
    if model_field.choices
}


def _label(name: str) -> str:
    labels = {
        "full_name": _("Nombre completo"),
        "account_name": _("Cuenta"),
        "account_tax_id": _("RFC / NIF de la cuenta"),
        "consent": _("Consentimiento"),
    }
    if name in labels:
        return labels[name]
    return str(Contact._meta.get_field(name).verbose_name).capitalize()


def capitalise_name(text: str) -> str:
    words = text.lower().split()
    return " ".join(
        word
        if index and word in _PARTICLES
        else "-".join(p[:1].upper() + p[1:] for p in word.split("-"))
        for index, word in enumerate(words)
    )


def is_all_caps(values) -> bool:
    """Whether every name with letters is written in capitals (and there is at least one)."""
    seen = False
    for value in values:
        if value.upper() != value.lower():  # it has letters
            if value != value.upper():
                return False
            seen = True
    return seen


def split_tags(text: str) -> list[str]:
    """The tag names in a cell, in order, each once (case aside)."""
    names, seen = [], set()
    for part in _TAG_SEPARATORS.split(text):
        name = part.strip()
        if name.startswith("*"):
            name = name.lstrip("* ")
            if fold(name).replace(" ", "") in _GOOGLE_ALL:
                continue
        if name and name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


@functools.lru_cache(maxsize=64)
def _folded_choices(choices, language: str | None) -> dict[str, str]:
    found = {fold(str(label)): value for value, label in choices.choices}
    return found | {fold(value): value for value in choices.values}


def _choice(value: str, choices) -> str | None:
    """The value of a TextChoices whose value or label (in the current language) the cell
    names, accents and case aside."""
    return _choice_of(value, choices, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _choice_of(value: str, choices, language: str | None) -> str | None:
    # A file repeats a handful of stages, sources and countries: each is folded once.
    return _folded_choices(choices, language).get(fold(value))


def _date(value: str) -> dt.date | None:
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, pattern).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    return None


_YEARLESS = re.compile(r"--(\d{2})-?(\d{2})")
# The year Apple's Contacts writes for a birthday saved without one.
_NO_YEAR = 1604


def _day_month(value: str, parsed: dt.date | None) -> str:
    """ "17/05" for a birthday without a year ("--0517", "--05-17", "1604-05-17"), else ""."""
    if parsed is not None:
        return f"{parsed.day:02d}/{parsed.month:02d}" if parsed.year == _NO_YEAR else ""
    found = _YEARLESS.fullmatch(value.strip())
    if not found:
        return ""
    month, day = int(found.group(1)), int(found.group(2))
    try:
        dt.date(2000, month, day)  # a leap year: 29 February is a birthday
    except ValueError:
        return ""
    return f"{day:02d}/{month:02d}"


def _any_of(values: list[str]):
    """`column IN (…)` for a thousand values. On PostgreSQL as a join with the array, so the
    planner probes the B-tree index per value: with a plain IN list it may choose the trigram
    index of the same column (contact_phone_trgm), which takes seconds for a thousand."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", (values,))
    return values


def split_full_name(text: str) -> tuple[str, str]:
    """ "Pérez Gómez, Ana" → ("Ana", "Pérez Gómez"); "Ana Pérez Gómez" → ("Ana", "Pérez Gómez")."""
    if "," in text:
        last, first = (part.strip() for part in text.split(",", 1))
        return first, last
    first, _sep, last = text.strip().partition(" ")
    return first, last.strip()


class Classifier:
    """Normalises and classifies rows batch by batch, remembering the file's earlier rows (an
    email or a phone already seen is a duplicate of that row) and the accounts it found or will
    create. The same object serves the preview and the run, so both classify alike."""

    def __init__(
        self,
        *,
        header: list[str],
        mapping: dict[str, str],
        options: ImportOptions,
        actor: User | None,
        capitalise: bool = False,
    ):
        self.header = header
        self.options = options
        self.capitalise = capitalise
        index = {name: i for i, name in enumerate(header)}
        self.columns = [(index[c], f, c) for c, f in mapping.items() if c in index]
        self.type_index = {
            i: index.get(type_column(header, column) or "")
            for i, f, column in self.columns
            if f == "phone_by_type"
        }
        self.fields = {f for _i, f, _c in self.columns}
        self.editable = editable_by_owner_q(actor) if actor is not None else Q()
        self.seen_emails: dict[str, int] = {}
        self.seen_phones: dict[str, int] = {}
        self._accounts: tuple[dict, dict] | None = None
        self.pending_accounts: dict[str, int] = {}  # key → line that asks for it
        self._folded_names: dict[str, str] = {}
        # Batches normalised (and looked up) ahead, by their first line: (rows, found or None).
        self._ready: dict[int, tuple[list[RowResult], tuple | None]] = {}
        self._texts: dict[str, str] | None = None

    def texts(self) -> dict[str, str]:
        """The duplicates' reasons, translated once per run rather than once per row (gettext
        reads the active language from a thread-local under a lock, which the normalising
        thread contends for)."""
        if self._texts is None:
            self._texts = {
                "repeats": _("Repite la fila %(line)s del archivo."),
                "email": _("correo electrónico"),
                "phone": _("teléfono"),
                "create": _("Mismo %(rule)s que %(name)s (#%(id)s): se crea otro contacto."),
                "locked": _("Ya existe como %(name)s (#%(id)s), que no puedes modificar."),
                "unchanged": _("Mismo %(rule)s que %(name)s (#%(id)s), sin cambios."),
                "same": _("Mismo %(rule)s que %(name)s (#%(id)s)."),
            }
        return self._texts

    # --- accounts -----------------------------------------------------------------------------

    def accounts(self) -> tuple[dict, dict]:
        """{tax_id: id} and {folded name: id} of every account, loaded once (20,000 are a
        few hundred kilobytes) when the file has an account column."""
        if self._accounts is None:
            by_tax, by_name = {}, {}
            rows = Account.objects.order_by("archived_at", "id").values_list("id", "name", "tax_id")
            for pk, name, tax_id in rows.iterator(chunk_size=5000):
                if tax_id:
                    by_tax.setdefault(tax_id, pk)
                by_name.setdefault(fold(name), pk)
            self._accounts = (by_tax, by_name)
        return self._accounts

    def account_created(self, key: str, name: str, tax_id: str, pk: int) -> None:
        by_tax, by_name = self.accounts()
        if tax_id:
            by_tax.setdefault(tax_id, pk)
        by_name.setdefault(fold(name), pk)
        self.pending_accounts.pop(key, None)

    # --- one row ------------------------------------------------------------------------------

    def normalise(self, line: int, raw: list[str]) -> RowResult:
        row = RowResult(line=line, status=NEW, raw=raw)
        cells: dict[str, str] = {}
        notes: list[str] = []
        by_type: list[tuple[str, str]] = []
        for i, name, column in self.columns:
            value = raw[i].strip()
            if not value:
                continue
            if name == "notes":
                notes.append(value if len(self.columns) == 1 else f"{column}: {value}")
            elif name == "phone_by_type":
                type_i = self.type_index.get(i)
                by_type.append((value.split(" ::: ")[0], raw[type_i] if type_i is not None else ""))
            else:
                cells[name] = value
        if cells.get("read_error"):
            row.status = ERROR
            row.reasons.append(cells["read_error"])
            return row
        errors = row.reasons
        values: dict = {}
        first, last = cells.get("first_name", ""), cells.get("last_name", "")
        if not first and cells.get("full_name"):
            first, split_last = split_full_name(cells["full_name"])
            last = last or split_last
        if self.capitalise:
            first, last = capitalise_name(first), capitalise_name(last)
        values["first_name"], values["last_name"] = first, last
        if not first:
            errors.append(_("Nombre: falta el nombre del contacto."))
        country = ""
        if cells.get("country"):
            country = _choice(cells["country"], Country) or _COUNTRIES.get(
                fold(cells["country"]), ""
            )
            if not country:
                errors.append(
                    _("País: «%(value)s» no es un país de la lista.") % {"value": cells["country"]}
                )
        values["country"] = country or self.options.country
        for name in ("email", "job_title", "street", "city", "region", "postal_code"):
            if name in cells:
                values[name] = cells[name]
        if "email" in values:
            values["email"] = values["email"].lower()
        for kind, type_text in by_type:
            slot = "mobile" if fold(type_text).strip("* ") in _MOBILE_TYPES else "phone"
            other = "phone" if slot == "mobile" else "mobile"
            if slot not in cells:
                cells[slot] = kind
            elif other not in cells:
                cells[other] = kind
            else:
                notes.append(f"{type_text or _('Teléfono')}: {kind}")
        for name in ("phone", "mobile"):
            if name in cells:
                try:
                    values[name] = normalize_phone(cells[name], values["country"])
                except ValidationError as exc:
                    errors.append(f"{_label(name)}: {exc.messages[0]}")
        for name, choices in (("lifecycle", Lifecycle), ("lead_source", LeadSource)):
            if name in cells:
                found = _choice(cells[name], choices)
                if found is None:
                    errors.append(
                        _("%(field)s: «%(value)s» no es una de las opciones (%(options)s).")
                        % {
                            "field": _label(name),
                            "value": cells[name],
                            "options": ", ".join(str(label) for label in choices.labels),
                        }
                    )
                else:
                    values[name] = found
        if "lead_score" in cells:
            score = cells["lead_score"]
            if score.isdigit() and int(score) <= 100:
                values["lead_score"] = int(score)
            else:
                errors.append(
                    _("Puntuación: «%(value)s» no es un número entre 0 y 100.") % {"value": score}
                )
        if "birthday" in cells:
            birthday = _date(cells["birthday"])
            day_month = _day_month(cells["birthday"], birthday)
            if day_month:
                # A phone keeps a birthday without its year ("--0517" in a vCard, the year 1604
                # on an iPhone): no date to store, but not a reason to lose the contact.
                notes.append(_("Cumpleaños (sin año): %(day_month)s") % {"day_month": day_month})
                row.warnings.append(
                    _("Cumpleaños sin año (%(day_month)s): se guarda en las notas.")
                    % {"day_month": day_month}
                )
            elif birthday is None:
                errors.append(
                    _("Cumpleaños: «%(value)s» no es una fecha (AAAA-MM-DD o DD/MM/AAAA).")
                    % {"value": cells["birthday"]}
                )
            else:
                values["birthday"] = birthday
        if notes:
            values["notes"] = "\n".join(notes)
        if "consent" in cells and self.options.consent_basis:
            answer = fold(cells["consent"])
            if answer in _YES:
                row.consent = Consent.Action.GRANT
            elif answer in _NO:
                row.consent = Consent.Action.WITHDRAW
            else:
                errors.append(
                    _("Consentimiento: «%(value)s» no es «sí» ni «no».")
                    % {"value": cells["consent"]}
                )
        if "tags" in cells:
            row.tags = split_tags(cells["tags"])
            for name in row.tags:
                if len(name) > TAG_MAX_LENGTH:
                    errors.append(
                        _("Etiquetas: «%(name)s» pasa de %(max)s caracteres.")
                        % {"name": name[:40] + "…", "max": TAG_MAX_LENGTH}
                    )
        self._account(row, cells, values["country"])
        # The model fields' own validators for what the file sets (lengths, email format), as
        # Model.clean_fields runs them, without building a model instance per row (a text
        # within its length needs no more: _TEXT_LIMITS).
        for name, value in values.items():
            if (
                name in CONTACT_FIELDS
                and value not in ("", None)
                and name not in ("phone", "mobile")
            ):
                limit = _TEXT_LIMITS.get(name)
                if (
                    limit is not None
                    and isinstance(value, str)
                    and len(value) <= limit
                    and (name not in _CHOICE_VALUES or value in _CHOICE_VALUES[name])
                ):
                    continue
                try:
                    _CONTACT_FIELDS_META[name].clean(value, None)
                except ValidationError as exc:
                    errors.extend(f"{_label(name)}: {message}" for message in exc.messages)
        row.values = values
        if errors:
            row.status = ERROR
        return row

    def _account(self, row: RowResult, cells: dict, country: str) -> None:
        name, tax_id = cells.get("account_name", ""), cells.get("account_tax_id", "")
        if not (name or tax_id):
            return
        if tax_id:
            try:
                tax_id = normalize_tax_id(tax_id, country)
            except ValidationError as exc:
                row.reasons.append(f"{_label('account_tax_id')}: {exc.messages[0]}")
                return
        by_tax, by_name = self.accounts()
        folded = self._folded_names.get(name)
        if folded is None:  # a file names the same companies again and again
            folded = self._folded_names[name] = fold(name)
        found = (by_tax.get(tax_id) if tax_id else None) or (by_name.get(folded) if name else None)
        if found:
            row.account_id = found
            return
        if not self.options.create_accounts:
            row.warnings.append(
                _("La cuenta «%(name)s» no existe: el contacto se importa sin cuenta.")
                % {"name": name or tax_id}
            )
            return
        key = tax_id or folded
        if key in self.pending_accounts:
            row.account_new = (key, name, tax_id)
            return
        if not name:
            row.reasons.append(
                _(
                    "Cuenta: no hay ninguna con el RFC/NIF %(tax_id)s "
                    "y falta su nombre para crearla."
                )
                % {"tax_id": tax_id}
            )
            return
        account = Account(name=name, tax_id=tax_id, country=country)
        try:
            account.clean_fields(
                exclude=[f.name for f in Account._meta.fields if f.name not in ("name", "tax_id")]
            )
        except ValidationError as exc:
            row.reasons.extend(f"{_label('account_name')}: {m}" for m in exc.messages)
            return
        row.account_new = (key, name, tax_id)
        self.pending_accounts.setdefault(key, row.line)

    # --- a batch ------------------------------------------------------------------------------

    def classify(self, batch: list[tuple[int, list[str]]]) -> list[RowResult]:
        rows, found = self._ready.pop(batch[0][0], (None, None)) if batch else (None, None)
        if rows is None:
            rows = [self.normalise(line, raw) for line, raw in batch]
        by_email, by_phone = self.lookup(rows) if found is None else found
        valid = [row for row in rows if row.status != ERROR]
        matched_ids = {c.pk for c in by_email.values()} | {c.pk for c in by_phone.values()}
        editable = set()
        if matched_ids and self.options.duplicates == "update":
            editable = set(
                Contact.objects.filter(self.editable, pk__in=matched_ids).values_list(
                    "pk", flat=True
                )
            )
        tags_of: dict[int, set[str]] = {}
        if editable and "tags" in self.fields:
            for contact_id, name in TaggedItem.objects.filter(
                content_type=ContentType.objects.get_for_model(Contact), object_id__in=editable
            ).values_list("object_id", "tag__name"):
                tags_of.setdefault(int(contact_id), set()).add(name.lower())
        for row in valid:
            self._decide(row, by_email, by_phone, editable, tags_of)
        return rows

    def lookup(self, rows: list[RowResult]) -> tuple[dict, dict]:
        """The existing contacts the rows repeat: {email: contact}, {phone digits: contact}."""
        valid = [row for row in rows if row.status != ERROR]
        emails = {row.values["email"] for row in valid if row.values.get("email")}
        phones = {
            digits(row.values[name])
            for row in valid
            for name in ("phone", "mobile")
            if row.values.get(name)
        }
        by_email: dict[str, Contact] = {}
        by_phone: dict[str, Contact] = {}
        contacts = Contact.objects.all()
        if self.options.duplicates != "update":  # only to name them: no need for the rest
            contacts = contacts.only(
                "first_name", "last_name", "email", "phone_digits", "mobile_digits", "archived_at"
            )
        if emails:
            # `email <> ''` lets PostgreSQL use the partial unique index on lower(email).
            found = (
                contacts.order_by()
                .exclude(email="")
                .annotate(email_folded=Lower("email"))
                .filter(email_folded__in=emails)
            )
            by_email = {c.email_folded: c for c in found}
        if phones:
            for column in ("mobile_digits", "phone_digits"):  # two indexes, two queries
                found = sorted(
                    contacts.filter(**{f"{column}__in": _any_of(sorted(phones))}).order_by(),
                    key=lambda c: (c.archived_at is not None, c.pk),  # a live one first
                )
                for contact in found:
                    by_phone.setdefault(getattr(contact, column), contact)
        return by_email, by_phone

    def skip(self, batch: list[tuple[int, list[str]]]) -> list[RowResult]:
        """The rows of a batch an earlier worker wrote, read again only to remember what they
        hold (a later row repeating one is a duplicate of it, as in the first run); the database
        is not asked. Answers the rows with errors, for the rejected-rows file."""
        rows = [self.normalise(line, raw) for line, raw in batch]
        for row in rows:
            if row.status != ERROR:
                self._earlier(row)
        return [row for row in rows if row.status == ERROR]

    def _earlier(self, row: RowResult) -> int | None:
        """The line of an earlier row of the file with the same email or phone; else None, and
        this row is remembered for the later ones."""
        email = row.values.get("email", "")
        numbers = [digits(row.values[n]) for n in ("phone", "mobile") if row.values.get(n)]
        earlier = self.seen_emails.get(email) if email else None
        if earlier is None:
            earlier = next((self.seen_phones[n] for n in numbers if n in self.seen_phones), None)
        if earlier is not None:
            return earlier
        if email:
            self.seen_emails.setdefault(email, row.line)
        for number in numbers:
            self.seen_phones.setdefault(number, row.line)
        return None

    def _decide(
        self, row: RowResult, by_email: dict, by_phone: dict, editable: set, tags_of: dict
    ) -> None:
        values = row.values
        texts = self.texts()
        email = values.get("email", "")
        numbers = [digits(values[n]) for n in ("phone", "mobile") if values.get(n)]
        earlier = self._earlier(row)  # an earlier row of the same file
        match, rule = None, ""
        if email and email in by_email:
            match, rule = by_email[email], "email"
        else:
            match = next((by_phone[n] for n in numbers if n in by_phone), None)
            rule = "teléfono" if match else ""
        if earlier is not None:
            row.status = DUPLICATE
            row.duplicate_of_line = earlier
            row.reasons.append(texts["repeats"] % {"line": earlier})
            row.tags = []
            return
        if match is None:
            row.status = NEW
            return
        row.match_id, row.match_rule = match.pk, rule
        described = {
            "name": match.full_name,
            "id": match.pk,
            "rule": texts["email"] if rule == "email" else texts["phone"],
        }
        policy = self.options.duplicates
        if policy == "create" and rule != "email":
            row.status = NEW
            row.warnings.append(texts["create"] % described)
            return
        if policy == "update":
            if match.pk not in editable:
                row.status = ERROR
                row.reasons.append(texts["locked"] % described)
                return
            row.contact = match
            row.changes = self.changes(match, row)
            has = tags_of.get(match.pk, set())
            row.tags = [name for name in row.tags if name.lower() not in has]
            if row.changes or row.tags:
                row.status = UPDATE
                return
            row.status = DUPLICATE
            row.reasons.append(texts["unchanged"] % described)
            return
        row.status = DUPLICATE
        row.tags = []
        row.reasons.append(texts["same"] % described)

    def changes(self, contact: Contact, row: RowResult) -> dict:
        """The fields the row would change: only those the file fills (an empty cell never
        erases), the account only if the contact has none, the notes appended."""
        changes = {}
        for name in CONTACT_FIELDS:
            if name not in row.values or row.values[name] in ("", None):
                continue
            if name == "country" and "country" not in self.fields:
                continue  # the default country is for new contacts only
            new = row.values[name]
            old = getattr(contact, name)
            if name == "notes" and old:
                if new in old:
                    continue
                new = f"{old}\n{new}"
            if old != new:
                changes[name] = (old, new)
        if row.account_id and contact.account_id is None:
            changes["account_id"] = (None, row.account_id)
        return changes


_END = object()
SWITCH_INTERVAL = 0.0005  # seconds


def normalised_ahead(
    classifier: Classifier,
    batches: Iterable[list[tuple[int, list[str]]]],
    *,
    prepare: Callable[[RowResult], dict] | None = None,
    depth: int = 4,
) -> Iterator[list[tuple[int, list[str]]]]:
    """The batches, read and normalised in a thread a few batches ahead of the caller.

    Normalising (pure Python, no database) is half the time of a run; the other half is the
    caller waiting for the database (lookups, COPY, history), which releases the interpreter.
    So the two overlap on two cores. `classify(batch)` then finds the batch's rows ready. The
    thread speaks the caller's language. `prepare`, if given, is run there too on each valid
    row (its result kept in `row.prepared`).

    On PostgreSQL, outside a transaction, the thread also looks the batch's emails and phones
    up (`Classifier.lookup`, on a connection of its own) while the caller writes the batches
    before it: a row repeating a row of those batches is found by the classifier's memory of
    the file, which comes first, so the answer is the same as looking up after they are
    written. Not with the "update" policy (an update must read the contact as the batches
    before it left it), nor inside a transaction (the thread could not see its rows): there
    the caller looks up, and the thread asks nothing of the database (the accounts, if the
    file names any, are loaded here first).
    """
    if {"account_name", "account_tax_id"} & classifier.fields:
        classifier.accounts()
    lookahead = (
        classifier.options.duplicates != "update"
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )
    language = translation.get_language()
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with translation.override(language):
                for batch in batches:
                    rows = [classifier.normalise(line, raw) for line, raw in batch]
                    if prepare is not None:
                        for row in rows:
                            if row.status != ERROR:
                                row.prepared = prepare(row)
                    found = classifier.lookup(rows) if lookahead else None
                    if not put((batch, rows, found)):
                        return
        except BaseException as exc:  # handed to the caller, raised there
            put(exc)
            return
        finally:
            if lookahead:
                connections.close_all()  # this thread's own
        put(_END)

    thread = threading.Thread(target=work, name="import-normalise", daemon=True)
    # The caller mostly waits for the database: handed back the interpreter sooner when an
    # answer arrives (the default 5 ms per switch is a batch's worth of round trips).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            batch, rows, found = item
            if batch:
                classifier._ready[batch[0][0]] = (rows, found)
            yield batch
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
        classifier._ready.clear()
