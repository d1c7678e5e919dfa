"""A trigram GIN index for the ticket list's text filter on PostgreSQL (`contains`).

On SQLite nothing is created: the fallback scans, which is fine for a demo database.
"""

from django.db import migrations

SQL = "CREATE INDEX IF NOT EXISTS ticket_search_trgm ON support_ticket USING gin (search_text gin_trgm_ops)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_search_trgm")


class Migration(migrations.Migration):
    # The pg_trgm extension comes with the contacts' own trigram indexes.
    dependencies = [
        ("support", "0002_default_policies_and_calendar"),
        ("contacts", "0003_trigram_search"),
    ]

    operations = [migrations.RunPython(create, drop)]
