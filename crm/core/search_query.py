"""How a typed query becomes a filter, and how lists load tags: shared by the searchable models."""

from django.db.models import Prefetch, Q
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
