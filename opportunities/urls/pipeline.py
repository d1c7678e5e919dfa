"""The pipeline under /ventas/: the board, deals, their lines and quotes, and the products."""

from django.urls import path

from crm.core.exports import export_view
from opportunities import exports
from opportunities.views import pipeline as views
from opportunities.views import quotes

urlpatterns = [
    path("", views.board, name="board"),
    path("oportunidades/", views.opportunity_list, name="opportunity-list"),
    path("oportunidades/total/", views.opportunity_count, name="opportunity-count"),
    path(
        "oportunidades/exportar/",
        export_view(exports.opportunity_export),
        name="opportunity-export",
    ),
    path("oportunidades/nueva/", views.opportunity_create, name="opportunity-create"),
    path(
        "oportunidades/contactos/",
        views.opportunity_contact_options,
        name="opportunity-contact-options",
    ),
    path("oportunidades/<int:pk>/", views.opportunity_detail, name="opportunity-detail"),
    path("oportunidades/<int:pk>/editar/", views.opportunity_update, name="opportunity-update"),
    path("oportunidades/<int:pk>/mover/", views.opportunity_move, name="opportunity-move"),
    path("oportunidades/<int:pk>/lineas/", views.line_items, name="line-items"),
    path("oportunidades/<int:pk>/lineas/nueva/", views.line_item_add, name="line-item-add"),
    path("lineas/<int:pk>/editar/", views.line_item_update, name="line-item-update"),
    path("lineas/<int:pk>/quitar/", views.line_item_remove, name="line-item-remove"),
    path("oportunidades/<int:pk>/cotizaciones/nueva/", quotes.quote_issue, name="quote-issue"),
    path("cotizaciones/<int:pk>/pdf/", quotes.quote_pdf, name="quote-pdf"),
    path("cotizaciones/<int:pk>/enviar/", quotes.quote_send, name="quote-send"),
    path(
        "oportunidades/de-cuenta/<int:account_pk>/",
        views.account_opportunities_panel,
        name="account-opportunities-panel",
    ),
    path("productos/", views.product_list, name="product-list"),
    path("productos/total/", views.product_count, name="product-count"),
    path("productos/nuevo/", views.product_create, name="product-create"),
    path("productos/<int:pk>/editar/", views.product_update, name="product-update"),
]
