"""¿Quién llama?: a contact's phones by how they end, on PostgreSQL.

"Ends with 5678" is a prefix of the reversed digits, so a btree over reverse(digits) answers
it with a range scan, where the trigram indexes (0003) would return every phone that merely
contains the digits. The lookup (crm.top.caller) filters on Reverse(<field>) with `startswith`.
On SQLite nothing is created: the fallback scans, which is fine for a demo database.
"""

from django.db import migrations

INDEXES = [
    ("contacts_contact", "phone_digits", "contact_phone_rev_idx"),
    ("contacts_contact", "mobile_digits", "contact_mobile_rev_idx"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, name in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} (reverse({column}) text_pattern_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_contact_last_contacted_at"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
