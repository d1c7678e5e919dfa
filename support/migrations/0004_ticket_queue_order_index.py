"""The queue order as an index on PostgreSQL: pages deep into "Todas" read it in order.

Most urgent first, then the nearest due time (support.selectors.tickets: PRIORITY_ORDER and
NEXT_DUE), then the oldest: the same expressions as the ORDER BY the list compiles, so the
planner can walk the index instead of sorting every ticket (page 200 of 20,000 tickets: a
20 ms sort). The open queues filter first and sort a few thousand rows; they need no index.
On SQLite nothing is created.
"""

from django.db import migrations

SQL = """
CREATE INDEX IF NOT EXISTS ticket_queue_order_idx ON support_ticket (
    (CASE WHEN priority = 'urgente' THEN 0 WHEN priority = 'alta' THEN 1
          WHEN priority = 'media' THEN 2 WHEN priority = 'baja' THEN 3 ELSE 4 END),
    (CASE WHEN first_response_at IS NULL AND first_response_due IS NOT NULL
          THEN first_response_due ELSE resolution_due END) NULLS LAST,
    created_at,
    id
)
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_queue_order_idx")


class Migration(migrations.Migration):
    dependencies = [("support", "0003_ticket_search_trigram")]

    operations = [migrations.RunPython(create, drop)]
