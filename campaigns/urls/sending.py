"""Campaigns: sending pages (mounted under /campanas/)."""

from django.urls import path

from campaigns.views import sending as views

urlpatterns = [
    path("<int:pk>/enviar/", views.campaign_send, name="campaign-send"),
    path("<int:pk>/programar/", views.campaign_schedule, name="campaign-schedule"),
    path("<int:pk>/pausar/", views.campaign_pause, name="campaign-pause"),
    path("<int:pk>/reanudar/", views.campaign_resume, name="campaign-resume"),
    path("<int:pk>/cancelar/", views.campaign_cancel, name="campaign-cancel"),
    path("<int:pk>/progreso/", views.campaign_progress, name="campaign-progress"),
    path("<int:pk>/envios/", views.campaign_sends, name="campaign-sends"),
    path(
        "<int:pk>/envios/<int:send_pk>/resolver/",
        views.campaign_send_resolve,
        name="campaign-send-resolve",
    ),
]
