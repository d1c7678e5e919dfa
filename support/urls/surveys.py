"""Surveys (mounted under /soporte/): the public answer page, NPS rounds, the contact panel."""

from django.urls import path

from support.views import surveys as views

urlpatterns = [
    path("encuesta/<str:token>/", views.survey_answer, name="survey-answer"),
    path("encuestas/nps/", views.nps_round_list, name="nps-round-list"),
    path("encuestas/nps/nueva/", views.nps_round_create, name="nps-round-create"),
    path("encuestas/nps/destinatarios/", views.nps_round_preview, name="nps-round-preview"),
    path("encuestas/nps/<int:pk>/", views.nps_round_detail, name="nps-round-detail"),
    path("encuestas/nps/<int:pk>/total/", views.nps_round_count, name="nps-round-count"),
    path(
        "contactos/<int:contact_pk>/satisfaccion/",
        views.contact_satisfaction_panel,
        name="contact-satisfaction-panel",
    ),
]
