"""Celery tasks: quotes."""

__all__: list[str] = []
