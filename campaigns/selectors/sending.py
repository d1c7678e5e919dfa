"""Reads of a campaign's sending: its ledger by status (the progress bar) and the ledger's rows."""

from dataclasses import dataclass

from django.db.models import Count

from campaigns.models import Campaign, Send

Row = Send.Status
# Rows not final yet: a sending campaign with none left is done.
OPEN_ROWS = (Row.PENDING, Row.SENDING, Row.RETRY)


def status_counts(campaign: Campaign) -> dict[str, int]:
    """Ledger rows by status (one GROUP BY), every status present."""
    counts = dict.fromkeys(Row.values, 0)
    for row in Send.objects.filter(campaign=campaign).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


@dataclass(frozen=True)
class Progress:
    """The ledger of a campaign by status, for the progress bar (one query)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - sum(self.counts[s] for s in OPEN_ROWS)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    def share(self, status: str) -> float:
        """Width of a status's slice of the bar, in percent (two decimals)."""
        return round(100 * self.counts[status] / self.total, 2) if self.total else 0

    @property
    def bars(self) -> list[tuple[str, str, int, float]]:
        """(status, label, count, width) of the slices worth drawing, in the bar's order."""
        order = (Row.SENT, Row.SKIPPED, Row.FAILED, Row.DOUBT, Row.CANCELLED, Row.RETRY)
        labels = dict(Row.choices)
        return [(s, labels[s], self.counts[s], self.share(s)) for s in order if self.counts[s]]


def campaign_progress(campaign: Campaign) -> Progress:
    return Progress(counts=status_counts(campaign))


def campaign_sends(*, campaign: Campaign, status: str = "", query: str = ""):
    """The ledger page's rows: by status and an address search, newest claim last, by id."""
    rows = Send.objects.filter(campaign=campaign)
    if status:
        rows = rows.filter(status=status)
    if query:
        rows = rows.filter(email__icontains=query.strip().lower())
    return rows.order_by("id")
