"""The run (batches, bulk writes, progress, one bad row, cancel, the rejected-rows file), consent
only with a column and a legal basis, the audit, the Celery task, and the exact undo."""

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError

from accounts.models import Account
from contacts.imports import runner
from contacts.imports.models import ImportedRecord, ImportRun
from contacts.imports.rows import ImportOptions
from contacts.models import Consent, ConsentLatest, Contact
from contacts.services import contact_update
from contacts.tests.factories import ConsentFactory, ContactFactory
from contacts.tests.imports import media, run_import, sample  # noqa: F401
from crm.core.models import AuditEvent
from crm.core.queue import registered_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

FIELDS = ("first_name", "last_name", "email", "phone", "mobile", "job_title", "account_id",
          "birthday", "notes", "country", "archived_at", "phone_digits", "mobile_digits",
          "search_text")  # fmt: skip


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _state():
    return {c.pk: {f: getattr(c, f) for f in FIELDS} for c in Contact.objects.all()}


def test_a_run_writes_contacts_accounts_history_and_is_audited(rep):
    run = run_import(
        "excel_cp1252_semicolon.csv",
        actor=rep,
        create_accounts=True,
        consent_basis="consentimiento",
    )
    assert run.status == ImportRun.Status.DONE
    assert run.counts_line == "creados 3, actualizados 0, duplicados 0, errores 1"
    assert (run.rows_done, run.rows_total, run.accounts_created) == (4, 4, 1)
    jose = Contact.objects.get(email="jose.pena@ejemplo.mx")
    assert (jose.last_name, jose.mobile, jose.mobile_digits) == (
        "Peña Muñoz",
        "+525512345678",
        "525512345678",
    )
    assert jose.account.name == "Ferretería Núñez" and jose.account.tax_id == "MAB9307148T4"
    assert jose.owner == rep and jose.search_text.startswith("jose pena munoz")
    assert jose.history.get().history_user == rep
    assert Account.objects.get().history.count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT)
    assert event.actor == rep and event.target == f"contacts.importrun:{run.pk}"
    assert event.detail["created"] == 3 and event.detail["errors"] == 1


def test_consent_is_imported_from_its_column_with_the_basis(rep):
    run_import("excel_cp1252_semicolon.csv", actor=rep, consent_basis="contrato")
    jose = Contact.objects.get(email="jose.pena@ejemplo.mx")
    entry = jose.consents.get()
    assert (entry.action, entry.source, entry.legal_basis, entry.recorded_by) == (
        "grant",
        Consent.Source.IMPORT,
        "contrato",
        rep,
    )
    assert ConsentLatest.objects.get(contact=jose).entry == entry
    maria = Contact.objects.get(email="maria.guemes@ejemplo.mx")
    assert maria.consents.get().action == "withdraw"


def test_without_a_consent_column_nobody_gets_consent(rep):
    run_import("utf8_bom_comma.csv", actor=rep, country="ES", consent_basis="consentimiento")
    assert Contact.objects.count() == 2
    assert not Consent.objects.exists()


def test_batches_and_one_bad_row_never_abort_the_rest(rep, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 3)
    lines = [f"Nombre{i},c{i}@x.mx" for i in range(10)]
    lines[4] = "Malo,no-es-correo"
    run_import("a.csv", actor=rep, data=_csv("Nombre,Correo", *lines))
    run = ImportRun.objects.get()
    assert run.counts_line == "creados 9, actualizados 0, duplicados 0, errores 1"
    rejected = run.rejected_file.open("rb").read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(rejected)))
    assert rows[0] == ["Fila", "Motivo", "Nombre", "Correo"]
    assert rows[1][0] == "6" and "Correo electrónico" in rows[1][1]


def test_a_row_the_database_refuses_is_rejected_alone(rep, monkeypatch):
    """Someone creates the same email between the classification and the write: that row is an
    error, the others of its batch are written."""
    real = runner.Classifier.classify

    def racing(self, batch):
        rows = real(self, batch)
        ContactFactory(owner=rep, email="b@x.mx")
        return rows

    monkeypatch.setattr(runner.Classifier, "classify", racing)
    run = run_import(
        "a.csv", actor=rep, data=_csv("Nombre,Correo", "A,a@x.mx", "B,b@x.mx", "C,c@x.mx")
    )
    assert run.counts_line == "creados 2, actualizados 0, duplicados 0, errores 1"
    assert Contact.objects.filter(email__in=["a@x.mx", "c@x.mx"]).count() == 2


