"""Writing a classified batch: the run's inner loop, where the time of an import goes.

One transaction per batch, with its progress (so a batch is written whole or not at all, and a
resumed run starts exactly after the last one). The new contacts go in with one statement
(COPY on PostgreSQL, with ids taken from the sequence first; bulk_create elsewhere), their
history records with one INSERT … SELECT of the rows just written (the same columns
simple-history copies, without a model instance per row), and what the run did is kept for the
undo in one ImportedRecord per batch (the ids of the contacts it created, the consent entries
and tag links it wrote for them) plus one per updated contact (its changes). Updates are few
and go through bulk_update_with_history.

A batch the database refuses is written again row by row, so only the guilty row is rejected.
"""

from __future__ import annotations

import datetime as dt
import types
from collections import Counter

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history
from taggit.models import Tag, TaggedItem

from accounts.models import Account
from contacts.imports.models import ImportedRecord, ImportRun
from contacts.imports.rows import (
    CONTACT_FIELDS,
    DUPLICATE,
    ERROR,
    NEW,
    UPDATE,
    Classifier,
    ImportOptions,
    RowResult,
)
from contacts.models import Consent, ConsentLatest, Contact
from contacts.services import consent_latest_advance

_HISTORY_OWN = {
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user_id",
}


class LostClaim(Exception):  # noqa: N818 - a signal, not an error
    """Another worker resumed this run (this one was taken for dead): stop, write nothing."""


# What COPY and bulk_create take as they are.
_PLAIN = (str, int, float, dt.date, type(None))


def json_value(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def history_insert(model, ids: list[int], history_type: str, *, user, reason: str, date) -> None:
    """The history records of these rows as they are now in the table, written by the database
    (what simple-history's bulk_history_create writes, without a model instance per row)."""
    if not ids or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history = model.history.model
    source = {f.attname: f.column for f in model._meta.concrete_fields}
    pairs = [
        (f.column, source[f.attname])
        for f in history._meta.concrete_fields
        if f.attname not in _HISTORY_OWN and f.attname in source
    ]
    q = connection.ops.quote_name
    columns = ", ".join(q(target) for target, _s in pairs)
    selected = ", ".join(q(column) for _t, column in pairs)
    if connection.vendor == "postgresql":
        # One array parameter, not a thousand: the driver splits a query text on each of its
        # placeholders in Python, and a new text per batch is never found in its cache.
        where, params = "= ANY(%s)", [list(ids)]
    else:
        where, params = f"IN ({', '.join(['%s'] * len(ids))})", list(ids)
    sql = (
        f"INSERT INTO {q(history._meta.db_table)} ({columns}, history_date, "
        "history_change_reason, history_type, history_user_id) "
        f"SELECT {selected}, %s, %s, %s, %s FROM {q(model._meta.db_table)} "
        f"WHERE {q(model._meta.pk.column)} {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [date, reason, history_type, getattr(user, "pk", None), *params])


class ContactInserter:
    """New contacts from the values of the file: every column the model has, its defaults
    (computed once) under what the row gives, and the search fields by the model's own
    `refresh_search_fields`. `prepare` needs no database, so the normalising thread calls it
    ahead (rows.normalised_ahead); `values` completes a row when it is written."""

    def __init__(self, *, owner_id: int):
        self.fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
        self.attnames = [f.attname for f in self.fields]
        self.stamps = [
            f.attname
            for f in self.fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        self.defaults = {}
        for f in self.fields:
            value = None if f.attname in self.stamps else f.get_default()
            if connection.vendor == "postgresql" and not isinstance(value, _PLAIN):
                value = f.get_db_prep_save(value, connection)  # e.g. a JSON default's adapter
            self.defaults[f.attname] = value
        self.defaults["owner_id"] = owner_id

    def prepare(self, row: RowResult) -> dict:
        values = dict(self.defaults)
        values.update((k, v) for k, v in row.values.items() if k in CONTACT_FIELDS)
        contact = types.SimpleNamespace(**values)
        Contact.refresh_search_fields(contact)  # the one formula of the search fields
        return vars(contact)

    def values(self, row: RowResult, now) -> dict:
        values = row.prepared if row.prepared is not None else self.prepare(row)
        values["account_id"] = row.account_id
        for name in self.stamps:
            values[name] = now
        return values

    def insert(self, rows: list[dict]) -> list[int]:
        """Insert the rows; their ids, in order."""
        if not rows:
            return []
        if connection.vendor == "postgresql":
            return self._copy(rows)
        contacts = Contact.objects.bulk_create(
            [Contact(**{a: row[a] for a in self.attnames}) for row in rows]
        )
        return [contact.pk for contact in contacts]

    def _copy(self, rows: list[dict]) -> list[int]:
        """COPY the rows (the file's values are text, numbers and dates; the defaults were
        prepared by `base`), with ids taken from the table's sequence first."""
        q = connection.ops.quote_name
        table, pk = Contact._meta.db_table, Contact._meta.pk.column
        attnames = self.attnames
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, len(rows)],
            )
            ids = [pk_value for (pk_value,) in cursor.fetchall()]
            columns = ", ".join(q(c) for c in [pk, *(f.column for f in self.fields)])
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {q(table)} ({columns}) FROM STDIN") as copy,
            ):
                write = copy.write_row
                for pk_value, row in zip(ids, rows, strict=True):
                    write([pk_value, *[row[a] for a in attnames]])
        return ids


