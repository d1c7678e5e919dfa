"""Celery tasks of campaigns (autodiscovered through this package)."""

from campaigns.tasks.sending import *  # noqa: F403
