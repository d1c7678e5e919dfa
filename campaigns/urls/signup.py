"""Campaigns: sign-up forms, marketing's pages (mounted under /campanas/). The public form is
campaigns.urls.signup_public."""

from django.urls import path

from campaigns.views import signup as views

urlpatterns = [
    path("formularios/", views.signup_list, name="signup-list"),
    path("formularios/nuevo/", views.signup_create, name="signup-create"),
    path("formularios/<int:pk>/", views.signup_detail, name="signup-detail"),
    path("formularios/<int:pk>/editar/", views.signup_edit, name="signup-edit"),
]
