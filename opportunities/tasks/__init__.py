"""Celery tasks of the sales app (autodiscovered through this package)."""

from opportunities.tasks.activities import *  # noqa: F403
from opportunities.tasks.leads import *  # noqa: F403
from opportunities.tasks.quotes import *  # noqa: F403
from opportunities.tasks.tiers import *  # noqa: F403
