from django.urls import path

from accounts import exports, views
from crm.core.exports import export_view

app_name = "accounts"

urlpatterns = [
    path("", views.account_list, name="account-list"),
    path("total/", views.account_count, name="account-count"),
    path("exportar/", export_view(exports.account_export), name="account-export"),
    path("elegir/", views.account_picker, name="account-picker"),
    path("nueva/", views.account_create, name="account-create"),
    path("<int:pk>/", views.account_detail, name="account-detail"),
    path("<int:pk>/editar/", views.account_update, name="account-update"),
    path("<int:pk>/archivar/", views.account_archive, name="account-archive"),
    path("<int:pk>/restaurar/", views.account_restore, name="account-restore"),
]
