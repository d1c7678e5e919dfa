"""The import job: prepared, previewed, run in batches (in a Celery task or the command line),
cancelled, and undone.

- `import_create` stores the file and the user's choices as a pending ImportRun (the job lives
  in the database; Celery only wakes a worker up: `import_start` queues `contacts.import_run`).
- `import_preview` classifies every row and writes nothing.
- `import_execute` (the task's body, and the command's) claims a pending run, reads the file
  again and writes batch by batch: each batch in its own transaction with its progress, with
  bulk_create/bulk_update (and their history records); a batch that the database refuses is
  retried row by row, so one bad row never aborts the rest. Between batches it honours a
  cancellation; at the end it writes the rejected rows with their reasons as a CSV file.
- `import_undo` reads what the run recorded (ImportedRecord): created contacts are removed if
  nobody touched them since (else archived), updated fields get their previous value back if
  they still hold the imported one, the consent the run granted is withdrawn.

Every run and every undo is audited.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import itertools
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.contenttypes.fields import GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history
from taggit.models import Tag, TaggedItem

from accounts.models import Account
from contacts.imports.mapping import clean_mapping
from contacts.imports.models import ImportedRecord, ImportRun, format_counts
from contacts.imports.readers import Table, read_table
from contacts.imports.rows import (
    DUPLICATE,
    ERROR,
    NAME_FIELDS,
    NEW,
    UPDATE,
    Classifier,
    ImportOptions,
    RowResult,
    is_all_caps,
    normalised_ahead,
)
from contacts.imports.writer import LostClaim, history_insert
from contacts.imports.writer import Writer as _Writer
from contacts.imports.writer import json_value as _json
from contacts.models import Consent, ConsentLatest, Contact
from contacts.services import consent_latest_advance
from crm.core.audit import audit
from crm.core.exports import safe_cell
from crm.core.models import AuditEvent, User
from crm.core.permissions import assignable_owners, can_create_records
from crm.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
PREVIEW_ROWS = 200
# What an upload may weigh: some 400,000 rows of a typical contact CSV.
MAX_BYTES = 50 * 1024 * 1024
# A run en curso whose last batch is older than this lost its worker (a batch takes well under
# a second): import_recover queues it again and import_execute resumes it from rows_done.
STALE_AFTER = dt.timedelta(minutes=10)
# Claims before a run that keeps killing its worker is given up (failed, undoable).
MAX_ATTEMPTS = 3


@dataclass
class Preview:
    header: list[str]
    mapping: dict[str, str]
    total: int = 0
    counts: Counter = field(default_factory=Counter)
    rows: list[RowResult] = field(default_factory=list)  # the first PREVIEW_ROWS
    accounts_to_create: int = 0

    @property
    def counts_line(self) -> str:
        c = self.counts
        return format_counts(c[NEW], c[UPDATE], c[DUPLICATE], c[ERROR])


# --- reading ----------------------------------------------------------------------------------


def _first_line(table: Table) -> int:
    return 1 if table.kind == "vcard" else 2  # a card is numbered; a sheet's row 1 is the header


def _lines(table: Table) -> Iterator[tuple[int, list[str]]]:
    return enumerate(table.rows(), start=_first_line(table))


def _batches(
    table: Table | None = None, size: int | None = None, *, lines=None
) -> Iterator[list[tuple[int, list[str]]]]:
    size = size or BATCH_SIZE
    batch = []
    for line, raw in _lines(table) if lines is None else lines:
        batch.append((line, raw))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scan(table: Table, mapping: dict[str, str]) -> tuple[int, bool]:
    """The number of rows, and whether every name is in capitals (then they are capitalised)."""
    columns = [table.header.index(c) for c, f in mapping.items() if f in NAME_FIELDS]
    total = 0

    def names():
        nonlocal total
        for raw in table.rows():
            total += 1
            for index in columns:
                yield raw[index]

    cells = names()
    capitalise = is_all_caps(cells)  # stops at the first name in lower case…
    for _rest in cells:  # …and the same pass goes on counting the rows
        pass
    return total, capitalise


def _check(*, actor: User | None, options: ImportOptions, mapping: dict, header: list[str]) -> dict:
    mapping = clean_mapping(mapping, header)
    options.check(mapping)
    if actor is not None:
        if not can_create_records(actor):
            raise PermissionDenied(_("Tu rol no puede importar contactos."))
        if not assignable_owners(actor).filter(pk=options.owner_id).exists():
            raise ValidationError({"owner": _("No puedes asignar contactos a ese usuario.")})
    elif not User.objects.filter(pk=options.owner_id, is_active=True).exists():
        raise ValidationError({"owner": _("El responsable no existe o no está activo.")})
    return mapping


def _classifier(table, mapping, options, actor, capitalise) -> Classifier:
    return Classifier(
        header=table.header, mapping=mapping, options=options, actor=actor, capitalise=capitalise
    )


# --- preview ----------------------------------------------------------------------------------


def import_preview(
    *,
    actor: User | None,
    table: Table,
    mapping: dict[str, str],
    options: ImportOptions,
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """Every row classified as the run would (new, update, duplicate, error): nothing written.

    The counts cover the whole file; `rows` holds the first `limit` rows for the page.
    """
    mapping = _check(actor=actor, options=options, mapping=mapping, header=table.header)
    total, capitalise = _scan(table, mapping)
    classifier = _classifier(table, mapping, options, actor, capitalise)
    preview = Preview(header=table.header, mapping=mapping, total=total)
    for batch in normalised_ahead(classifier, _batches(table)):
        for row in classifier.classify(batch):
            preview.counts[row.status] += 1
            if len(preview.rows) < limit:
                row.contact = None  # the page needs no model instance
                preview.rows.append(row)
    preview.accounts_to_create = len(classifier.pending_accounts)
    return preview


# --- the job ----------------------------------------------------------------------------------


@transaction.atomic
def import_create(
    *,
    actor: User | None,
    file_name: str,
    data: bytes,
    options: ImportOptions,
    mapping: dict[str, str],
    mapping_name: str = "",
) -> ImportRun:
    """A pending import of this file with these choices (checked now, so the run cannot fail
    on them later)."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("El archivo pasa de %(mb)s MB; divídelo en partes más pequeñas.")
            % {"mb": MAX_BYTES // (1024 * 1024)}
        )
    table = read_table(file_name, data)
    mapping = _check(actor=actor, options=options, mapping=mapping, header=table.header)
    run = ImportRun(
        created_by=actor,
        file_name=file_name[-255:],
        kind=table.kind,
        options=options.to_json(),
        mapping=mapping,
        mapping_name=mapping_name,
    )
    run.file.save(file_name.rsplit("/", 1)[-1][-100:], ContentFile(data), save=False)
    run.save()
    return run


