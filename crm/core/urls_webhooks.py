"""The webhooks' administration pages (crm.core.views_webhooks), included in the `crm` namespace."""

from django.urls import path

from crm.core import views_webhooks as views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhook-list"),
    path("webhooks/nuevo/", views.webhook_create, name="webhook-create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook-detail"),
    path("webhooks/<int:pk>/editar/", views.webhook_update, name="webhook-update"),
    path("webhooks/<int:pk>/activar/", views.webhook_enable, name="webhook-enable"),
    path("webhooks/<int:pk>/desactivar/", views.webhook_disable, name="webhook-disable"),
    path("webhooks/<int:pk>/secreto/", views.webhook_rotate, name="webhook-rotate"),
    path("webhooks/<int:pk>/prueba/", views.webhook_test, name="webhook-test"),
    path(
        "webhooks/<int:pk>/entregas/<int:delivery>/reintentar/",
        views.webhook_delivery_retry,
        name="webhook-delivery-retry",
    ),
]
