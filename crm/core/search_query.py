"""How a typed query becomes a filter, and how lists load tags: shared by the searchable models."""

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import F, JSONField, OuterRef, Prefetch, Q, Subquery
from taggit.models import TaggedItem

from crm.core.text import fold, phone_query_digits


def text_query_q(query: str, *, text_field: str, digit_fields: tuple[str, ...] = ()) -> Q | None:
    """Every word of the query in the normalised text, or the digits in any phone field.

    None when the query is empty. Words are matched with `contains` on an accent-free,
    lower-case column, which a trigram GIN index serves on PostgreSQL.
    """
    words = fold(query).split()
    if not words:
        return None
    condition = Q()
    for word in words:
        condition &= Q(**{f"{text_field}__contains": word})
    for number in phone_query_digits(query) if digit_fields else []:
        for field in digit_fields:
            condition |= Q(**{f"{field}__contains": number})
    return condition


def tag_prefetch() -> Prefetch:
    """The tags of each row as `row.tag_items` (TaggedItem with its tag), in one query."""
    return Prefetch(
        "tagged_items",
        queryset=TaggedItem.objects.select_related("tag").order_by("tag__name"),
        to_attr="tag_items",
    )


class _JSONNames(Subquery):
    """The names a one-column subquery selects, as a JSON list (SQLite's json_group_array)."""

    template = "(SELECT json_group_array(tag_name) FROM (%(subquery)s))"
    output_field = JSONField()


def tag_names(model) -> Subquery:
    """A row's tag names, alphabetical, as a list in the row's own query: no second query and
    no model instance per tag, as `tag_prefetch` has (for the rows of a list page). An array
    on PostgreSQL; a JSON list elsewhere."""
    names = (
        TaggedItem.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=OuterRef("pk")
        )
        .order_by("tag__name")
        .values(tag_name=F("tag__name"))
    )
    if connection.vendor == "postgresql":
        return ArraySubquery(names)
    return _JSONNames(names)
