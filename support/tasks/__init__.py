"""Celery tasks of support (autodiscovered through this package)."""

from support.tasks.comments import *  # noqa: F403
from support.tasks.sla import *  # noqa: F403
from support.tasks.surveys import *  # noqa: F403
