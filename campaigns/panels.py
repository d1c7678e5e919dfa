"""The "Campañas" panels of the contact and account sheets (registered in apps.ready).

Read-only for every role that opens a sheet (reps included): what was sent, opened, clicked
and who unsubscribed; no amounts and no send button.
"""

from django.utils.translation import gettext_lazy as _

from crm.core.panels import Panel, register_panel

for _model, _key in (("contacts.contact", "contact"), ("accounts.account", "account")):
    register_panel(
        _model,
        Panel(
            key="campaigns",
            title=_("Campañas"),
            url_name=f"campaigns:{_key}-campaigns-panel",
            order=30,
        ),
    )
