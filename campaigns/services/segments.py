"""Segments: every write (create, edit, archive, and a static list's members), audited.

Only marketing and administrators build segments (campaigns.permissions). A dynamic segment's
definition is stored only once `validate_definition` accepts it, so the compiler never meets a
definition it cannot read; a static segment keeps no definition, only its members.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Segment, SegmentMember
from campaigns.permissions import can_manage_campaigns
from campaigns.segments import validate_definition
from contacts.models import Contact
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.text import parse_id

# Contacts added or removed in one call: a selection from a list page, not the whole base.
MAX_MEMBERS_PER_CALL = 5000
# Campaigns that will still read their segment: it may not be archived under them.
ACTIVE_CAMPAIGN_STATUSES = (
    Campaign.Status.SCHEDULED,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
)


def _require_manager(actor: User) -> None:
    if not can_manage_campaigns(actor):
        raise PermissionDenied(_("Tu rol no puede crear ni modificar segmentos."))


def _clean_definition(kind: str, definition: dict | None) -> dict:
    if kind == Segment.Kind.STATIC:
        return {}
    definition = definition if definition is not None else {"match": "all", "groups": []}
    if errors := validate_definition(definition):
        raise ValidationError({"definition": errors})
    return definition


def _require_live(segment: Segment) -> None:
    if segment.archived_at is not None:
        raise ValidationError(_("El segmento «%(name)s» está archivado.") % {"name": segment.name})


@transaction.atomic
def segment_create(
    *,
    actor: User,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    description: str = "",
    definition: dict | None = None,
) -> Segment:
    _require_manager(actor)
    if kind not in Segment.Kind.values:
        raise ValidationError({"kind": _("Elige un tipo de segmento válido.")})
    segment = Segment(
        name=(name or "").strip(),
        description=(description or "").strip(),
        kind=kind,
        definition=_clean_definition(kind, definition),
        created_by=actor,
    )
    segment.full_clean()
    segment.save()
    audit(
        actor=actor,
        action="segment_create",
        target=segment,
        detail={"name": segment.name, "kind": kind, "definition": segment.definition},
    )
    return segment


@transaction.atomic
def segment_update(
    *,
    actor: User,
    segment: Segment,
    name: str,
    description: str = "",
    definition: dict | None = None,
) -> Segment:
    """Name, description and (dynamic) conditions. The kind stays: a list turned into
    conditions would silently drop its members."""
    _require_manager(actor)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    _require_live(segment)
    before = segment.definition
    segment.name = (name or "").strip()
    segment.description = (description or "").strip()
    segment.definition = _clean_definition(segment.kind, definition)
    segment.full_clean()
    segment.save()
    audit(
        actor=actor,
        action="segment_update",
        target=segment,
        detail={"name": segment.name, "before": before, "definition": segment.definition},
    )
    return segment


@transaction.atomic
def segment_archive(*, actor: User, segment: Segment) -> Segment:
    """Out of the lists and the campaign editor; refused while a campaign still reads it."""
    _require_manager(actor)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.archived_at is not None:
        return segment  # archiving twice changes nothing
    busy = segment.campaigns.filter(status__in=ACTIVE_CAMPAIGN_STATUSES)
    if names := list(busy.values_list("name", flat=True)[:3]):
        raise ValidationError(
            _("No se puede archivar: lo usan campañas programadas o en envío (%(names)s).")
            % {"names": ", ".join(names)}
        )
    segment.archived_at = timezone.now()
    segment.save(update_fields=["archived_at", "updated_at"])
    audit(actor=actor, action=AuditEvent.Action.ARCHIVE, target=segment)
    return segment


def _contact_ids(contact_ids: Iterable[int]) -> list[int]:
    ids = {parse_id(pk) for pk in contact_ids}
    if None in ids:  # not a number, or one past any id (the database would refuse it)
        raise ValidationError(_("La selección de contactos no es válida."))
    ids = sorted(ids)
    if not ids:
        raise ValidationError(_("Selecciona al menos un contacto."))
    if len(ids) > MAX_MEMBERS_PER_CALL:
        raise ValidationError(
            _("Como máximo %(max)s contactos a la vez.") % {"max": MAX_MEMBERS_PER_CALL}
        )
    return ids


def _require_static(segment: Segment) -> None:
    if not segment.is_static:
        raise ValidationError(
            _(
                "«%(name)s» se calcula por condiciones: solo a las listas estáticas se añaden "
                "contactos a mano."
            )
            % {"name": segment.name}
        )


@transaction.atomic
def segment_add_contacts(*, actor: User, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Add live contacts to a static list; those already on it stay once. Returns how many
    were new."""
    _require_manager(actor)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    _require_live(segment)
    _require_static(segment)
    ids = _contact_ids(contact_ids)
    live = list(
        Contact.objects.filter(pk__in=ids, archived_at__isnull=True).values_list("pk", flat=True)
    )
    if not live:
        raise ValidationError(_("Ninguno de los contactos seleccionados existe o está activo."))
    before = segment.memberships.count()
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, contact_id=pk, added_by=actor) for pk in live],
        batch_size=1000,
        ignore_conflicts=True,
    )
    added = segment.memberships.count() - before
    segment.save(update_fields=["updated_at"])
    audit(
        actor=actor,
        action="segment_members",
        target=segment,
        detail={"added": added, "requested": len(ids)},
    )
    return added


@transaction.atomic
def segment_remove_contacts(*, actor: User, segment: Segment, contact_ids: Iterable[int]) -> int:
    """Take contacts off a static list (those not on it are ignored). Returns how many left."""
    _require_manager(actor)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    _require_live(segment)
    _require_static(segment)
    ids = _contact_ids(contact_ids)
    removed, _detail = segment.memberships.filter(contact_id__in=ids).delete()
    if removed:
        segment.save(update_fields=["updated_at"])
        audit(
            actor=actor,
            action="segment_members",
            target=segment,
            detail={"removed": removed, "contacts": ids[:100]},
        )
    return removed
