from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campañas")

    def ready(self) -> None:
        # The sheet panels (results work) and the anymail tracking receivers (public work).
        from campaigns import panels, signals  # noqa: F401
