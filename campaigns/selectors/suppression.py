"""Reads of the suppression list (marketing and administrators; the views check the role)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from campaigns.models import Suppression


def suppression_list(*, filters: dict | None = None) -> QuerySet[Suppression]:
    """The list, newest first, searched by address or note and filtered by reason.

    Addresses are stored lower-case, so the search lower-cases the text and uses a plain
    `contains` on the email (indexable by a trigram index on PostgreSQL).
    """
    filters = filters or {}
    rows = Suppression.objects.select_related("created_by")
    if text := (filters.get("q") or "").strip():
        rows = rows.filter(Q(email__contains=text.lower()) | Q(note__icontains=text))
    if reason := filters.get("reason"):
        rows = rows.filter(reason=reason)
    return rows.order_by("-created_at", "-id")


def suppression_get(*, pk: int) -> Suppression:
    """One entry (raises Suppression.DoesNotExist)."""
    return Suppression.objects.select_related("created_by").get(pk=pk)


def suppression_export_rows(*, filters: dict | None = None):
    """The rows of the CSV export, streamed in chunks (the list may hold many thousands)."""
    return (
        suppression_list(filters=filters)
        .values_list(
            "email",
            "reason",
            "note",
            "created_at",
            "created_by__first_name",
            "created_by__last_name",
            "created_by__username",
        )
        .iterator(chunk_size=2000)
    )
