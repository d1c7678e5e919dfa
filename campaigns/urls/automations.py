"""Campaigns: automations, marketing's pages (under /campanas/automatizaciones/). The one-click
unsubscribe of an automation's message is public: campaigns.urls.public (/m/auto/baja/)."""

from django.urls import path

from campaigns.views import automations as views

urlpatterns = [
    path("automatizaciones/", views.automation_list, name="automation-list"),
    path("automatizaciones/nueva/", views.automation_create, name="automation-create"),
    path("automatizaciones/<int:pk>/", views.automation_detail, name="automation-detail"),
    path("automatizaciones/<int:pk>/editar/", views.automation_edit, name="automation-edit"),
    path("automatizaciones/<int:pk>/pausar/", views.automation_pause, name="automation-pause"),
    path("automatizaciones/<int:pk>/reanudar/", views.automation_resume, name="automation-resume"),
]