def import_start(*, run: ImportRun) -> None:
    """Queue the run for a worker (after the caller's transaction commits)."""
    enqueue_on_commit("contacts.import_run", [run.pk])


@transaction.atomic
def import_cancel(*, actor: User | None, run: ImportRun) -> ImportRun:
    """Ask a running import to stop after its current batch (what it wrote stays, and can be
    undone); a pending one is cancelled at once."""
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.status == ImportRun.Status.PENDING:
        run.status = ImportRun.Status.CANCELLED
        run.finished_at = timezone.now()
    elif run.status != ImportRun.Status.RUNNING:
        raise ValidationError(_("Esta importación ya no está en curso."))
    run.cancel_requested = True
    run.save(update_fields=["status", "finished_at", "cancel_requested"])
    audit(actor=actor, action=AuditEvent.Action.CANCEL, target=run, detail={"file": run.file_name})
    return run


def import_execute(run_id: int) -> ImportRun:
    """Run a pending import to its end (the Celery task's body and the command's), or resume
    one whose worker died (en curso, without progress for STALE_AFTER) from its last batch.

    Running it twice is harmless: only a pending or abandoned run is claimed, and a batch is
    written only by the worker holding the latest claim. An unexpected failure marks the run
    failed; the batches already written stay (and can be undone).
    """
    now = timezone.now()
    claimed = (
        ImportRun.objects.filter(pk=run_id)
        .filter(Q(status=ImportRun.Status.PENDING) | _abandoned_q(now))
        .update(
            status=ImportRun.Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            progress_at=now,
            attempts=F("attempts") + 1,
        )
    )
    run = ImportRun.objects.select_related("created_by").get(pk=run_id)
    if not claimed:
        return run
    if run.attempts > MAX_ATTEMPTS:
        ImportRun.objects.filter(pk=run_id, attempts=run.attempts).update(
            status=ImportRun.Status.FAILED,
            finished_at=timezone.now(),
            error_message=_(
                "La importación se interrumpió %(n)s veces sin terminar; lo ya importado "
                "se puede deshacer."
            )
            % {"n": MAX_ATTEMPTS},
        )
        run.refresh_from_db()
        return run
    try:
        _execute(run)
    except LostClaim:
        logger.warning("import %s: resumed by another worker, this one stops", run_id)
    except Exception as exc:
        logger.exception("import %s failed", run_id)
        ImportRun.objects.filter(pk=run_id, attempts=run.attempts).update(
            status=ImportRun.Status.FAILED,
            finished_at=timezone.now(),
            error_message=str(exc)[:2000],
        )
    run.refresh_from_db()
    return run


