"""Segment counts at 100,000 contacts: issue 8's target, segment count p95 ≤ 200 ms.

`segment_counts` (campaigns.selectors.segments) is what the builder's live count, the segment
list's per-row count and the campaign editor call: one aggregate query giving the contacts and
those eligible after consent and suppression. It is timed here for the demo segments of
campaigns/seed.py (by their definitions, so the benchmark writes nothing), for a 3-condition
segment over the account, the consent ledger and the engagement ledger, and for a broad
OR of two groups. Each is warmed up, then timed RUNS times (median and p95), and its queries
counted (1, plus BEGIN / the settings of _count_settings / COMMIT on PostgreSQL).

Run alone (after `manage.py migrate` and the §4 data): `python -m bench.campaigns_segments`.
From bench/__main__.py: `rows.extend(campaigns_segments.measure())` (see measure()).
"""

from __future__ import annotations

import math
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()  # idempotent: a no-op when bench/__main__.py has set Django up

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from campaigns.seed import SEGMENTS  # noqa: E402
from campaigns.selectors.segments import segment_counts  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
WARMUPS = 3
P95_MS = 200


def _cond(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


# Three conditions over three relations: the account (tier), the consent ledger and the
# tracking ledger — the shape a "re-engage good customers" segment has.
THREE_CONDITIONS = {
    "match": "all",
    "groups": [
        {
            "match": "all",
            "conditions": [
                _cond("tier", "in", ["A", "B", "C"]),
                _cond("consent", "is", {"channel": "email", "topic": None, "state": "granted"}),
                _cond("opened", "not_in_last_days", 90),
            ],
        }
    ],
}
TWO_GROUPS_ANY = {
    "match": "any",
    "groups": [
        {
            "match": "all",
            "conditions": [
                _cond("lifecycle", "in", ["cliente"]),
                _cond("open_opportunities", "exists"),
            ],
        },
        {
            "match": "all",
            "conditions": [_cond("lead_score", "gte", 70), _cond("city", "contains", "mex")],
        },
    ],
}


def definitions() -> list[tuple[str, dict]]:
    rows = [(f"segmento demo: {name}", definition) for name, _text, definition in SEGMENTS]
    rows.append(("segmento de 3 condiciones", THREE_CONDITIONS))
    rows.append(("segmento: 2 grupos (alguno)", TWO_GROUPS_ANY))
    return rows


def measure() -> list:
    """A bench Row (bench/measure.py's) per definition: segment_counts timed in-process."""
    from bench.measure import Row, Target

    # Queries: the count itself; on PostgreSQL inside BEGIN; its settings; …; COMMIT.
    target = Target(median_ms=None, p95_ms=P95_MS, queries=4)
    results = []
    for label, definition in definitions():
        row = Row(page=label, url="campaigns.selectors.segments.segment_counts()", target="")
        row.target = target.describe()
        try:
            for _ in range(WARMUPS):
                segment_counts(definition=definition)
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                total, eligible = segment_counts(definition=definition)
                timings.append((time.perf_counter() - started) * 1000)
            with CaptureQueriesContext(connection) as queries:
                segment_counts(definition=definition)
        except Exception as exc:  # noqa: BLE001 - reported in the table, the rest still runs
            row.status = "error"
            row.passed = False
            row.problems.append(f"{type(exc).__name__}: {exc}"[:120])
            results.append(row)
            continue
        timings.sort()
        row.status = "200"
        row.queries = len(queries)
        row.median_ms = round(statistics.median(timings), 1)
        row.p95_ms = round(timings[math.ceil(0.95 * len(timings)) - 1], 1)
        row.page = f"{label} ({total:,} / {eligible:,})"
        if row.p95_ms > target.p95_ms:
            row.problems.append("p95")
        if row.queries > target.queries:
            row.problems.append("consultas")
        row.passed = not row.problems
        results.append(row)
    return results


if __name__ == "__main__":
    for row in measure():
        print(
            f"{row.page:60} {row.status:>5} med {row.median_ms} ms  p95 {row.p95_ms} ms  "
            f"{row.queries} consultas  {'OK' if row.passed else row.problems}"
        )
