"""Lead routing under /ventas/: the assigned leads, their report, and the routing rules."""

from django.urls import path

from opportunities.views import leads as views

urlpatterns = [
    path("leads-asignados/", views.lead_list, name="lead-list"),
    path("leads-asignados/informe/", views.lead_report, name="lead-report"),
    path("leads-asignados/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads-asignados/<int:pk>/aceptar/", views.lead_accept, name="lead-accept"),
    path("leads-asignados/<int:pk>/rechazar/", views.lead_reject, name="lead-reject"),
    path("reglas-de-reparto/", views.routing_rule_list, name="routing-rule-list"),
    path("reglas-de-reparto/nueva/", views.routing_rule_create, name="routing-rule-create"),
    path(
        "reglas-de-reparto/<int:pk>/editar/",
        views.routing_rule_update,
        name="routing-rule-update",
    ),
    path(
        "reglas-de-reparto/<int:pk>/activar/",
        views.routing_rule_toggle,
        name="routing-rule-toggle",
    ),
    path("reglas-de-reparto/<int:pk>/mover/", views.routing_rule_move, name="routing-rule-move"),
]
