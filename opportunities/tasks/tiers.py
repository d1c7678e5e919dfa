"""Celery tasks: tiers."""

__all__: list[str] = []
