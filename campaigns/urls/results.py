"""Campaigns: results pages (mounted under /campanas/), exports and the sheet panels."""

from django.urls import path

from campaigns import exports
from campaigns.views import results as views
from crm.core.exports import export_view

urlpatterns = [
    path("resultados/", views.results_overview, name="results-overview"),
    path(
        "resultados/exportar/",
        export_view(exports.campaign_results_export),
        name="results-export",
    ),
    path("resultados/compromiso/", views.engagement, name="campaign-engagement"),
    path(
        "resultados/compromiso/inactivos/",
        views.inactive_segment_create,
        name="campaign-inactive-segment",
    ),
    path("resultados/canales/", views.channels, name="campaign-channels"),
    path("<int:pk>/resultados/", views.campaign_results, name="campaign-results"),
    path(
        "<int:pk>/resultados/actualizar/",
        views.campaign_results_refresh,
        name="campaign-results-refresh",
    ),
    path(
        "<int:pk>/resultados/resumen/",
        views.campaign_results_summary,
        name="campaign-results-summary",
    ),
    path("<int:pk>/resultados/csv/", views.campaign_results_csv, name="campaign-results-csv"),
    path(
        "<int:pk>/resultados/destinatarios.csv",
        views.campaign_ledger_csv,
        name="campaign-ledger-csv",
    ),
    path("<int:pk>/resultados/pdf/", views.campaign_results_pdf, name="campaign-results-pdf"),
    path(
        "contactos/<int:contact_pk>/campanas/",
        views.contact_campaigns_panel,
        name="contact-campaigns-panel",
    ),
    path(
        "cuentas/<int:account_pk>/campanas/",
        views.account_campaigns_panel,
        name="account-campaigns-panel",
    ),
]
