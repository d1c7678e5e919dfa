"""Tickets under /soporte/: the queues, the ticket page, its form and moves, the sheet panels."""

from django.urls import path

from crm.core.exports import export_view
from support import exports
from support.views import tickets as views

urlpatterns = [
    path("incidencias/", views.ticket_list, name="ticket-list"),
    path("incidencias/total/", views.ticket_list_count, name="ticket-list-count"),
    path("incidencias/exportar/", export_view(exports.ticket_export), name="ticket-export"),
    path("incidencias/colas/", views.ticket_queue_counts, name="ticket-queue-counts"),
    path("incidencias/asignar/", views.ticket_bulk_assign, name="ticket-bulk-assign"),
    path("incidencias/nueva/", views.ticket_create, name="ticket-create"),
    path("incidencias/nueva/cuentas/", views.ticket_account_picker, name="ticket-account-picker"),
    path(
        "incidencias/nueva/contactos/",
        views.ticket_contact_options,
        name="ticket-contact-options",
    ),
    path("incidencias/<int:pk>/", views.ticket_detail, name="ticket-detail"),
    path("incidencias/<int:pk>/editar/", views.ticket_edit, name="ticket-edit"),
    path("incidencias/<int:pk>/estado/", views.ticket_transition, name="ticket-transition"),
    path("incidencias/<int:pk>/asignar/", views.ticket_assign, name="ticket-assign"),
    path(
        "incidencias/de-cuenta/<int:pk>/",
        views.account_tickets_panel,
        name="account-tickets-panel",
    ),
    path(
        "incidencias/de-contacto/<int:pk>/",
        views.contact_tickets_panel,
        name="contact-tickets-panel",
    ),
]
