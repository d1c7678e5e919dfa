"""Soporte: tickets, SLA and satisfaction (models come with their issue)."""
