from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TopConfig(AppConfig):
    name = "crm.top"
    label = "crm_top"
    verbose_name = _("CRM: inicio, búsqueda y quién llama")
