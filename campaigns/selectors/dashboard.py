"""The marketing figures of the home page: what is sending, what is next, how the last went.

Bounded lists and aggregates only: the home costs the same queries whatever the ledger's size.
"""

from django.db.models import Count, Q

from campaigns.eligibility import eligible_q
from campaigns.models import Campaign, Send
from campaigns.permissions import can_manage_campaigns, can_read_results
from contacts.models import Contact

DELIVERED = (Send.Status.SENT,)


def _with_figures(campaigns):
    """Sent, unique opens and unique clicks per campaign, in one query for all of them."""
    return campaigns.annotate(
        sent_total=Count("sends", filter=Q(sends__status__in=DELIVERED)),
        opened_total=Count(
            "sends", filter=Q(sends__status__in=DELIVERED, sends__first_opened_at__isnull=False)
        ),
        clicked_total=Count(
            "sends", filter=Q(sends__status__in=DELIVERED, sends__first_clicked_at__isnull=False)
        ),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def marketing_home(*, user) -> dict:
    """Marketing and administrators: campaigns in progress and scheduled, the last three sent
    with their open and click rates, and how many contacts may be emailed today. Managers (who
    read results) get the last sent only."""
    if not can_read_results(user):
        return {}
    last_sent = list(
        _with_figures(Campaign.objects.filter(status=Campaign.Status.SENT)).order_by(
            "-finished_at", "-id"
        )[:3]
    )
    for campaign in last_sent:
        campaign.open_rate = _rate(campaign.opened_total, campaign.sent_total)
        campaign.click_rate = _rate(campaign.clicked_total, campaign.sent_total)
    figures = {"campaigns_last_sent": last_sent}
    if can_manage_campaigns(user):
        figures["campaigns_in_progress"] = list(
            _with_figures(
                Campaign.objects.filter(
                    status__in=[Campaign.Status.SENDING, Campaign.Status.PAUSED]
                )
            ).order_by("started_at", "id")[:5]
        )
        figures["campaigns_scheduled"] = list(
            Campaign.objects.filter(status=Campaign.Status.SCHEDULED).order_by(
                "scheduled_at", "id"
            )[:5]
        )
        figures["emailable_contacts"] = Contact.objects.filter(eligible_q(None)).count()
    return figures
