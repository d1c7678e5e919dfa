"""The lead score from what contacts do: profile points (contacts.scoring) plus behaviour points
from their opens, clicks and forms, each decayed by its age; stored through contacts.scoring.

Two ways, one result (a test compares them): `contact_score_recompute` for one contact, queued
after each open or click, and `contacts_score_nightly` for all of them, set-based: per chunk of
contacts, one query of their profile points (Case/When annotations) and one grouped query per
behaviour source (the decay is a database expression), then only the contacts whose score
changes are written, in bulk. Run twice at the same `now`, the second run writes nothing.

A behaviour source is a function returning a queryset with one row per event that counts, with
`contact_id` and a time column: opens and clicks of people (never machines) are here; another
source (sign-up form submissions) is plugged in by appending a `BehaviourSource` to `SOURCES`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from campaigns.models import FormSubmission, TrackingEvent
from contacts.models import Contact, ScoreChange, ScoreRule
from contacts.scoring import (
    Part,
    ScoreUpdate,
    active_rules,
    behaviour_sum,
    contact_score_set,
    contact_scores_apply,
    profile_expression,
    profile_points,
    scorable_contacts,
    score_total,
)
from crm.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

CHUNK = 5000  # contacts read per round of the nightly job
WRITE_BATCH = 5000  # changed contacts written per transaction


@dataclass(frozen=True)
class BehaviourSource:
    """Where the events of a behaviour rule's `event` come from."""

    event: str  # a ScoreRule.Event value
    rows: Callable[[], QuerySet]  # one row per event that counts, with contact_id
    at_field: str = "at"  # the row's time, which the decay reads


def _human_events(kind: str) -> Callable[[], QuerySet]:
    def rows() -> QuerySet:
        # Opens by privacy proxies and scanners (is_machine) say nothing about the person.
        return TrackingEvent.objects.filter(kind=kind, is_machine=False)

    return rows


SOURCES: list[BehaviourSource] = [
    BehaviourSource(ScoreRule.Event.OPENED, _human_events(TrackingEvent.Kind.OPEN)),
    BehaviourSource(ScoreRule.Event.CLICKED, _human_events(TrackingEvent.Kind.CLICK)),
    # A sign-up counts once its address is confirmed (anyone may type someone else's address).
    BehaviourSource(
        ScoreRule.Event.FORM,
        lambda: FormSubmission.objects.filter(status=FormSubmission.Status.CONFIRMED),
        at_field="created_at",
    ),
]


def _column(rule: ScoreRule) -> str:
    return f"rule_{rule.pk}"


def _behaviour_columns(rules: list[ScoreRule], source: BehaviourSource, now: datetime) -> dict:
    return {
        _column(rule): behaviour_sum(rule, now=now, at_field=source.at_field)
        for rule in rules
        if not rule.is_profile and rule.event == source.event
    }


def behaviour_points(contact_id: int, rules: list[ScoreRule], *, now: datetime) -> list[Part]:
    """What the behaviour rules give one contact at `now` (one query per source in use)."""
    parts = []
    by_pk = {rule.pk: rule for rule in rules}
    for source in SOURCES:
        columns = _behaviour_columns(rules, source, now)
        if not columns:
            continue
        sums = source.rows().filter(contact_id=contact_id).aggregate(**columns)
        for column, value in sums.items():
            if value:
                rule = by_pk[int(column.removeprefix("rule_"))]
                parts.append(Part(rule.pk, rule.name, value))
    return parts


def contact_score_compute(
    contact: Contact, rules: list[ScoreRule], *, now: datetime
) -> tuple[int, list[dict]]:
    """The score `contact` (its account loaded) has at `now`, and its breakdown."""
    parts = profile_points(contact, rules) + behaviour_points(contact.pk, rules, now=now)
    return score_total(parts)


def contact_score_recompute(
    contact_id: int, *, now: datetime | None = None, reason: str = ScoreChange.Reason.EVENT
) -> ScoreChange | None:
    """Recompute one contact's score and store it (a ScoreChange if it changed, else None)."""
    now = now or timezone.now()
    contact = scorable_contacts().select_related("account").filter(pk=contact_id).first()
    if contact is None:
        return None
    score, breakdown = contact_score_compute(contact, active_rules(), now=now)
    return contact_score_set(
        contact=contact, score=score, breakdown=breakdown, reason=reason, at=now
    )


def contact_score_recompute_later(contact_id: int) -> None:
    """Queue the recompute of one contact once the current transaction commits (after an open,
    a click or a form: the event is in the database when the worker reads)."""
    enqueue_on_commit("campaigns.contact_score_recompute", [contact_id])


def _chunk_scores(ids: list[int], rules: list[ScoreRule], now: datetime) -> list[ScoreUpdate]:
    """The contacts of `ids` (sorted) whose computed score differs from their stored one."""
    low, high = ids[0], ids[-1]
    profile = [rule for rule in rules if rule.is_profile]
    by_pk = {rule.pk: rule for rule in rules}
    behaviour: dict[int, list[Part]] = {}
    for source in SOURCES:
        columns = _behaviour_columns(rules, source, now)
        if not columns:
            continue
        grouped = (
            source.rows()
            .filter(contact_id__gte=low, contact_id__lte=high)
            .values("contact_id")
            .annotate(**columns)
            .order_by()
        )
        for row in grouped:
            for column in columns:
                if value := row[column]:
                    rule = by_pk[int(column.removeprefix("rule_"))]
                    behaviour.setdefault(row["contact_id"], []).append(
                        Part(rule.pk, rule.name, value)
                    )
    contacts = (
        scorable_contacts()
        .filter(pk__gte=low, pk__lte=high)
        .annotate(**{_column(rule): profile_expression(rule) for rule in profile})
        .values_list("pk", "lead_score", *[_column(rule) for rule in profile])
        .order_by("pk")
    )
    updates = []
    for pk, old, *points in contacts:
        parts = [
            Part(rule.pk, rule.name, float(value))
            for rule, value in zip(profile, points, strict=True)
            if value
        ]
        score, breakdown = score_total(parts + behaviour.get(pk, []))
        if score != old:
            updates.append(ScoreUpdate(pk, old, score, breakdown))
    return updates


def contacts_score_nightly(
    *, now: datetime | None = None, reason: str = ScoreChange.Reason.NIGHTLY
) -> int:
    """Recompute every contact's score at `now` and store those that change; returns how many.

    Memory and transactions stay bounded: contacts are read in chunks of CHUNK ids and the
    changes written in batches of WRITE_BATCH, each in its own transaction.
    """
    now = now or timezone.now()
    rules = active_rules()
    ids = list(scorable_contacts().order_by("pk").values_list("pk", flat=True))
    changed = 0
    pending: list[ScoreUpdate] = []
    for start in range(0, len(ids), CHUNK):
        pending.extend(_chunk_scores(ids[start : start + CHUNK], rules, now))
        while len(pending) >= WRITE_BATCH:
            batch, pending = pending[:WRITE_BATCH], pending[WRITE_BATCH:]
            changed += contact_scores_apply(updates=batch, reason=reason, at=now)
    if pending:
        changed += contact_scores_apply(updates=pending, reason=reason, at=now)
    logger.info("lead scores: %s of %s contacts changed", changed, len(ids))
    return changed
