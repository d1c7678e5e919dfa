"""Trigram GIN indexes for search on PostgreSQL (`contains` on the normalised columns).

On SQLite nothing is created: the fallback scans, which is fine for a demo database.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    ("accounts_account", "search_text", "account_search_trgm"),
    ("accounts_account", "phone_digits", "account_phone_trgm"),
    ("contacts_contact", "search_text", "contact_search_trgm"),
    ("contacts_contact", "phone_digits", "contact_phone_trgm"),
    ("contacts_contact", "mobile_digits", "contact_mobile_trgm"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, name in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_initial"),
        ("accounts", "0002_initial"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop),
    ]
