"""Who may do what with campaigns: one place, read by the views and the sheet panels."""

from crm.core.roles import can_use


def can_manage_campaigns(user) -> bool:
    """Build segments, write, test, schedule, send, cancel: marketing and administrators."""
    return can_use(user, "campaigns")


def can_read_results(user) -> bool:
    """Results, ROI and exports: marketing, managers and administrators."""
    return can_use(user, "campaign_results")


def can_see_campaign_amounts(user) -> bool:
    """Revenue and cost figures: everyone who reads results (support never sees amounts)."""
    return can_read_results(user)
