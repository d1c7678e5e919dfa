"""The support dashboard (mounted under /soporte/)."""

from django.urls import path

from support.views import dashboard as views

urlpatterns = [
    path("panel/", views.dashboard, name="dashboard"),
]
