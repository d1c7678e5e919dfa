"""A ticket's search_text holds its own words only: its number and its subject.

It used to copy the account's name and the contact's full name too, which went stale when the
customer was renamed; the ticket list's text filter now matches those in the account's and the
contact's own search_text (support.selectors.tickets). Existing rows are rewritten here.

The folding is copied from crm.core.text.fold (lower-case, accent-free, single-spaced) so that this
migration keeps doing what it did the day it was written, whatever becomes of that module.
"""

import re
import unicodedata

from django.db import migrations

BATCH = 2000  # tickets read per fetch and written per statement
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def own_search_text(number: str, subject: str) -> str:
    return " ".join(fold(part) for part in (number, subject) if part)


def rewrite(apps, schema_editor):
    """Every ticket's search_text from its number and subject, in batches (bounded memory;
    harmless to run again). Rows already right are left alone."""
    alias = schema_editor.connection.alias
    Ticket = apps.get_model("support", "Ticket")
    tickets = (
        Ticket.objects.using(alias).only("pk", "number", "subject", "search_text").order_by("pk")
    )
    batch = []
    for ticket in tickets.iterator(chunk_size=BATCH):
        text = own_search_text(ticket.number, ticket.subject)
        if ticket.search_text == text:
            continue
        ticket.search_text = text
        batch.append(ticket)
        if len(batch) == BATCH:
            Ticket.objects.using(alias).bulk_update(batch, ["search_text"])
            batch = []
    if batch:
        Ticket.objects.using(alias).bulk_update(batch, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0005_ticket_business_minutes"),
    ]

    operations = [migrations.RunPython(rewrite, migrations.RunPython.noop)]
