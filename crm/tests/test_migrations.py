"""The models and the migrations agree: a model change without its migration fails here, not
on a customer's database at the next deploy."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits 1 when a migration is missing
        pytest.fail(f"makemigrations would write a migration (exit {exc.code}):\n{out.getvalue()}")
