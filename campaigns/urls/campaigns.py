"""The campaign editor (mounted under /campanas/): boletines, the list, the form, the campaign's
page, its preview and the test send."""

from django.urls import path

from campaigns.views import campaigns as views

urlpatterns = [
    path("", views.campaign_list, name="campaign-list"),
    path("total/", views.campaign_list_count, name="campaign-list-count"),
    path("nueva/", views.campaign_create, name="campaign-create"),
    path("<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("<int:pk>/editar/", views.campaign_edit, name="campaign-edit"),
    path("<int:pk>/eliminar/", views.campaign_delete, name="campaign-delete"),
    path("<int:pk>/duplicar/", views.campaign_duplicate, name="campaign-duplicate"),
    path("<int:pk>/vista-previa/", views.campaign_preview, name="campaign-preview"),
    path(
        "<int:pk>/vista-previa/correo/",
        views.campaign_preview_frame,
        name="campaign-preview-frame",
    ),
    path("<int:pk>/prueba/", views.campaign_test_send, name="campaign-test-send"),
    path("boletines/", views.topic_list, name="topic-list"),
    path("boletines/nuevo/", views.topic_create, name="topic-create"),
    path("boletines/<int:pk>/editar/", views.topic_edit, name="topic-edit"),
]
