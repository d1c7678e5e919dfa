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
        from django.db.models.signals import post_delete, post_save, pre_delete

        from crm.core import audit_hooks, kept, permissions, throttling
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
        # Who is asking, kept in the cache (crm.core.kept), is read again once anything that
        # decides what they reach changes: the user, their team, their API key.
        for signal, name in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(kept.forget_user, sender=User, dispatch_uid=f"crm-kept-user-{name}")
            signal.connect(
                kept.forget_api_key, sender=ApiToken, dispatch_uid=f"crm-kept-api-key-{name}"
            )
        # A team's members: before it goes (SET_NULL empties their column without a save).
        for signal, name in ((post_save, "save"), (pre_delete, "delete")):
            signal.connect(kept.forget_team, sender=Team, dispatch_uid=f"crm-kept-team-{name}")


def _start_idle_clock(sender, request, user, **kwargs) -> None:
    from crm.core.middleware import session_touch

    if request is not None and hasattr(request, "session"):
        session_touch(request.session)
