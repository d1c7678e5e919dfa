"""Duplicados and Fusionar (crm.top.views_merge), included by crm/top/urls.py."""

from django.urls import path

from crm.top import views_merge

urlpatterns = [
    path(
        "duplicados/contactos/",
        views_merge.duplicates,
        {"kind": "contactos"},
        name="merge-contact-duplicates",
    ),
    path(
        "duplicados/cuentas/",
        views_merge.duplicates,
        {"kind": "cuentas"},
        name="merge-account-duplicates",
    ),
    path(
        "fusionar/contactos/",
        views_merge.merge_records,
        {"kind": "contactos"},
        name="merge-contacts",
    ),
    path(
        "fusionar/cuentas/",
        views_merge.merge_records,
        {"kind": "cuentas"},
        name="merge-accounts",
    ),
]
