"""Every write to contacts and to the consent ledger: validated, atomic, audited."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Consent, ConsentLatest, Contact, Topic
from crm.core.audit import audit
from crm.core.concurrency import check_version
from crm.core.models import AuditEvent, User
from crm.core.permissions import assignable_owners, can_create_records, editable_by_owner_q
from crm.core.webhooks import webhook_emit

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "job_title",
    "account",
    "lifecycle",
    "lead_source",
    "lead_score",
    "birthday",
    "time_zone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
)


def _check_owner(*, actor: User, owner: User) -> None:
    if not assignable_owners(actor).filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": _("No puedes asignar registros a %(user)s.") % {"user": owner}}
        )


def _check_can_edit(*, actor: User, contact: Contact) -> None:
    if not Contact.objects.filter(editable_by_owner_q(actor), pk=contact.pk).exists():
        raise PermissionDenied(_("No puedes modificar este contacto."))


def _check_not_retired(contact: Contact) -> None:
    """An erased person (crm.top.privacy) or a contact merged into another (crm.top.merge) is
    kept as a record of what happened, never edited or brought back."""
    if contact.erased_at is not None:
        raise ValidationError(
            _("Los datos de este contacto se eliminaron a petición suya: no se puede modificar.")
        )
    if contact.merged_into_id is not None:
        raise ValidationError(_("Este contacto se fusionó en otro: modifica el que se conservó."))


def _save(contact: Contact) -> None:
    contact.full_clean()
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:  # a concurrent insert of the same email
        raise ValidationError(
            {"email": _("Ya existe un contacto con este correo electrónico.")}
        ) from exc


@transaction.atomic
def contact_create(
    *, actor: User, data: dict, owner: User | None = None, tags: list[str] | None = None
) -> Contact:
    if not can_create_records(actor):
        raise PermissionDenied(_("Tu rol no puede crear contactos."))
    owner = owner or actor
    _check_owner(actor=actor, owner=owner)
    contact = Contact(owner=owner, **{k: v for k, v in data.items() if k in CONTACT_FIELDS})
    contact._change_reason = _("Alta")
    contact._history_user = actor
    _save(contact)
    if tags:
        contact.tags.set(tags)
    webhook_emit(
        "contact.created",
        {
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "owner_id": contact.owner_id,
            "lifecycle": contact.lifecycle,
        },
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    actor: User,
    contact: Contact,
    data: dict,
    owner: User | None = None,
    tags: list[str] | None = None,
    version: str | None = None,
) -> Contact:
    """`version`: what the edit form was loaded with; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written."""
    _check_can_edit(actor=actor, contact=contact)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _check_not_retired(contact)
    check_version(contact, version, fields=(*CONTACT_FIELDS, "owner", "tags"))
    for field, value in data.items():
        if field in CONTACT_FIELDS:
            setattr(contact, field, value)
    if owner is not None and owner.pk != contact.owner_id:
        _check_owner(actor=actor, owner=owner)
        contact.owner = owner
    contact._history_user = actor
    _save(contact)
    if tags is not None:
        contact.tags.set(tags)
    webhook_emit(
        "contact.updated",
        {
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "owner_id": contact.owner_id,
            "lifecycle": contact.lifecycle,
        },
    )
    return contact


@transaction.atomic
def contact_archive(*, actor: User, contact: Contact) -> Contact:
    _check_can_edit(actor=actor, contact=contact)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.archived_at is None:
        contact.archived_at = timezone.now()
        contact._change_reason = _("Archivado")
        contact._history_user = actor
        contact.save()
        audit(actor=actor, action=AuditEvent.Action.ARCHIVE, target=contact)
    return contact


@transaction.atomic
def contact_restore(*, actor: User, contact: Contact) -> Contact:
    _check_can_edit(actor=actor, contact=contact)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _check_not_retired(contact)
    if contact.archived_at is not None:
        contact.archived_at = None
        contact._change_reason = _("Restaurado")
        contact._history_user = actor
        contact.save()
    return contact


@transaction.atomic
def consent_record(
    *,
    contact: Contact,
    action: str,
    channel: str = Consent.Channel.EMAIL,
    topic: Topic | None = None,
    source: str,
    actor: User | None = None,
    legal_basis: str = Consent.LegalBasis.CONSENT,
    text_version: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    note: str = "",
    at=None,
) -> Consent:
    """Append a grant or a withdrawal to the ledger; the current state is the latest entry.

    Without a topic the entry speaks for the whole channel; with one, for that topic only.

    A person may record consent only for contacts they may edit (or when the contact acts
    themselves: no actor, as from the unsubscribe link or a sign-up form).
    """
    if (
        actor is not None
        and not Contact.objects.filter(editable_by_owner_q(actor), pk=contact.pk).exists()
        and not actor.is_marketing
    ):
        raise PermissionDenied(_("No puedes cambiar el consentimiento de este contacto."))
    entry = Consent(
        contact=contact,
        action=action,
        channel=channel,
        topic=topic,
        source=source,
        legal_basis=legal_basis,
        text_version=text_version,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
        recorded_by=actor,
        note=note,
        at=at or timezone.now(),
    )
    entry.full_clean()
    entry.save()
    consent_latest_advance(entry)
    audit(
        actor=actor,
        action=AuditEvent.Action.CONSENT,
        target=contact,
        detail={
            "channel": channel,
            "topic": topic.name if topic else "",
            "action": action,
            "source": source,
        },
        ip=ip_address,
    )
    return entry


def consent_latest_advance(entry: Consent) -> None:
    """Point the contact's projection at `entry` if it is the newest for its channel and topic."""
    latest = (
        ConsentLatest.objects.select_for_update()
        .select_related("entry")
        .filter(contact_id=entry.contact_id, channel=entry.channel, topic_id=entry.topic_id)
        .first()
    )
    if latest is None:
        ConsentLatest.objects.create(
            contact_id=entry.contact_id,
            channel=entry.channel,
            topic_id=entry.topic_id,
            entry=entry,
            action=entry.action,
        )
    elif (entry.at, entry.pk) > (latest.entry.at, latest.entry.pk):
        latest.entry = entry
        latest.action = entry.action
        latest.save(update_fields=["entry", "action"])


REBUILD_SQL_POSTGRES = """
    INSERT INTO contacts_consentlatest (contact_id, channel, topic_id, entry_id, action)
    SELECT DISTINCT ON (contact_id, channel, topic_id) contact_id, channel, topic_id, id, action
    FROM contacts_consent
    ORDER BY contact_id, channel, topic_id, at DESC, id DESC
"""


@transaction.atomic
def consent_latest_rebuild() -> int:
    """Recompute the whole projection from the ledger (after a bulk load, or to verify it)."""
    ConsentLatest.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(REBUILD_SQL_POSTGRES)
            return cursor.rowcount
    rows, seen = [], set()
    ledger = Consent.objects.order_by("contact_id", "channel", "topic_id", "-at", "-id")
    for entry_id, contact_id, channel, topic_id, action in ledger.values_list(
        "id", "contact_id", "channel", "topic_id", "action"
    ).iterator(chunk_size=5000):
        if (contact_id, channel, topic_id) not in seen:
            seen.add((contact_id, channel, topic_id))
            rows.append(
                ConsentLatest(
                    contact_id=contact_id,
                    channel=channel,
                    topic_id=topic_id,
                    entry_id=entry_id,
                    action=action,
                )
            )
    ConsentLatest.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
