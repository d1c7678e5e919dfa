"""Forecast, quotas, sales analytics and tiers (mounted under /ventas/)."""

from django.urls import path

from opportunities.views import forecast as views

urlpatterns = [
    path("prevision/", views.forecast, name="forecast"),
    path("prevision/oportunidades/", views.forecast_deals, name="forecast-deals"),
    path("prevision/ajustar/", views.forecast_adjust, name="forecast-adjust"),
    path("prevision/pdf/", views.forecast_pdf, name="forecast-pdf"),
    path("prevision/csv/", views.forecast_csv, name="forecast-csv"),
    path("cuotas/", views.quotas, name="quotas"),
    path("analisis/", views.analytics, name="analytics"),
    path("clasificacion/", views.tiers, name="tiers"),
    path("clasificacion/cuentas/<int:pk>/", views.tier_history, name="tier-history"),
]