def test_cancel_stops_between_batches(rep, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    data = _csv("Nombre,Correo", *[f"N{i},n{i}@x.mx" for i in range(6)])
    run = runner.import_create(
        actor=rep, file_name="a.csv", data=data, options=ImportOptions(owner_id=rep.pk),
        mapping={"Nombre": "first_name", "Correo": "email"},
    )  # fmt: skip
    real = runner._Writer.write

    def write_then_cancel(self, rows):
        real(self, rows)
        runner.import_cancel(actor=rep, run=run)

    monkeypatch.setattr(runner._Writer, "write", write_then_cancel)
    run = runner.import_execute(run.pk)
    assert run.status == ImportRun.Status.CANCELLED
    assert (run.rows_done, run.rows_total, run.created) == (2, 6, 2)
    assert Contact.objects.count() == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CANCEL).count() == 1


def test_a_pending_import_is_cancelled_at_once_and_never_runs(rep):
    run = runner.import_create(
        actor=rep, file_name="a.csv", data=_csv("Nombre", "Ana"),
        options=ImportOptions(owner_id=rep.pk), mapping={"Nombre": "first_name"},
    )  # fmt: skip
    runner.import_cancel(actor=rep, run=run)
    assert runner.import_execute(run.pk).status == ImportRun.Status.CANCELLED
    assert not Contact.objects.exists()


def test_the_task_is_registered_runs_once_and_twice_is_harmless(rep):
    task = registered_task("contacts.import_run")
    run = runner.import_create(
        actor=rep, file_name="a.csv", data=_csv("Nombre", "Ana"),
        options=ImportOptions(owner_id=rep.pk), mapping={"Nombre": "first_name"},
    )  # fmt: skip
    task.apply(args=[run.pk])
    task.apply(args=[run.pk])
    assert Contact.objects.count() == 1
    assert ImportRun.objects.get().status == ImportRun.Status.DONE


def test_undo_restores_exactly_the_previous_state(rep, django_capture_on_commit_callbacks):
    ana = ContactFactory(owner=rep, first_name="Ana", email="ana@x.mx", job_title="Compras",
                         notes="Nota vieja", birthday=None, account=None)  # fmt: skip
    luis = ContactFactory(owner=rep, first_name="Luis", email="luis@x.mx", job_title="Ventas")
    ConsentFactory(contact=luis, action="withdraw")
    before = _state()
    consents_before = Consent.objects.count()
    data = _csv(
        "Nombre,Correo,Puesto,Cumpleaños,Notas,Empresa,Acepta",
        "Ana,ana@x.mx,Dirección,1980-02-03,Nueva nota,Acme Nueva,sí",
        "Luis,luis@x.mx,Gerente,,,,sí",
        "Eva,eva@x.mx,Compras,,,Acme Nueva,sí",
    )
    run = run_import(
        "a.csv", actor=rep, data=data, duplicates="update", create_accounts=True,
        consent_basis="consentimiento",
    )  # fmt: skip
    assert run.counts_line == "creados 1, actualizados 2, duplicados 0, errores 0"
    ana.refresh_from_db()
    assert (ana.job_title, ana.notes, str(ana.birthday)) == (
        "Dirección",
        "Nota vieja\nNotas: Nueva nota",
        "1980-02-03",
    )
    assert ana.account.name == "Acme Nueva"
    assert luis.consent_latest.get().action == "grant"

    run = runner.import_undo(actor=rep, run=run)
    assert run.status == ImportRun.Status.UNDONE
    assert _state() == before  # Eva gone, Ana and Luis field by field as they were
    assert not Account.objects.filter(name="Acme Nueva").exists()
    assert run.undo_report["accounts_removed"] == 1
    # The ledger is never edited: the import's grant is followed by a withdrawal.
    assert luis.consent_latest.get().action == "withdraw"
    # Eva's grant went with her; Ana (no consent before) and Luis get a withdrawal.
    assert Consent.objects.count() == consents_before + 2 + 2
    assert run.undo_report["consents_withdrawn"] == 2
    assert run.undo_report["contacts_removed"] == 1
    event = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).latest("pk")
    assert event.detail["undo"] is True


