"""Each ticket's business minutes to its first response and to its resolution, stored.

support.services.sla writes them when a target is reached, so the dashboard's medians read
stored numbers instead of evaluating the business calendar for every ticket of the period.
The tickets that reached their targets before this migration are back-filled here, counted as
the services count them (support.sla.business_minutes_between from creation, never negative)
on the company's calendar as it is now.

The calendar is built from this migration's historical models, by the same rules as
support.sla.calendar_load (which imports the current models, whose fields may one day differ
from the database at this point of the history).
"""

import zoneinfo

from django.conf import settings
from django.db import migrations, models

from support.sla import DEFAULT_CLOSES, DEFAULT_OPENS, Calendar, business_minutes_between

BATCH = 1000  # tickets read per fetch and written per statement


def company_calendar(apps, using: str) -> Calendar:
    """support.sla.calendar_load on the historical models: calendar 1, its hours and days off;
    without a calendar row the default one; without opening hours Monday to Friday 9-18; an
    unknown time zone falls back to settings.TIME_ZONE."""
    BusinessCalendar = apps.get_model("support", "BusinessCalendar")
    BusinessHours = apps.get_model("support", "BusinessHours")
    CompanyHoliday = apps.get_model("support", "CompanyHoliday")
    stored = (
        BusinessCalendar.objects.using(using)
        .filter(pk=1)
        .values_list("time_zone", "country", "subdivision")
        .first()
    )
    if stored is None:
        company = getattr(settings, "COMPANY", {}) or {}
        return Calendar.standard(time_zone=settings.TIME_ZONE, country=company.get("country", ""))
    time_zone, country, subdivision = stored
    hours = [None] * 7
    for weekday, opens, closes in (
        BusinessHours.objects.using(using)
        .filter(calendar_id=1)
        .order_by("weekday")
        .values_list("weekday", "opens_at", "closes_at")
    ):
        hours[weekday] = (opens, closes)
    if not any(hours):
        hours = [(DEFAULT_OPENS, DEFAULT_CLOSES)] * 5 + [None, None]
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    days_off = CompanyHoliday.objects.using(using).filter(calendar_id=1)
    return Calendar(
        zone=zone,
        hours=tuple(hours),
        holidays=frozenset(days_off.values_list("date", flat=True)),
        country=(country or "").upper(),
        subdivision=subdivision or "",
    )


def backfill(apps, schema_editor):
    """The minutes of every ticket with a first response or a resolution and no minutes yet,
    read and written in batches (bounded memory; harmless to run again)."""
    connection = schema_editor.connection
    Ticket = apps.get_model("support", "Ticket")
    pending = (
        Ticket.objects.using(connection.alias)
        .filter(
            models.Q(first_response_at__isnull=False, first_response_business_minutes=None)
            | models.Q(resolved_at__isnull=False, resolution_business_minutes=None)
        )
        .values_list(
            "pk",
            "created_at",
            "first_response_at",
            "first_response_business_minutes",
            "resolved_at",
            "resolution_business_minutes",
        )
        .order_by("pk")
    )
    calendar = None
    batch = []
    # Rows already read are written while the read goes on: on SQLite (no isolation within a
    # connection) a written row could come back, which is harmless (its minutes are set).
    for pk, created, first_at, first, resolved_at, resolution in pending.iterator(chunk_size=BATCH):
        calendar = calendar or company_calendar(apps, connection.alias)
        if first is None and first_at is not None:
            first = max(0, business_minutes_between(calendar, created, first_at))
        if resolution is None and resolved_at is not None:
            resolution = max(0, business_minutes_between(calendar, created, resolved_at))
        batch.append((pk, first, resolution))
        if len(batch) == BATCH:
            write(connection, Ticket, batch)
            batch = []
    if batch:
        write(connection, Ticket, batch)


def write(connection, model, rows: list[tuple[int, int | None, int | None]]) -> None:
    """Store (pk, first response minutes, resolution minutes) rows.

    Not bulk_update: its CASE WHEN per row and field took 19 s for the 20,000 tickets of the
    benchmark, against 4 s for one UPDATE … FROM VALUES per batch on PostgreSQL (SQLite runs
    one small UPDATE per row in-process, as fast, and on any version).
    """
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    first, resolution = (
        quote("first_response_business_minutes"),
        quote("resolution_business_minutes"),
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s, %s::integer, %s::integer)"] * len(rows))
            cursor.execute(
                f"UPDATE {table} AS t SET {first} = v.first, {resolution} = v.resolution "
                f"FROM (VALUES {values}) AS v (id, first, resolution) WHERE t.{pk} = v.id",
                [value for row in rows for value in row],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {first} = %s, {resolution} = %s WHERE {pk} = %s",
                [
                    (minutes, resolution_minutes, ticket_id)
                    for ticket_id, minutes, resolution_minutes in rows
                ],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0004_ticket_queue_order_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="first_response_business_minutes",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ticket",
            name="resolution_business_minutes",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
