"""A valid segment definition compiled to a Contact filter (Q): one builder per allow-listed field.

Engagement reads the campaigns ledger: opened / clicked are TrackingEvents of a person (machine
opens by privacy proxies do not count), emailed is a Send marked sent. Opportunities and tickets
count when they are the contact's own or their account's. Every relation is an EXISTS subquery
over an indexed foreign key, so a count stays one scan of contacts at 100,000 rows.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Contains, Exact
from django.utils import timezone
from taggit.models import Tag, TaggedItem

from campaigns.segments.fields import FIELDS
from campaigns.segments.validation import validate_definition
from contacts.models import Consent, ConsentLatest, Contact
from crm.core.text import Folded, fold


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _months_ago(now: datetime, months: int) -> datetime:
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    day = min(now.day, calendar.monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day)


def _choice_q(column: str) -> Callable:
    """in / not_in over one column (a fixed lookup name: `column` comes from this module)."""

    def build(op: str, value, now: datetime) -> Q:
        q = Q(**{f"{column}__in": value})
        return q if op == "in" else ~q

    return build


def _text_q(column: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        lookup = Exact if op == "eq" else Contains
        folded = fold(value)
        return Q(lookup(Folded(column, compared_with=(folded,)), folded))

    return build


def _lead_score_q(op: str, value, now: datetime) -> Q:
    if op == "between":
        return Q(lead_score__gte=value[0], lead_score__lte=value[1])
    if op == "gte":
        return Q(lead_score__gte=value)
    return Q(lead_score__lte=value)


def _tags_q(op: str, value, now: datetime) -> Q:
    names = sorted({v.strip().lower() for v in value})
    items = TaggedItem.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id=OuterRef("pk")
    )

    def having(tag_names: list[str]) -> Exists:
        tags = Tag.objects.annotate(_lower=Lower("name")).filter(_lower__in=tag_names)
        return Exists(items.filter(tag__in=tags.values("pk")))

    if op == "any":
        return Q(having(names))
    if op == "none":
        return ~Q(having(names))
    q = Q()
    for name in names:
        q &= Q(having([name]))
    return q


def _date_q(column: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        if op == "between":
            low, high = (None if v is None else date.fromisoformat(v) for v in value)
            q = Q()
            if low is not None:
                q &= Q(**{f"{column}__gte": _day_start(low)})
            if high is not None:
                q &= Q(**{f"{column}__lt": _day_start(high + timedelta(days=1))})
            return q
        if op == "never":
            return Q(**{f"{column}__isnull": True})
        cutoff = now - timedelta(days=value)
        recent = Q(**{f"{column}__gte": cutoff})
        return recent if op == "last_days" else ~recent  # ~: NULL (never) included

    return build


def _consent_q(op: str, value, now: datetime) -> Q:
    latest = ConsentLatest.objects.filter(contact=OuterRef("pk"), channel=value["channel"])
    topic = value.get("topic")
    latest = latest.filter(topic__isnull=True) if topic is None else latest.filter(topic_id=topic)
    state = value["state"]
    if state == "none":
        return ~Q(Exists(latest))
    action = Consent.Action.GRANT if state == "granted" else Consent.Action.WITHDRAW
    return Q(Exists(latest.filter(action=action)))


def _event_q(kind_name: str) -> Callable:
    def build(op: str, value, now: datetime) -> Q:
        from campaigns.models import TrackingEvent

        kind = TrackingEvent.Kind.OPEN if kind_name == "open" else TrackingEvent.Kind.CLICK
        events = TrackingEvent.objects.filter(contact=OuterRef("pk"), kind=kind, is_machine=False)
        if op == "never":
            return ~Q(Exists(events))
        recent = Q(Exists(events.filter(at__gte=now - timedelta(days=value))))
        return recent if op == "in_last_days" else ~recent

    return build


def _emailed_q(op: str, value, now: datetime) -> Q:
    from campaigns.models import Send

    sends = Send.objects.filter(
        contact=OuterRef("pk"), status=Send.Status.SENT, sent_at__gte=now - timedelta(days=value)
    )
    recent = Q(Exists(sends))
    return recent if op == "in_last_days" else ~recent


def _own_or_account(queryset) -> Q:
    """Rows of `queryset` that are the contact's own or their account's (two indexed EXISTS)."""
    return Q(Exists(queryset.filter(contact=OuterRef("pk")))) | Q(
        Exists(queryset.filter(account=OuterRef("account_id")))
    )


def _open_opportunities_q(op: str, value, now: datetime) -> Q:
    from opportunities.models import Opportunity

    q = _own_or_account(Opportunity.objects.filter(stage__is_won=False, stage__is_lost=False))
    return q if op == "exists" else ~q


def _won_opportunity_q(op: str, value, now: datetime) -> Q:
    from opportunities.models import Opportunity

    return _own_or_account(
        Opportunity.objects.filter(stage__is_won=True, closed_at__gte=_months_ago(now, value))
    )


def _open_tickets_q(op: str, value, now: datetime) -> Q:
    from support.models import OPEN_STATUSES, Ticket

    q = _own_or_account(Ticket.objects.filter(status__in=OPEN_STATUSES))
    return q if op == "exists" else ~q


BUILDERS: dict[str, Callable[[str, object, datetime], Q]] = {
    "lifecycle": _choice_q("lifecycle"),
    "lead_source": _choice_q("lead_source"),
    "lead_score": _lead_score_q,
    "tier": _choice_q("account__tier"),
    "industry": _choice_q("account__industry"),
    "size": _choice_q("account__size"),
    "relationship": _choice_q("account__relationship"),
    "country": _choice_q("country"),
    "region": _text_q("region"),
    "city": _text_q("city"),
    "tags": _tags_q,
    "owner": _choice_q("owner_id"),
    "team": _choice_q("owner__team_id"),
    "birthday_month": _choice_q("birthday__month"),
    "created": _date_q("created_at"),
    "last_contacted": _date_q("last_contacted_at"),
    "consent": _consent_q,
    "opened": _event_q("open"),
    "clicked": _event_q("click"),
    "emailed": _emailed_q,
    "open_opportunities": _open_opportunities_q,
    "won_opportunity": _won_opportunity_q,
    "open_tickets": _open_tickets_q,
}
if set(BUILDERS) != set(FIELDS):  # an allow-list entry without code (or code without entry)
    raise RuntimeError("campaigns.segments: FIELDS and BUILDERS differ")


class InvalidDefinition(ValueError):
    """A definition that validate_definition rejects reached the compiler."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _combine(parts: list[Q], match: str) -> Q:
    q = Q()
    for part in parts:
        q = (q & part) if match == "all" else (q | part)
    return q


def compile_definition(definition: dict, *, now: datetime | None = None) -> Q:
    """The Q over Contact for a definition; raises InvalidDefinition unless it validates."""
    definition = definition or {}
    if errors := validate_definition(definition):
        raise InvalidDefinition(errors)
    now = now or timezone.now()
    groups = []
    for group in definition.get("groups", []):
        conditions = [
            BUILDERS[c["field"]](c["op"], c.get("value"), now) for c in group["conditions"]
        ]
        groups.append(_combine(conditions, group.get("match", "all")))
    return _combine(groups, definition.get("match", "all"))


def segment_queryset(segment) -> QuerySet[Contact]:
    """The live contacts of a segment (dynamic: its conditions; static: its members)."""
    live = Contact.objects.filter(archived_at__isnull=True)
    if segment.is_static:
        return live.filter(pk__in=segment.memberships.values("contact_id"))
    return live.filter(compile_definition(segment.definition))


def definition_queryset(definition: dict) -> QuerySet[Contact]:
    """The live contacts of a definition not (yet) saved: the builder's preview."""
    return Contact.objects.filter(archived_at__isnull=True).filter(compile_definition(definition))
