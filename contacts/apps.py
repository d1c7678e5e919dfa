from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"
    verbose_name = _("Contactos")

    def ready(self) -> None:
        from crm.core.panels import Panel, register_panel

        register_panel(
            "accounts.account",
            Panel(
                key="contacts",
                title=_("Contactos"),
                url_name="contacts:account-contacts-panel",
                order=10,
                list_url_name="contacts:contact-list",
                list_filter="account",
            ),
        )