def _abandoned_q(now) -> Q:
    """Runs en curso whose worker stopped writing batches (killed, or its machine gone)."""
    stale = now - STALE_AFTER
    return Q(status=ImportRun.Status.RUNNING) & (
        Q(progress_at__lt=stale) | Q(progress_at=None, started_at__lt=stale)
    )


def import_recover(*, now: dt.datetime | None = None) -> int:
    """Queue again the imports a lost worker or a lost message left behind: en curso without
    progress for STALE_AFTER (resumed from their last batch), or pending for as long (their
    message never reached a worker). The beat job `contacts.imports_recover`; answers how many."""
    now = now or timezone.now()
    lost = ImportRun.objects.filter(
        _abandoned_q(now) | Q(status=ImportRun.Status.PENDING, created_at__lt=now - STALE_AFTER)
    ).values_list("pk", flat=True)
    count = 0
    for pk in lost:
        with transaction.atomic():
            enqueue_on_commit("contacts.import_run", [pk])
        count += 1
    return count


def _execute(run: ImportRun) -> None:
    actor = run.created_by
    options = ImportOptions.from_json(run.options)
    with run.file.open("rb") as handle:
        data = handle.read()
    table = read_table(run.file_name, data, run.kind)
    mapping = clean_mapping(run.mapping, table.header)
    total, capitalise = _scan(table, mapping)
    ImportRun.objects.filter(pk=run.pk).update(rows_total=total)
    classifier = _classifier(table, mapping, options, actor, capitalise)
    writer = _Writer(run=run, options=options, actor=actor, classifier=classifier)
    attempt = run.attempts
    rejected: list[RowResult] = []
    status = ImportRun.Status.DONE
    lines = _lines(table)
    with _rows_out_of_collector():
        if run.rows_done:
            # Resumed: the batches an earlier worker committed are read again without writing,
            # so that a later row repeating one of them is still "Repite la fila N".
            for batch in _batches(lines=itertools.islice(lines, run.rows_done)):
                rejected.extend(classifier.skip(batch))
        for batch in normalised_ahead(
            classifier, _batches(lines=lines), prepare=writer.inserter.prepare
        ):
            if ImportRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                status = ImportRun.Status.CANCELLED
                break
            rows = classifier.classify(batch)
            writer.write(rows)
            rejected.extend(row for row in rows if row.status == ERROR)
    run.refresh_from_db()
    if run.attempts != attempt:
        raise LostClaim
    if rejected:
        run.rejected_file.save(
            f"importacion-{run.pk}-rechazadas.csv",
            ContentFile(_rejected_csv(table, rejected)),
            save=False,
        )
    run.status = status
    run.finished_at = timezone.now()
    run.save(update_fields=["rejected_file", "status", "finished_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        target=run,
        detail={
            "file": run.file_name,
            "status": status,
            "created": run.created,
            "updated": run.updated,
            "duplicates": run.duplicates,
            "errors": run.errors,
            "accounts_created": run.accounts_created,
            "mapping": run.mapping_name or run.mapping,
            "consent_basis": options.consent_basis,
        },
    )


@contextlib.contextmanager
def _rows_out_of_collector():
    """The file's rows (a list per row) live as long as the run: out of the garbage collector's
    sight while it runs (`gc.freeze`). Its full collections otherwise walk them all, some ten
    times in a run of 100,000 rows, about a tenth of its time. Not when the process froze its
    own objects already (a gunicorn worker, gunicorn.conf.py): those stay as they are."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --- rejected rows ----------------------------------------------------------------------------


def _rejected_csv(table: Table, rows: list[RowResult]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=table.delimiter if table.kind == "csv" else ",")
    writer.writerow([_("Fila"), _("Motivo"), *table.header])
    for row in rows:
        writer.writerow([row.line, safe_cell(row.reason_text), *map(safe_cell, row.raw)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # with a BOM, so Excel reads UTF-8


# --- undo -------------------------------------------------------------------------------------

UNDO_CHUNK = 1000


def _chunks(ids: list[int], size: int = UNDO_CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _touched_contacts(ids: list[int], run_consents: set[int], run_tagged: set[int]) -> set[int]:
    """The created contacts someone changed or used since the import: a later history record,
    a consent entry or a tag the run did not write, or any other record pointing at them
    (activities, opportunities… found through the model's relations, whatever app they are in)."""
    touched = set(
        Contact.history.filter(id__in=ids)
        .values("id")
        .annotate(n=Count("history_id"))
        .filter(n__gt=1)
        .values_list("id", flat=True)
    )
    touched.update(
        contact_id
        for pk, contact_id in Consent.objects.filter(contact_id__in=ids).values_list(
            "pk", "contact_id"
        )
        if pk not in run_consents
    )
    for relation in Contact._meta.private_fields:  # tags, and any other generic relation
        if not isinstance(relation, GenericRelation):
            continue
        linked = relation.related_model._base_manager.filter(
            **{
                relation.content_type_field_name: ContentType.objects.get_for_model(Contact),
                f"{relation.object_id_field_name}__in": ids,
            }
        )
        ours = run_tagged if relation.related_model is TaggedItem else set()
        touched.update(
            int(object_id)
            for pk, object_id in linked.values_list("pk", relation.object_id_field_name)
            if pk not in ours
        )
    for relation in Contact._meta.related_objects:
        model = relation.related_model
        if model in (Consent, ConsentLatest) or model._meta.label_lower.endswith(
            "historicalcontact"
        ):
            continue
        touched.update(
            model._base_manager.filter(**{f"{relation.field.name}__in": ids}).values_list(
                relation.field.attname, flat=True
            )
        )
    return touched


def _remove_contacts(ids: list[int], *, actor, reason: str, now) -> None:
    """Delete created contacts nobody touched (see _touched_contacts): their deletion in the
    history, then their tags and consent entries (the run's only), then the rows, in a few
    statements instead of a delete() per contact."""
    history_insert(Contact, ids, "-", user=actor, reason=reason, date=now)
    TaggedItem.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id__in=ids
    ).delete()
    ConsentLatest.objects.filter(contact_id__in=ids).delete()
    Consent.objects.filter(contact_id__in=ids).delete()
    q = connection.ops.quote_name
    with connection.cursor() as cursor:  # nothing else points at them: checked just before
        cursor.execute(
            f"DELETE FROM {q(Contact._meta.db_table)} WHERE {q(Contact._meta.pk.column)} "
            f"IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )


def _from_json(name: str, value):
    if value is not None and name == "birthday":
        return dt.date.fromisoformat(value)
    return value


@transaction.atomic
def import_undo(*, actor: User | None, run: ImportRun) -> ImportRun:
    """Revert a finished (or cancelled) import, as exactly as later changes allow.

    - Contacts it created: removed if untouched since; archived otherwise.
    - Fields it updated: back to their previous value where they still hold the imported one
      (a field someone changed since is left as they left it, and counted as a conflict).
    - Tags it added: removed (tags it created, when nothing else uses them any more).
    - Consent it granted to an existing contact: withdrawn by a new ledger entry if it is still
      the latest and the contact had no grant before (the ledger is never edited; an undo
      never re-subscribes anybody).
    - Accounts it created: removed when no contact or other record uses them any more.
    """
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in (
        ImportRun.Status.DONE,
        ImportRun.Status.CANCELLED,
        ImportRun.Status.FAILED,
    ):
        raise ValidationError(_("Solo se puede deshacer una importación terminada o cancelada."))
    if actor is not None and actor.pk != run.created_by_id and not actor.is_admin_role:
        raise PermissionDenied(_("Solo quien hizo la importación o un administrador la deshace."))
    now = timezone.now()
    reason = _("Deshacer importación #%(id)s") % {"id": run.pk}
    report = Counter()
    records = ImportedRecord.objects.filter(run=run)
    run_consents, run_tagged = set(), set()
    created: list[int] = []
    for consent_id, consent_ids, tagged_ids in records.filter(
        model=ImportedRecord.Model.CONTACT
    ).values_list("consent_id", "consent_ids", "tagged_ids"):
        run_consents.update(consent_ids)
        if consent_id:
            run_consents.add(consent_id)
        run_tagged.update(tagged_ids)
    for record in records.filter(
        model=ImportedRecord.Model.CONTACT, action=ImportedRecord.Action.CREATED
    ).only("object_id", "object_ids"):
        created.extend(record.ids)
    created.sort()

    for ids in _chunks(created):
        touched = _touched_contacts(ids, run_consents, run_tagged)
        untouched = [pk for pk in ids if pk not in touched]
        if untouched:
            _remove_contacts(untouched, actor=actor, reason=reason, now=now)
            report["contacts_removed"] += len(untouched)
        archive = list(Contact.objects.filter(pk__in=touched, archived_at=None))
        for contact in archive:
            contact.archived_at = now
            contact.updated_at = now
        bulk_update_with_history(
            archive, Contact, ["archived_at", "updated_at"], default_user=actor,
            default_change_reason=reason, default_date=now,
        )  # fmt: skip
        report["contacts_archived"] += len(touched)
    # The tags the run added to contacts that stay (updated ones, touched created ones).
    for ids in _chunks(sorted(run_tagged)):
        TaggedItem.objects.filter(pk__in=ids).delete()

    updated = list(
        records.filter(model=ImportedRecord.Model.CONTACT, action=ImportedRecord.Action.UPDATED)
    )
    for start in range(0, len(updated), UNDO_CHUNK):
        chunk = updated[start : start + UNDO_CHUNK]
        contacts = Contact.objects.in_bulk([r.object_id for r in chunk])
        changed, fields = [], {"updated_at", "search_text", "phone_digits", "mobile_digits"}
        for record in chunk:
            contact = contacts.get(record.object_id)
            if contact is None:
                continue
            touched_one = False
            for name, (before, after) in record.changes.items():
                if _json(getattr(contact, name)) != after:
                    report["conflicts"] += 1  # changed again since: theirs stays
                    continue
                setattr(contact, name, _from_json(name, before))
                fields.add(name)
                touched_one = True
            if touched_one:
                contact.updated_at = now
                contact.refresh_search_fields()
                changed.append(contact)
            if record.consent_id:
                report["consents_withdrawn"] += _undo_consent(
                    contact, record.consent_id, actor, reason, now
                )
        bulk_update_with_history(
            changed, Contact, sorted(fields), default_user=actor,
            default_change_reason=reason, default_date=now,
        )  # fmt: skip
        report["contacts_restored"] += len(changed)

    accounts = [
        pk
        for record in records.filter(model=ImportedRecord.Model.ACCOUNT).only(
            "object_id", "object_ids"
        )
        for pk in record.ids
    ]
    for ids in _chunks(accounts):
        in_use = set(
            Contact.objects.filter(account_id__in=ids).values_list("account_id", flat=True)
        )
        edited = set(
            Account.history.filter(id__in=ids)
            .values("id")
            .annotate(n=Count("history_id"))
            .filter(n__gt=1)
            .values_list("id", flat=True)
        )
        for account in Account.objects.filter(pk__in=ids).exclude(pk__in=in_use | edited):
            try:
                with transaction.atomic():
                    account._history_user = actor
                    account._change_reason = reason
                    account.delete()
                report["accounts_removed"] += 1
            except (IntegrityError, DatabaseError):  # PROTECTed by another app's record
                report["accounts_kept"] += 1
        report["accounts_kept"] += len(in_use | edited)

    tags = [
        pk
        for record in records.filter(model=ImportedRecord.Model.TAG).only("object_id", "object_ids")
        for pk in record.ids
    ]
    if tags:  # the tags it created, unless someone else uses them now
        Tag.objects.filter(pk__in=tags, taggit_taggeditem_items=None).delete()

    run.status = ImportRun.Status.UNDONE
    run.undone_at = now
    run.undone_by = actor
    run.undo_report = dict(report)
    run.save(update_fields=["status", "undone_at", "undone_by", "undo_report"])
    audit(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        target=run,
        detail={"undo": True, "file": run.file_name, **report},
    )
    return run


def _undo_consent(contact: Contact, entry_id: int, actor, reason: str, now) -> int:
    entry = Consent.objects.filter(pk=entry_id).first()
    if entry is None or entry.action != Consent.Action.GRANT:
        return 0
    latest = ConsentLatest.objects.filter(
        contact=contact, channel=entry.channel, topic=None
    ).first()
    if latest is None or latest.entry_id != entry.pk:
        return 0  # something newer decided since
    before = (
        Consent.objects.filter(contact=contact, channel=entry.channel, topic=None)
        .exclude(pk=entry.pk)
        .filter(at__lte=entry.at)
        .order_by("-at", "-id")
        .first()
    )
    if before is not None and before.action == Consent.Action.GRANT:
        return 0  # they had consented before the import: the import changed nothing
    withdrawal = Consent.objects.create(
        contact=contact,
        channel=entry.channel,
        action=Consent.Action.WITHDRAW,
        at=now,
        source=Consent.Source.IMPORT,
        legal_basis=entry.legal_basis,
        recorded_by=actor,
        note=reason,
    )
    consent_latest_advance(withdrawal)
    return 1
