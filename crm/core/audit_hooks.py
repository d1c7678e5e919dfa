from crm.core.audit import audit
from crm.core.models import AuditEvent


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def on_login(sender, request, user, **kwargs) -> None:
    audit(actor=user, action=AuditEvent.Action.LOGIN, target=user, ip=_ip(request))


def on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit(actor=user, action=AuditEvent.Action.LOGOUT, target=user, ip=_ip(request))


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit(
        actor=None,
        action=AuditEvent.Action.LOGIN_FAILED,
        target=str(credentials.get("username", ""))[:150],
        ip=_ip(request),
    )
