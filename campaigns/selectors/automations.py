"""Reads of automations: the list with its counts (one query), one automation, and the pages
of its ledger (what it sent, what waits, what it skipped and why)."""

from django.db.models import Count, Q, QuerySet

from campaigns.models import Automation, AutomationDelivery

Row = AutomationDelivery.Status

# The detail page's tabs: name -> the statuses listed.
VIEWS = {
    # A birthday's reminder to the owner is what the automation did for that contact.
    "enviados": (Row.SENT, Row.REMINDED),
    "pendientes": (Row.PENDING, Row.SENDING),
    "omitidos": (Row.SKIPPED, Row.FAILED, Row.DOUBT, Row.SUPPRESSED),
}


def automation_list() -> QuerySet[Automation]:
    """Every automation with its topic and its sent, pending and skipped counts, in one query."""
    return (
        Automation.objects.select_related("topic")
        .annotate(
            sent_count=Count("deliveries", filter=Q(deliveries__status__in=VIEWS["enviados"])),
            pending_count=Count(
                "deliveries", filter=Q(deliveries__status__in=(Row.PENDING, Row.SENDING))
            ),
            skipped_count=Count(
                "deliveries",
                filter=Q(deliveries__status__in=(Row.SKIPPED, Row.FAILED, Row.SUPPRESSED)),
            ),
        )
        .order_by("name", "id")
    )


def automation_get(*, pk: int) -> Automation:
    return (
        Automation.objects.select_related("topic", "created_by")
        .prefetch_related("steps")
        .get(pk=pk)
    )


def automation_counts(*, automation: Automation) -> dict[str, int]:
    rows = (
        AutomationDelivery.objects.filter(automation=automation)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    found = {row["status"]: row["n"] for row in rows}
    return {name: sum(found.get(s, 0) for s in statuses) for name, statuses in VIEWS.items()}


def automation_deliveries(*, automation: Automation, view: str) -> QuerySet[AutomationDelivery]:
    """One tab of the ledger: sent (latest first), pending (next due first) or skipped."""
    rows = AutomationDelivery.objects.filter(
        automation=automation, status__in=VIEWS.get(view, VIEWS["enviados"])
    ).select_related("contact", "step")
    if view == "pendientes":
        return rows.order_by("due_at", "id")
    if view == "enviados":
        return rows.order_by("-sent_at", "-id")
    return rows.order_by("-due_at", "-id")
