"""Celery tasks of campaigns (autodiscovered through this package)."""

from campaigns.tasks.automations import *  # noqa: F403
from campaigns.tasks.scoring import *  # noqa: F403
from campaigns.tasks.sending import *  # noqa: F403
from campaigns.tasks.signup import *  # noqa: F403
from campaigns.tasks.stats import *  # noqa: F403
