"""Campaigns: segments pages (mounted under /campanas/)."""

from django.urls import path

from campaigns.views import segments as views

urlpatterns = [
    path("segmentos/", views.segment_list, name="segment-list"),
    path("segmentos/nuevo/", views.segment_create, name="segment-create"),
    path("segmentos/vista-previa/", views.segment_preview, name="segment-preview"),
    path("segmentos/anadir-contactos/", views.segment_add_contacts, name="segment-add-contacts"),
    path("segmentos/<int:pk>/", views.segment_detail, name="segment-detail"),
    path("segmentos/<int:pk>/editar/", views.segment_edit, name="segment-edit"),
    path("segmentos/<int:pk>/recuento/", views.segment_count, name="segment-count"),
    path("segmentos/<int:pk>/archivar/", views.segment_archive, name="segment-archive"),
    path(
        "segmentos/<int:pk>/quitar-contacto/",
        views.segment_remove_contact,
        name="segment-remove-contact",
    ),
]
