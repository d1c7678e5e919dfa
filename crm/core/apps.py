from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.core"
    # The label it had before the split: `crm.User`, its migrations and permissions keep it.
    label = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from django.contrib.auth import signals
        from django.db.models.signals import post_delete, post_save

        from crm.core import audit_hooks, permissions, throttling
        from crm.core.api import tokens
        from crm.core.models import ApiToken, Team, User

        # Logins and failures are audited (DESIGN.md §5); the hooks only write the trail.
        signals.user_logged_in.connect(audit_hooks.on_login, dispatch_uid="crm-audit-login")
        signals.user_logged_out.connect(audit_hooks.on_logout, dispatch_uid="crm-audit-logout")
        signals.user_login_failed.connect(
            audit_hooks.on_login_failed, dispatch_uid="crm-audit-login-failed"
        )
        # The idle clock of the session starts at sign-in (crm.core.middleware).
        signals.user_logged_in.connect(_start_idle_clock, dispatch_uid="crm-session-idle")
        # Signing in forgives that user name's failed logins, not the address's (throttling).
        signals.user_logged_in.connect(
            throttling.forgive_on_login, dispatch_uid="crm-throttling-forgive"
        )
        # The owner filters' names (crm.core.permissions.sales_user_names) follow the users.
        post_save.connect(
            permissions.forget_sales_user_names, sender=User, dispatch_uid="crm-sales-names-save"
        )
        post_delete.connect(
            permissions.forget_sales_user_names, sender=User, dispatch_uid="crm-sales-names-delete"
        )
        # API keys kept in the cache (crm.core.api.tokens) are read again once anything that
        # decides what they reach changes: the key, its user, the user's team.
        for signal, name in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(tokens.forget_token, sender=ApiToken, dispatch_uid=f"crm-api-key-{name}")
            signal.connect(
                tokens.forget_user_tokens, sender=User, dispatch_uid=f"crm-api-key-user-{name}"
            )
            signal.connect(
                tokens.forget_team_tokens, sender=Team, dispatch_uid=f"crm-api-key-team-{name}"
            )


def _start_idle_clock(sender, request, user, **kwargs) -> None:
    from crm.core.middleware import session_touch

    if request is not None and hasattr(request, "session"):
        session_touch(request.session)
