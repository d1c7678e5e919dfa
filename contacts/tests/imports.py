"""Helpers of the import tests: the sample files and a run from bytes to its end."""

from pathlib import Path

import pytest

from contacts.imports import runner
from contacts.imports.mapping import suggest
from contacts.imports.readers import read_table
from contacts.imports.rows import ImportOptions

DATA = Path(__file__).parent / "data" / "imports"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def table_of(name: str, data: bytes | None = None):
    return read_table(name, sample(name) if data is None else data)


def preview(name, *, actor, data=None, mapping=None, **options):
    table = table_of(name, data)
    options.setdefault("owner_id", actor.pk)
    return runner.import_preview(
        actor=actor,
        table=table,
        mapping=suggest(table.header) if mapping is None else mapping,
        options=ImportOptions(**options),
    )


def run_import(name, *, actor, data=None, mapping=None, **options):
    data = sample(name) if data is None else data
    table = read_table(name, data)
    options.setdefault("owner_id", actor.pk)
    run = runner.import_create(
        actor=actor,
        file_name=name,
        data=data,
        options=ImportOptions(**options),
        mapping=suggest(table.header) if mapping is None else mapping,
    )
    return runner.import_execute(run.pk)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