class Writer:
    """Writes a classified batch with bulk operations, in one transaction with its progress."""

    def __init__(self, *, run: ImportRun, options: ImportOptions, actor, classifier: Classifier):
        self.run = run
        self.options = options
        self.actor = actor
        self.classifier = classifier
        self.reason = _("Importación #%(id)s") % {"id": run.pk}
        self.attempt = run.attempts  # the claim this worker holds
        self.account_pks: dict[str, int] = {}
        self.tag_pks: dict[str, int] = {}  # lower-case name → Tag id, as batches commit
        self.inserter = ContactInserter(owner_id=options.owner_id)
        self.content_type_id = ContentType.objects.get_for_model(Contact).pk

    def write(self, rows: list[RowResult]) -> None:
        self._accounts_in_batch = 0
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # The batch commits with its progress, so a commit lost in a crash of the
                # database server is a batch the resumed run writes again: no need to wait for
                # each commit to reach the disk.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            try:
                with transaction.atomic():
                    created, tags = self._write([r for r in rows if r.status in (NEW, UPDATE)])
                self._remember(created, tags)
            except (IntegrityError, DatabaseError, ValidationError):
                # Someone wrote the same email meanwhile, or a value the database refuses: the
                # rows go one by one, and only the guilty one is rejected.
                self._accounts_in_batch = 0
                for row in rows:
                    if row.status not in (NEW, UPDATE):
                        continue
                    accounts_before = self._accounts_in_batch
                    try:
                        with transaction.atomic():
                            created, tags = self._write([row])
                        self._remember(created, tags)
                    except (IntegrityError, DatabaseError, ValidationError) as exc:
                        self._accounts_in_batch = accounts_before
                        row.status = ERROR
                        row.reasons.append(_db_reason(exc))
            counts = Counter(row.status for row in rows)
            progressed = ImportRun.objects.filter(pk=self.run.pk, attempts=self.attempt).update(
                rows_done=F("rows_done") + len(rows),
                created=F("created") + counts[NEW],
                updated=F("updated") + counts[UPDATE],
                duplicates=F("duplicates") + counts[DUPLICATE],
                errors=F("errors") + counts[ERROR],
                accounts_created=F("accounts_created") + self._accounts_in_batch,
                progress_at=timezone.now(),
            )
            if not progressed:
                raise LostClaim  # the batch is rolled back: the other worker writes it

    def _remember(self, created: list[tuple[str, str, str, int]], tags: dict[str, int]) -> None:
        for key, name, tax_id, pk in created:
            self.account_pks[key] = pk
            self.classifier.account_created(key, name, tax_id, pk)
        self.tag_pks.update(tags)

    def _write(self, rows: list[RowResult]) -> tuple[list, dict[str, int]]:
        if not rows:
            return [], {}
        now = timezone.now()
        records: list[ImportedRecord] = []
        created_accounts = self._create_accounts(rows, records)
        new = [row for row in rows if row.status == NEW]
        ids = self.inserter.insert([self.inserter.values(row, now) for row in new])
        history_insert(Contact, ids, "+", user=self.actor, reason=self.reason, date=now)
        updates = [row for row in rows if row.status == UPDATE]
        changed_fields = {"updated_at", "search_text", "phone_digits", "mobile_digits"}
        changed = []
        for row in updates:
            contact = row.contact
            if row.account_id and contact.account_id is None:
                row.changes["account_id"] = (None, row.account_id)
            for name, (_old, value) in row.changes.items():
                setattr(contact, name, value)
                changed_fields.add(name)
            if row.changes:
                contact.updated_at = now
                contact.refresh_search_fields()
                changed.append(contact)
        if changed:
            bulk_update_with_history(
                changed,
                Contact,
                sorted(changed_fields),
                default_user=self.actor,
                default_change_reason=self.reason,
                default_date=now,
            )
        pairs = list(zip(new, ids, strict=True)) + [(row, row.contact.pk) for row in updates]
        consents = self._consents(pairs, set(ids), now)
        tagged, tags = self._tag(pairs, records)
        if ids:
            records.append(
                ImportedRecord(
                    run=self.run,
                    model=ImportedRecord.Model.CONTACT,
                    object_id=ids[0],
                    object_ids=ids,
                    action=ImportedRecord.Action.CREATED,
                    consent_ids=[consents[id(row)] for row in new if id(row) in consents],
                    tagged_ids=[pk for row in new for pk in tagged.get(id(row), ())],
                )
            )
        for row in updates:
            records.append(
                ImportedRecord(
                    run=self.run,
                    model=ImportedRecord.Model.CONTACT,
                    object_id=row.contact.pk,
                    action=ImportedRecord.Action.UPDATED,
                    changes={
                        k: [json_value(a), json_value(b)] for k, (a, b) in row.changes.items()
                    },
                    consent_id=consents.get(id(row)),
                    tagged_ids=tagged.get(id(row), []),
                )
            )
        ImportedRecord.objects.bulk_create(records)
        return created_accounts, tags

    def _create_accounts(self, rows, records) -> list[tuple[str, str, str, int]]:
        wanted: dict[str, Account] = {}
        keys: dict[str, tuple] = {}
        for row in rows:
            if not row.account_new or row.account_id:
                continue
            key, name, tax_id = row.account_new
            if key in self.account_pks:
                row.account_id = self.account_pks[key]
                continue
            if key not in wanted:
                account = Account(
                    name=name,
                    tax_id=tax_id,
                    country=self.options.country,
                    owner_id=self.options.owner_id,
                )
                account.refresh_search_fields()
                wanted[key] = account
                keys[key] = (name, tax_id)
        if not wanted:
            return []
        created = bulk_create_with_history(
            list(wanted.values()),
            Account,
            default_user=self.actor,
            default_change_reason=self.reason,
        )
        pks = {key: account.pk for key, account in zip(wanted, created, strict=True)}
        for row in rows:
            if row.account_new and not row.account_id:
                row.account_id = self.account_pks.get(row.account_new[0]) or pks[row.account_new[0]]
        ids = list(pks.values())
        records.append(
            ImportedRecord(
                run=self.run,
                model=ImportedRecord.Model.ACCOUNT,
                object_id=ids[0],
                object_ids=ids,
                action=ImportedRecord.Action.CREATED,
            )
        )
        self._accounts_in_batch += len(pks)
        return [(key, *keys[key], pk) for key, pk in pks.items()]

    def _tag(self, pairs: list[tuple[RowResult, int]], records) -> tuple[dict, dict[str, int]]:
        """Link the rows' tags to their contacts (creating the tags nobody has yet);
        {id(row): [TaggedItem ids]} and the tags found or made in this batch."""
        wanted = {name.lower(): name for row, _pk in pairs for name in row.tags}
        if not wanted:
            return {}, {}
        found = {lower: pk for lower, pk in self.tag_pks.items() if lower in wanted}
        missing = [lower for lower in wanted if lower not in found]
        if missing:
            found.update(
                Tag.objects.annotate(lower=Lower("name"))
                .filter(lower__in=missing)
                .values_list("lower", "pk")
            )
        made = []
        for lower in [lower for lower in wanted if lower not in found]:
            tag = Tag.objects.create(name=wanted[lower])  # its slug made unique by taggit
            found[lower] = tag.pk
            made.append(tag.pk)
        if made:
            records.append(
                ImportedRecord(
                    run=self.run,
                    model=ImportedRecord.Model.TAG,
                    object_id=made[0],
                    object_ids=made,
                    action=ImportedRecord.Action.CREATED,
                )
            )
        objects, tag_ids, owners = [], [], []
        for row, pk in pairs:
            for name in row.tags:
                objects.append(pk)
                tag_ids.append(found[name.lower()])
                owners.append(id(row))
        tagged: dict[int, list[int]] = {}
        for owner, pk in zip(owners, self._tagged_items(objects, tag_ids), strict=True):
            tagged.setdefault(owner, []).append(pk)
        return tagged, found

    def _tagged_items(self, objects: list[int], tag_ids: list[int]) -> list[int]:
        """Insert the tag links (contact, tag); their ids, in order. On PostgreSQL one INSERT
        of two arrays: a model instance and a dozen placeholders per link cost more than the
        database's own work (a batch links about 400)."""
        if not objects:
            return []
        if connection.vendor != "postgresql":
            items = TaggedItem.objects.bulk_create(
                TaggedItem(content_type_id=self.content_type_id, object_id=pk, tag_id=tag)
                for pk, tag in zip(objects, tag_ids, strict=True)
            )
            return [item.pk for item in items]
        q = connection.ops.quote_name
        table = TaggedItem._meta.db_table
        with connection.cursor() as cursor:
            # Rows come back in the order of the arrays, as they do for bulk_create's VALUES.
            cursor.execute(
                f"INSERT INTO {q(table)} (content_type_id, object_id, tag_id) "
                "SELECT %s, object_id, tag_id FROM unnest(%s::integer[], %s::integer[]) "
                "WITH ORDINALITY AS link (object_id, tag_id, n) ORDER BY n RETURNING id",
                [self.content_type_id, objects, tag_ids],
            )
            return [pk for (pk,) in cursor.fetchall()]

    def _consents(self, pairs: list[tuple[RowResult, int]], new_ids: set, now) -> dict[int, int]:
        """The ledger entries the file states (only with a legal basis: ImportOptions.check);
        {id(row): entry id}."""
        if not self.options.consent_basis:
            return {}
        pairs = [(row, pk) for row, pk in pairs if row.consent]
        entries = [
            Consent(
                contact_id=pk,
                channel=Consent.Channel.EMAIL,
                action=row.consent,
                at=now,
                source=Consent.Source.IMPORT,
                legal_basis=self.options.consent_basis,
                recorded_by=self.actor,
                note=self.reason,
            )
            for row, pk in pairs
        ]
        if not entries:
            return {}
        entries = Consent.objects.bulk_create(entries)
        latest = []
        for entry in entries:
            if entry.contact_id in new_ids:  # a new contact: its first entry is its latest
                latest.append(
                    ConsentLatest(
                        contact_id=entry.contact_id,
                        channel=entry.channel,
                        entry=entry,
                        action=entry.action,
                    )
                )
            else:
                consent_latest_advance(entry)
        ConsentLatest.objects.bulk_create(latest)
        return {id(row): entry.pk for (row, _pk), entry in zip(pairs, entries, strict=True)}


def _db_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, IntegrityError) and "email" in str(exc).lower():
        return _("Ya existe un contacto con este correo electrónico.")
    return _("La base de datos rechazó la fila: %(error)s") % {"error": str(exc)[:200]}