def test_undo_archives_what_was_touched_and_keeps_later_edits(rep):
    existing = ContactFactory(owner=rep, first_name="Ana", email="ana@x.mx", job_title="Compras")
    run = run_import(
        "a.csv", actor=rep, duplicates="update",
        data=_csv("Nombre,Correo,Puesto,Ciudad", "Ana,ana@x.mx,Dirección,León", "Eva,eva@x.mx,,"),
    )  # fmt: skip
    eva = Contact.objects.get(email="eva@x.mx")
    contact_update(actor=rep, contact=eva, data={"job_title": "Editado después"})
    contact_update(actor=rep, contact=existing, data={"job_title": "Cambiado después"})
    run = runner.import_undo(actor=rep, run=run)
    eva.refresh_from_db()
    existing.refresh_from_db()
    assert eva.archived_at is not None  # touched since: archived, not removed
    assert existing.job_title == "Cambiado después"  # their later edit stays
    assert existing.city != "León"  # the untouched field is restored
    assert run.undo_report == {"contacts_archived": 1, "conflicts": 1, "contacts_restored": 1}


def test_undo_only_by_its_author_or_an_administrator_and_once(rep, other_rep, admin_user):
    run = run_import("a.csv", actor=rep, data=_csv("Nombre", "Ana"))
    with pytest.raises(PermissionDenied):
        runner.import_undo(actor=other_rep, run=run)
    runner.import_undo(actor=admin_user, run=run)
    with pytest.raises(Exception, match="terminada"):
        runner.import_undo(actor=admin_user, run=run)
    assert ImportedRecord.objects.filter(run=run).count() == 1


def test_the_vcard_and_outlook_exports_import_end_to_end(rep):
    run = run_import("phone_export_v21.vcf", actor=rep)
    assert run.counts_line == "creados 2, actualizados 0, duplicados 0, errores 1"
    jose = Contact.objects.get(email="jperez@acme.mx")
    assert (jose.first_name, jose.last_name, jose.job_title) == (
        "José",
        "Pérez Martínez",
        "Director comercial",
    )
    assert (jose.mobile, jose.phone, str(jose.birthday)) == (
        "+525511112222",
        "+525533334444",
        "1980-05-17",
    )
    assert "jose.perez@casa.mx" in jose.notes and "55 5555 6666" in jose.notes
    run = run_import("outlook_contacts.csv", actor=rep, country="ES")
    assert run.counts_line == "creados 2, actualizados 0, duplicados 0, errores 0"
    carmen = Contact.objects.get(email="carmen.vidal@vidal.es")
    assert (carmen.city, carmen.postal_code, carmen.country, carmen.job_title) == (
        "Madrid", "28013", "ES", "Jefa de compras",
    )  # fmt: skip


def test_no_integrity_error_leaks(rep):
    ContactFactory(owner=rep, email="a@x.mx")
    try:
        run = run_import(
            "a.csv", actor=rep, data=_csv("Nombre,Correo", "A,a@x.mx"), duplicates="create"
        )
    except IntegrityError:  # pragma: no cover
        pytest.fail("the run raised")
    assert run.counts_line == "creados 0, actualizados 0, duplicados 1, errores 0"


def test_import_start_queues_the_task_after_the_commit(rep, django_capture_on_commit_callbacks):
    run = runner.import_create(
        actor=rep, file_name="a.csv", data=_csv("Nombre", "Ana"),
        options=ImportOptions(owner_id=rep.pk), mapping={"Nombre": "first_name"},
    )  # fmt: skip
    task = registered_task("contacts.import_run")
    calls = []
    original = task.apply_async
    task.apply_async = lambda args, **kw: calls.append(args) or task.apply(args=args)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            runner.import_start(run=run)
    finally:
        task.apply_async = original
    assert calls == [[run.pk]]
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE


def test_the_runs_rows_are_frozen_out_of_the_collector_only_while_it_runs():
    import gc

    from contacts.imports.runner import _rows_out_of_collector

    gc.unfreeze()
    with _rows_out_of_collector():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a process that froze its own objects (a gunicorn worker) keeps them frozen
    try:
        frozen = gc.get_freeze_count()
        with _rows_out_of_collector():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
