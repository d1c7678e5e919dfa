from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "opportunities"
    verbose_name = _("Ventas")

    def ready(self) -> None:
        from crm.core.panels import Panel, register_panel
        from opportunities.permissions import can_see_activities, can_sell

        # The hoja de cliente's sales panels (crm.core.panels): the timeline with quick logging 1st.
        for model, key in (("accounts.account", "account"), ("contacts.contact", "contact")):
            register_panel(
                model,
                Panel(
                    key="activities",
                    title=_("Actividades"),
                    url_name=f"opportunities:{key}-activities-panel",
                    order=5,
                    list_url_name="opportunities:activity-list",
                    list_filter=key,
                    visible_to=can_see_activities,
                ),
            )
        register_panel(
            "accounts.account",
            Panel(
                key="opportunities",
                title=_("Oportunidades"),
                url_name="opportunities:account-opportunities-panel",
                order=20,
                list_url_name="opportunities:opportunity-list",
                list_filter="account",
                visible_to=can_sell,
            ),
        )
