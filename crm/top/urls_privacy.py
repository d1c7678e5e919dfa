"""A contact's data rights (derechos ARCO, GDPR), for administrators (crm.top.views_privacy)."""

from django.urls import path

from crm.top import views_privacy

urlpatterns = [
    path(
        "privacidad/contactos/<int:pk>/",
        views_privacy.privacy_contact,
        name="privacy-contact",
    ),
    path(
        "privacidad/contactos/<int:pk>/datos.json",
        views_privacy.privacy_contact_json,
        name="privacy-contact-json",
    ),
    path(
        "privacidad/contactos/<int:pk>/datos.pdf",
        views_privacy.privacy_contact_pdf,
        name="privacy-contact-pdf",
    ),
    path(
        "privacidad/contactos/<int:pk>/suprimir/",
        views_privacy.privacy_contact_erase,
        name="privacy-contact-erase",
    ),
]
