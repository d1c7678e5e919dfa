from django.urls import path

from contacts import exports, views, views_import, views_scoring
from crm.core.exports import export_view

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="contact-list"),
    path("total/", views.contact_count, name="contact-count"),
    path("exportar/", export_view(exports.contact_export), name="contact-export"),
    path("nuevo/", views.contact_create, name="contact-create"),
    path("<int:pk>/", views.contact_detail, name="contact-detail"),
    path("<int:pk>/editar/", views.contact_update, name="contact-update"),
    path("<int:pk>/archivar/", views.contact_archive, name="contact-archive"),
    path("<int:pk>/restaurar/", views.contact_restore, name="contact-restore"),
    path("<int:pk>/consentimiento/", views.contact_consent, name="contact-consent"),
    path(
        "de-cuenta/<int:account_pk>/",
        views.account_contacts_panel,
        name="account-contacts-panel",
    ),
    path("puntuacion/", views_scoring.score_rule_list, name="score-rule-list"),
    path("puntuacion/nueva/", views_scoring.score_rule_create, name="score-rule-create"),
    path("puntuacion/recalcular/", views_scoring.score_recompute, name="score-recompute"),
    path("puntuacion/<int:pk>/editar/", views_scoring.score_rule_update, name="score-rule-update"),
    path("puntuacion/<int:pk>/activar/", views_scoring.score_rule_toggle, name="score-rule-toggle"),
    path("importar/", views_import.import_list, name="import-list"),
    path("importar/nueva/", views_import.import_new, name="import-new"),
    path("importar/archivo/<str:token>/", views_import.import_mapping, name="import-mapping"),
    path("importar/<int:pk>/", views_import.import_detail, name="import-detail"),
    path("importar/<int:pk>/cancelar/", views_import.import_cancel_view, name="import-cancel"),
    path("importar/<int:pk>/deshacer/", views_import.import_undo_view, name="import-undo"),
    path("importar/<int:pk>/rechazadas.csv", views_import.import_rejected, name="import-rejected"),
]
