"""Campaigns: suppression pages (mounted under /campanas/)."""

from django.urls import path

from campaigns.views import suppression as views

urlpatterns = [
    path("supresiones/", views.suppression_list, name="suppression-list"),
    path("supresiones/total/", views.suppression_count, name="suppression-count"),
    path("supresiones/nueva/", views.suppression_create, name="suppression-create"),
    path("supresiones/importar/", views.suppression_import, name="suppression-import"),
    path("supresiones/exportar/", views.suppression_export, name="suppression-export"),
    path("supresiones/<int:pk>/quitar/", views.suppression_delete, name="suppression-delete"),
]
