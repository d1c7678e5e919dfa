from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = _("Soporte")

    def ready(self) -> None:
        from crm.core.panels import Panel, register_panel
        from support.permissions import can_see_tickets

        # The hoja de cliente's tickets (crm.core.panels), after the activities (5), the contacts.
        for model, key in (("accounts.account", "account"), ("contacts.contact", "contact")):
            register_panel(
                model,
                Panel(
                    key="tickets",
                    title=_("Incidencias"),
                    url_name=f"support:{key}-tickets-panel",
                    order=15,
                    list_url_name="support:ticket-list",
                    list_filter=key,
                    visible_to=can_see_tickets,
                ),
            )
        # The contact's satisfaction class (CSAT and NPS answers), beside their tickets.
        register_panel(
            "contacts.contact",
            Panel(
                key="satisfaction",
                title=_("Satisfacción"),
                url_name="support:contact-satisfaction-panel",
                order=20,
            ),
        )
