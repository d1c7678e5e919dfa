"""Every read of segments: the list, a segment's reach, its sample and its members.

`segment_counts` is the figure a campaign will reach: (contacts, eligible), the second after
consent and suppression through campaigns.eligibility, in one scan of contacts (both counts are
aggregates of the same query). The campaign editor and the sending work call it too.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from campaigns.eligibility import eligible_count_form, eligible_q
from campaigns.models import Campaign, Segment, SegmentMember
from campaigns.segments import definition_queryset, segment_queryset
from campaigns.segments.describe import referenced_ids
from contacts.models import Contact, Topic
from crm.core.models import Team, User

SAMPLE_SIZE = 10


def _member_count() -> Coalesce:
    counts = (
        SegmentMember.objects.filter(segment=OuterRef("pk"), contact__archived_at__isnull=True)
        .order_by()
        .values("segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


def _campaign_count() -> Coalesce:
    counts = (
        Campaign.objects.filter(segment=OuterRef("pk"))
        .order_by()
        .values("segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


def segment_list(*, user: User, filters: dict | None = None) -> QuerySet[Segment]:
    """Segments by name, live unless `archived`. A static list's size is a cheap indexed count
    here; a dynamic segment's reach is loaded per row afterwards (segment-count), so the list
    never evaluates every definition in one request."""
    filters = filters or {}
    qs = Segment.objects.select_related("created_by").annotate(
        member_count=_member_count(), campaign_count=_campaign_count()
    )
    qs = qs.filter(archived_at__isnull=not filters.get("archived"))
    if kind := filters.get("kind"):
        qs = qs.filter(kind=kind)
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(name__icontains=q)
    return qs.order_by("name", "id")


def segment_detail(*, user: User, pk: int) -> Segment:
    return Segment.objects.select_related("created_by").get(pk=pk)


def segment_static_choices(*, user: User) -> QuerySet[Segment]:
    """The live static lists a selection of contacts may be added to."""
    return Segment.objects.filter(kind=Segment.Kind.STATIC, archived_at__isnull=True).order_by(
        "name", "id"
    )


def _contacts(segment: Segment | None, definition: dict | None) -> QuerySet[Contact]:
    if segment is not None:
        return segment_queryset(segment)
    return definition_queryset(definition or {})


HASH_MEM_MULTIPLIER = 32


@contextmanager
def _count_settings() -> Iterator[None]:
    """The settings of a segment count's transaction, in one statement (so a count stays 4
    queries: BEGIN, these, the count, COMMIT):

    - jit off: PostgreSQL's JIT compiled a count whose plan looks costly (OR-ed groups) for
      0.3-0.7 s, on a query that runs in a tenth of that. The connection already starts with
      jit=off (crm/settings.py); this keeps it off where OPTIONS were set otherwise (a pooler
      that refuses startup options).
    - hash_mem_multiplier 32: room to hash the suppression list of the count's `NOT IN`
      (eligibility.eligible_count_form), 32 × work_mem (128 MB at the default 4 MB) instead of
      2 ×, about a million addresses; a list that did not fit would be scanned once per
      contact. A small list takes what it needs, not the limit.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('jit', 'off', true),"
                " set_config('hash_mem_multiplier', %s, true)",
                [str(HASH_MEM_MULTIPLIER)],
            )
        yield


def segment_counts(
    *, segment: Segment | None = None, definition: dict | None = None, topic_id: int | None = None
) -> tuple[int, int]:
    """(live contacts, of them eligible for a campaign of `topic_id`), in one query.

    Give a saved `segment` or a validated `definition` (the builder's preview); a definition
    that does not validate raises campaigns.segments.InvalidDefinition.
    """
    aliases, eligible = eligible_count_form(topic_id)  # eligible_q as joins (see there)
    qs = _contacts(segment, definition).order_by().alias(**aliases)
    with _count_settings():
        row = qs.aggregate(total=Count("pk"), eligible=Count("pk", filter=eligible))
    return row["total"], row["eligible"]


def segment_reach(*, segment: Segment) -> tuple[int, list[tuple[Topic | None, int]]]:
    """(live contacts, [(None, eligible by email), (topic, eligible for it), …]) in one query:
    the detail page's figures, a campaign of each topic reaching that many."""
    topics = list(Topic.objects.order_by("name"))
    aggregates = {"total": Count("pk"), "all": Count("pk", filter=eligible_q(None))}
    for topic in topics:
        aggregates[f"t{topic.pk}"] = Count("pk", filter=eligible_q(topic.pk))
    with _count_settings():
        row = segment_queryset(segment).order_by().aggregate(**aggregates)
    return row["total"], [(None, row["all"]), *((t, row[f"t{t.pk}"]) for t in topics)]


def segment_topic_counts(*, segment: Segment) -> list[tuple[Topic | None, int]]:
    """Eligible contacts per topic (and for the channel as a whole, first), in one query."""
    return segment_reach(segment=segment)[1]


def segment_sample(
    *, segment: Segment | None = None, definition: dict | None = None, limit: int = SAMPLE_SIZE
) -> list[Contact]:
    """The first contacts by name: what the builder shows beside the count."""
    return list(
        _contacts(segment, definition)
        .select_related("account")
        .order_by("last_name", "first_name", "id")[:limit]
    )


def segment_members(*, segment: Segment) -> QuerySet[Contact]:
    """A static list's live members by name (paged by crm.core.forms_utils.paginate)."""
    return (
        segment_queryset(segment)
        .select_related("account", "owner")
        .order_by("last_name", "first_name", "id")
    )


def definition_names(definition: dict) -> dict:
    """Names of the owners, teams and topics a definition names: {(kind, id): name}."""
    found = referenced_ids(definition)
    names: dict = {}
    if found["owner"]:
        for user in User.objects.filter(pk__in=found["owner"]):
            names[("owner", user.pk)] = str(user)
    if found["team"]:
        for team in Team.objects.filter(pk__in=found["team"]):
            names[("team", team.pk)] = team.name
    if found["topic"]:
        for topic in Topic.objects.filter(pk__in=found["topic"]):
            names[("topic", topic.pk)] = topic.name
    return names


def segments_for_campaigns(*, user: User) -> QuerySet[Segment]:
    """The live segments a campaign may be written to (the campaign editor's choice)."""
    return Segment.objects.filter(archived_at__isnull=True).order_by("name", "id")
