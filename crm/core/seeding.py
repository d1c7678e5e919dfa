"""What every app's demo data (`<app>/seed.py`) loads with: one seeded random sequence, the
Faker pools, and the bulk writers.

`make bench` builds the 100,000 contacts of DESIGN.md §4 with it, so speed matters. Faker is
only used to fill small pools of names and streets, which are then combined with one seeded
`random.Random`. Every app's seed draws from the same `Demo.rng`, in the order `seed_demo`
calls them, so the same seed gives the same rows. Rows are written in batches of 5,000:
`bulk_create` on SQLite, COPY on PostgreSQL, where a big load also rebuilds the secondary
indexes once at the end instead of updating them row by row. Historical records are not written
for seeded rows.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone
from faker import Faker
from psycopg.types.json import Jsonb
from taggit.models import Tag, TaggedItem

BATCH_SIZE = 5000
BIG_LOAD = 10_000  # rows from which indexes are rebuilt rather than updated (PostgreSQL)

# city, region, phone area code, postal code range, weight
MX_CITIES = [
    ("Ciudad de México", "Ciudad de México", "55", (1000, 16999), 30),
    ("Naucalpan de Juárez", "Estado de México", "55", (53000, 53990), 4),
    ("Tlalnepantla de Baz", "Estado de México", "55", (54000, 54199), 3),
    ("Guadalajara", "Jalisco", "33", (44100, 44990), 14),
    ("Zapopan", "Jalisco", "33", (45010, 45239), 5),
    ("Monterrey", "Nuevo León", "81", (64000, 64990), 14),
    ("San Pedro Garza García", "Nuevo León", "81", (66200, 66299), 4),
    ("Puebla", "Puebla", "222", (72000, 72599), 4),
    ("Querétaro", "Querétaro", "442", (76000, 76249), 4),
    ("León", "Guanajuato", "477", (37000, 37699), 3),
    ("Mérida", "Yucatán", "999", (97000, 97399), 3),
    ("Tijuana", "Baja California", "664", (22000, 22699), 3),
    ("Chihuahua", "Chihuahua", "614", (31000, 31459), 2),
    ("Cancún", "Quintana Roo", "998", (77500, 77599), 2),
]
# city, province, landline prefix, postal code range, weight; the CIF's province code is the
# first two digits of the postal code.
ES_CITIES = [
    ("Madrid", "Madrid", "91", (28001, 28055), 30),
    ("Barcelona", "Barcelona", "93", (8001, 8042), 22),
    ("Valencia", "Valencia", "96", (46001, 46026), 10),
    ("Sevilla", "Sevilla", "95", (41001, 41020), 8),
    ("Bilbao", "Bizkaia", "944", (48001, 48015), 6),
    ("Zaragoza", "Zaragoza", "976", (50001, 50021), 5),
    ("Málaga", "Málaga", "952", (29001, 29018), 5),
]
SPAIN_SHARE = 0.1


class Pools:
    """Names and streets drawn once from Faker, then combined at random (Faker is slow)."""

    def __init__(self, seed: int) -> None:
        mx, es = Faker("es_MX"), Faker("es_ES")
        mx.seed_instance(seed)
        es.seed_instance(seed + 1)
        self.by_country = {}
        for country, fake in (("MX", mx), ("ES", es)):
            self.by_country[country] = {
                "female": sorted({fake.first_name_female() for _ in range(600)}),
                "male": sorted({fake.first_name_male() for _ in range(600)}),
                "last": sorted({fake.last_name() for _ in range(1500)}),
                "street": sorted({fake.street_name() for _ in range(2000)}),
            }


class Demo:
    """One demo load: its random sequence, its clock (`now`, fixed for the whole load), its name
    pools, and its progress lines on `stdout`.

    Each app's seed takes it as its first argument and draws from `rng`; the helpers here are
    the draws more than one app makes (a weighted choice, a city, a phone, a street, a person,
    a moment, an office-hours moment).
    """

    def __init__(self, *, seed: int, stdout, started: float | None = None) -> None:
        self.seed = seed
        self.started = time.perf_counter() if started is None else started
        self._weights: dict[int, tuple[list, list]] = {}
        self.rng = random.Random(seed)
        self.pools = Pools(seed)
        self.stdout = stdout
        self.now = timezone.now()
        self.tz = timezone.get_current_timezone()
        self.today = timezone.localdate(self.now)

    def say(self, text: str) -> None:
        """A progress line, with the time since the load started."""
        self.stdout.write(f"  {text} ({since(self.started)})")

    def pick(self, weights: dict):
        keys, cumulative = self._cumulative(id(weights), list(weights), weights.values())
        return self.rng.choices(keys, cum_weights=cumulative)[0]

    def country(self) -> str:
        return "ES" if self.rng.random() < SPAIN_SHARE else "MX"

    def city(self, country: str) -> tuple:
        table = ES_CITIES if country == "ES" else MX_CITIES
        rows, cumulative = self._cumulative(id(table), table, (row[-1] for row in table))
        return self.rng.choices(rows, cum_weights=cumulative)[0]

    def _cumulative(self, key: int, items: list, weights) -> tuple[list, list]:
        if key not in self._weights:
            self._weights[key] = (items, list(itertools.accumulate(weights)))
        return self._weights[key]

    def landline(self, country: str, area: str) -> str:
        return f"+{'34' if country == 'ES' else '52'}{area}" + self.digits(
            (9 if country == "ES" else 10) - len(area)
        )

    def mobile(self, country: str, area: str) -> str:
        if country == "ES":
            return "+346" + self.digits(8)
        return f"+52{area}" + self.digits(10 - len(area))

    def digits(self, n: int) -> str:
        return str(self.rng.randrange(10**n)).zfill(n)

    def street(self, country: str) -> str:
        name = self.rng.choice(self.pools.by_country[country]["street"])
        number = self.rng.randint(1, 2500 if country == "MX" else 180)
        if country == "ES":
            return f"{name}, {number}"
        if self.rng.random() < 0.3:
            return f"{name} {number} Int. {self.rng.randint(1, 40)}"
        return f"{name} {number}"

    def when(self, start: datetime, end: datetime | None = None) -> datetime:
        end = end or self.now
        span = max((end - start).total_seconds(), 1.0)
        # Skewed towards the recent past, as real CRMs grow.
        return start + timedelta(seconds=span * (self.rng.random() ** 0.6))

    def at_work(self, day: date, *, latest: datetime | None = None) -> datetime:
        """An office-hours moment of `day` (local time), no later than `latest`."""
        moment = datetime.combine(
            day, dtime(self.rng.randint(8, 18), self.rng.choice((0, 15, 30, 45))), tzinfo=self.tz
        )
        if latest is not None and moment > latest:
            moment = latest - timedelta(minutes=self.rng.randint(5, 240))
        return moment

    def person_name(self, country: str) -> tuple[str, str]:
        pool = self.pools.by_country[country]
        first = self.rng.choice(pool["female" if self.rng.random() < 0.5 else "male"])
        last = self.rng.choice(pool["last"])
        if self.rng.random() < 0.75:  # two surnames, as people in Mexico and Spain write them
            last = f"{last} {self.rng.choice(pool['last'])}"
        return first, last


# -- tags ----------------------------------------------------------------------------------------


def tags_named(names: list[str]) -> dict[str, Tag]:
    """The tags of these names, created where missing (matched without regard to case)."""
    found = {}
    for name in dict.fromkeys(names):
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            tag = Tag(name=name)
            tag.save()  # taggit makes the slug unique
        found[name] = tag
    return found


def tagged_items(
    demo: Demo, objs: list, names: list[str], *, share: float, most: int
) -> Iterator[TaggedItem]:
    """Up to `most` of the tags `names` on about `share` of `objs` (already saved)."""
    tags = tags_named(names)
    content_type = ContentType.objects.get_for_model(type(objs[0])) if objs else None
    for obj in objs:
        if demo.rng.random() < share:
            for name in demo.rng.sample(names, demo.rng.randint(1, most)):
                yield TaggedItem(content_type=content_type, object_id=obj.pk, tag=tags[name])


# -- bulk writing --------------------------------------------------------------------------------


@contextlib.contextmanager
def timestamps_as_given(*model_classes: type[models.Model]):
    """Let bulk_create keep our spread-out created/updated times instead of "now".

    Demo data all created in the same second makes "new this month" and recency sorting
    meaningless. The flags are restored even if the seeding fails.
    """
    saved = []
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _json_positions(fields, offset: int = 0) -> list[int]:
    """Where the JSON columns are in a COPY row: their values go as JSON, not as arrays."""
    return [i + offset for i, f in enumerate(fields) if isinstance(f, models.JSONField)]


def _with_json(row, positions: list[int]) -> list:
    if not positions:
        return row
    row = list(row)
    for i in positions:
        row[i] = Jsonb(row[i])
    return row


def bulk(model: type[models.Model], objs: list) -> None:
    """Insert `objs` and set their primary keys: COPY on PostgreSQL, else bulk_create.

    bulk_create spends most of its time preparing each value in Python; COPY makes the 100,000
    contacts of the benchmark load in a fraction of the time, with the same rows.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(objs), BATCH_SIZE):
            model.objects.bulk_create(objs[start : start + BATCH_SIZE])
        return
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated and not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in [opts.pk.column, *(f.column for f in fields)])
    attnames = [f.attname for f in fields]
    as_json = _json_positions(fields, offset=1)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BATCH_SIZE):
            batch = objs[start : start + BATCH_SIZE]
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, len(batch)],
            )
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
            with cursor.cursor.copy(f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                for obj in batch:
                    row = [obj.pk, *(getattr(obj, name) for name in attnames)]
                    copy.write_row(_with_json(row, as_json))


def bulk_rows(model: type[models.Model], fields: tuple[str, ...], rows: list[tuple]) -> int:
    """Insert rows given as tuples of `fields` (attribute names) into a table whose new rows
    nothing else in the load refers to: COPY without building a model instance per row on
    PostgreSQL (the ids come from the table's identity), bulk_create elsewhere."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        for start in range(0, len(rows), BATCH_SIZE):
            model.objects.bulk_create(
                [
                    model(**dict(zip(fields, row, strict=True)))
                    for row in rows[start : start + BATCH_SIZE]
                ]
            )
        return len(rows)
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(by_name[name].column) for name in fields)
    as_json = _json_positions([by_name[name] for name in fields])
    with connection.cursor() as cursor:
        table = quote(model._meta.db_table)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_with_json(row, as_json))
    return len(rows)


def bulk_rows_iter(model: type[models.Model], fields: tuple[str, ...], rows: Iterable) -> int:
    """`bulk_rows` in batches from an iterator: 300,000 activities never sit in memory."""
    count = 0
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH_SIZE)):
        count += bulk_rows(model, fields, batch)
    return count


@contextlib.contextmanager
def indexes_built_after(*model_classes: type[models.Model], rows: int):
    """On PostgreSQL, drop the secondary indexes and the foreign keys of a big load, and build
    them again after it.

    Keeping the trigram GIN indexes up to date row by row costs far more than building them
    once over 100,000 rows; and each loaded row would queue one deferred check per foreign key
    (1.2 million for the activities alone), where adding the constraint back checks the whole
    table in one join, as pg_restore does. Unique and primary-key indexes stay, so the database
    still guards its invariants; every index and constraint comes back from its own definition
    (pg_get_indexdef, pg_get_constraintdef), inside the same transaction, so a failure leaves
    everything as it was.
    """
    if connection.vendor != "postgresql" or rows < BIG_LOAD:
        yield False
        return
    quote = connection.ops.quote_name
    definitions = []
    foreign_keys = []
    with connection.cursor() as cursor:
        for model in model_classes:
            table = quote(model._meta.db_table)
            cursor.execute(
                """
                SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = %s::regclass AND contype = 'f'
                """,
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
                foreign_keys.append((table, name, definition))
            cursor.execute(
                """
                SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid)
                FROM pg_index x
                WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {name}")
                definitions.append(definition)
    yield True
    with connection.cursor() as cursor:
        # Deferred checks of rows written before the drop (none in a pure load) run first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def analyze(*model_classes: type[models.Model]) -> None:
    """Fresh planner statistics, so the first pages after a big load use the indexes.

    Outside a transaction it is VACUUM (ANALYZE): the "last contacted" and tier updates leave a
    dead version of most accounts and contacts, and a freshly loaded table has no visibility
    map yet, so the lists' index-only scans would visit the heap row by row until autovacuum
    comes round (contacts filtered: 130 ms instead of 20 on the benchmark data).
    """
    if connection.vendor == "postgresql":
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in model_classes:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")


def since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"
