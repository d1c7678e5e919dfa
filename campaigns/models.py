"""Campañas: segments, sending, tracking and unsubscribe (models come with their issue)."""
