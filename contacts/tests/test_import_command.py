"""`manage.py import_contacts`: the same runner from the command line, its last line the counts."""

import pytest
from django.core.management import CommandError, call_command

from contacts.imports.mapping import mapping_save
from contacts.imports.models import ImportRun
from contacts.models import Contact
from contacts.tests.imports import DATA, media  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _run(*args) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command("import_contacts", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_dry_run_prints_the_preview_counts_and_writes_nothing(rep):
    lines = _run(str(DATA / "phone_export_v21.vcf"), "--dry-run", "--owner", rep.username)
    assert lines[-1] == "creados 2, actualizados 0, duplicados 0, errores 1"
    assert not Contact.objects.exists()
    assert not ImportRun.objects.exists()


def test_an_import_prints_its_counts_last(rep):
    path = str(DATA / "outlook_contacts.csv")
    lines = _run(path, "--owner", rep.username, "--country", "ES")
    assert lines[-1] == "creados 2, actualizados 0, duplicados 0, errores 0"
    assert Contact.objects.filter(owner=rep).count() == 2
    run = ImportRun.objects.get()
    assert (run.created_by, run.file_name, run.status) == (
        None,
        "outlook_contacts.csv",
        "terminada",
    )
    lines = _run(path, "--owner", rep.username, "--country", "ES")
    assert lines[-1] == "creados 0, actualizados 0, duplicados 2, errores 0"


def test_a_saved_mapping_by_name(rep):
    path = DATA / "utf8_bom_comma.csv"
    mapping_save(owner=rep, name="solo nombre", columns={"Email": "first_name"})
    lines = _run(
        str(path),
        "--owner",
        rep.username,
        "--mapping",
        "solo nombre",
        "--dry-run",
        "--country",
        "ES",
    )
    assert "Email → first_name" in lines
    assert lines[-1].startswith("creados 2,")


def test_bad_arguments_are_refused(rep):
    with pytest.raises(CommandError, match="No existe"):
        _run("/no/such/file.csv", "--owner", rep.username)
    with pytest.raises(CommandError, match="usuario"):
        _run(str(DATA / "utf8_bom_comma.csv"), "--owner", "nadie")
