"""The audit trail of DESIGN.md §5: one call records one sensitive act."""

import logging

from crm.core.models import AuditEvent

logger = logging.getLogger("crm.audit")


def audit(*, actor, action: str, target=None, detail: dict | None = None, ip: str | None = None):
    event = AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target=f"{target._meta.label_lower}:{target.pk}"
        if hasattr(target, "_meta")
        else str(target or ""),
        detail=detail or {},
        ip_address=ip,
    )
    logger.info("audit %s by %s on %s", action, getattr(actor, "pk", None), event.target)
    return event
