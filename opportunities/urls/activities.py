"""Activities, the agenda, the visit plan and the calendar feed (mounted under /ventas/)."""

from django.urls import path

from crm.core.exports import export_view
from opportunities import exports
from opportunities.views import activities as views
from opportunities.views import agenda

urlpatterns = [
    path("agenda/", agenda.agenda, name="agenda"),
    path("agenda/semana/", agenda.agenda_week, name="agenda-week"),
    path("agenda/visitas-pendientes/", agenda.visits_pending, name="visits-pending"),
    path(
        "agenda/visitas-pendientes/total/",
        agenda.visits_pending_count,
        name="visits-pending-count",
    ),
    path("actividades/", views.activity_list, name="activity-list"),
    path("actividades/exportar/", export_view(exports.activity_export), name="activity-export"),
    path("actividades/nueva/", views.activity_create, name="activity-create"),
    path("actividades/registrar/", views.activity_log, name="activity-log"),
    path("actividades/<int:pk>/", views.activity_detail, name="activity-detail"),
    path("actividades/<int:pk>/editar/", views.activity_update, name="activity-update"),
    path("actividades/<int:pk>/hecha/", views.activity_complete, name="activity-complete"),
    path("actividades/<int:pk>/cancelar/", views.activity_cancel, name="activity-cancel"),
    path(
        "actividades/de-cuenta/<int:account_pk>/",
        views.account_activities_panel,
        name="account-activities-panel",
    ),
    path(
        "actividades/de-oportunidad/<int:opportunity_pk>/",
        views.opportunity_activities_panel,
        name="opportunity-activities-panel",
    ),
    path(
        "actividades/de-contacto/<int:contact_pk>/",
        views.contact_activities_panel,
        name="contact-activities-panel",
    ),
    path(
        "actividades/de-contacto/<int:contact_pk>/<str:channel>/",
        views.contact_attempt,
        name="contact-attempt",
    ),
    path("calendario/rotar/", agenda.calendar_feed_rotate, name="calendar-feed-rotate"),
    path("calendario/<slug:token>.ics", agenda.calendar_feed, name="calendar-feed"),
]
