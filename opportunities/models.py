"""Oportunidades, actividades and forecasts: built by the sales issue (models come with it)."""
