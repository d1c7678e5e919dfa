"""Celery tasks: activities."""

__all__: list[str] = []
