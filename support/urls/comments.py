"""The conversation of a ticket: replies, notes, customer messages, attachments, canned texts."""

from django.urls import path

from support.views import comments as views

urlpatterns = [
    path("incidencias/<int:pk>/conversacion/", views.ticket_comments, name="ticket-comments"),
    path(
        "incidencias/<int:pk>/conversacion/respuesta-predefinida/",
        views.canned_response,
        name="canned-response",
    ),
    path("adjuntos/<int:pk>/descargar/", views.attachment_download, name="attachment-download"),
]
