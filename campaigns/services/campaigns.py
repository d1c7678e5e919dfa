"""Writes of the campaign editor: topics, and a campaign's settings and content.

A campaign's content is checked by campaigns.content before anything is saved (broken merge
fields or links are errors, nothing is written), its body is sanitised on every save, its text
part follows the HTML until a person edits it, and the links of its body become the campaign's
stored links (the only places its tracking redirect may send to). Only a draft or scheduled
campaign changes; only a draft is deleted. Every write is audited.
"""

import logging
import smtplib
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import content
from campaigns.models import Campaign, CampaignLink, Segment
from campaigns.permissions import can_manage_campaigns
from contacts.models import Contact, Topic
from crm.core.audit import audit
from crm.core.models import AuditEvent, User

# The audit trail's actions of the editor. crm.core.models.AuditEvent.Action lists send, export,
# archive...; creating, changing and deleting a campaign are recorded with these values.
AUDIT_CREATE = getattr(AuditEvent.Action, "CREATE", "create")
AUDIT_UPDATE = getattr(AuditEvent.Action, "UPDATE", "update")
AUDIT_DELETE = getattr(AuditEvent.Action, "DELETE", "delete")

logger = logging.getLogger(__name__)

TEST_MAX_EXTRA = 5
# The settings fields a campaign form may write; the rest (status, dates, ledger) belong to
# the sending services.
EDITABLE_FIELDS = (
    "name",
    "topic",
    "segment",
    "subject",
    "subject_b",
    "ab_sample_pct",
    "ab_metric",
    "ab_wait_hours",
    "preheader",
    "from_name",
    "from_email",
    "reply_to",
    "html_body",
    "text_body",
    "cost",
    "currency",
    "conversion_window_days",
    "rate_per_minute",
)
TOPIC_FIELDS = ("name", "description", "public")

# What the preview and the test send show instead of a recipient (the "datos de ejemplo").
SAMPLE_DATA = {
    "nombre": "María",
    "apellidos": "García López",
    "nombre_completo": "María García López",
    "correo": "maria.garcia@ejemplo.com.mx",
    "puesto": "Gerente de compras",
    "empresa": "Ferretería del Centro",
    "ciudad": "Guadalajara",
    "vendedor": "Juan Pérez",
    "correo_vendedor": "juan.perez@ejemplo.com.mx",
}


def _check_manager(actor: User) -> None:
    if not can_manage_campaigns(actor):
        raise PermissionDenied(_("Tu rol no puede editar campañas."))


# --- Topics (boletines) ----------------------------------------------------------------------


def _topic_save(topic: Topic, data: dict) -> Topic:
    for field in TOPIC_FIELDS:
        if field in data:
            value = data[field]
            setattr(topic, field, value.strip() if isinstance(value, str) else value)
    if not topic.name:
        raise ValidationError({"name": _("Escribe el nombre del boletín.")})
    clash = Topic.objects.filter(name__iexact=topic.name).exclude(pk=topic.pk)
    if clash.exists():
        raise ValidationError({"name": _("Ya existe un boletín con ese nombre.")})
    topic.full_clean()
    topic.save()
    return topic


@transaction.atomic
def topic_create(*, actor: User, data: dict) -> Topic:
    """A new boletín contacts may subscribe to (and campaigns be sent on)."""
    _check_manager(actor)
    topic = _topic_save(Topic(), data)
    audit(actor=actor, action=AUDIT_CREATE, target=topic, detail={"name": topic.name})
    return topic


@transaction.atomic
def topic_update(*, actor: User, topic: Topic, data: dict) -> Topic:
    """Rename or describe a boletín; its consent entries keep pointing at it."""
    _check_manager(actor)
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    topic = _topic_save(topic, data)
    audit(actor=actor, action=AUDIT_UPDATE, target=topic, detail={"name": topic.name})
    return topic


# --- Campaigns -------------------------------------------------------------------------------


def _normalise_text(value: str) -> str:
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _text_part(*, campaign: Campaign, previous_html: str, posted: str | None, regenerate: bool):
    """The text part and whether a person wrote it.

    The text follows the HTML (regenerated on each save) unless the text sent back differs
    from what the previous HTML generated: then a person edited it, and it is kept.
    """
    generated = content.html_to_text(campaign.html_body)
    if posted is None:
        posted = campaign.text_body if campaign.text_body_edited else generated
    posted = _normalise_text(posted)
    if regenerate or not posted or posted == generated:
        return generated, False
    if not campaign.text_body_edited and posted == _normalise_text(
        content.html_to_text(previous_html)
    ):
        return generated, False
    return posted, True


def _check_settings(campaign: Campaign) -> None:
    """The rules of a campaign's settings, by field, in Spanish (ValidationError)."""
    errors: dict[str, list[str]] = {}
    if not campaign.name.strip():
        errors.setdefault("name", []).append(_("Escribe el nombre de la campaña."))
    if not campaign.subject.strip():
        errors.setdefault("subject", []).append(_("Escribe el asunto del correo."))
    if campaign.from_email and campaign.from_email not in settings.CAMPAIGN_SENDERS:
        errors.setdefault("from_email", []).append(
            _("Ese remitente no está autorizado. Elige uno de: %(senders)s.")
            % {"senders": ", ".join(settings.CAMPAIGN_SENDERS)}
        )
    if campaign.segment_id is not None:
        segment = Segment.objects.filter(pk=campaign.segment_id).only("archived_at").first()
        if segment is None:
            errors.setdefault("segment", []).append(_("Ese segmento no existe."))
    if campaign.subject_b and not 2 <= campaign.ab_sample_pct <= 50:
        errors.setdefault("ab_sample_pct", []).append(
            _("La muestra de la prueba A/B va del 2 % al 50 %.")
        )
    if campaign.subject_b and campaign.subject_b.strip() == campaign.subject.strip():
        errors.setdefault("subject_b", []).append(
            _("El asunto B es igual al A: cámbialo o déjalo vacío para no hacer prueba A/B.")
        )
    if campaign.cost is not None and campaign.cost < 0:
        errors.setdefault("cost", []).append(_("El costo no puede ser negativo."))
    if not (len(campaign.currency) == 3 and campaign.currency.isalpha()):
        errors.setdefault("currency", []).append(_("La moneda es un código ISO de 3 letras."))
    for field, found in content.content_errors(campaign).items():
        errors.setdefault(field, []).extend(found)
    if errors:
        raise ValidationError(errors)


def _apply(campaign: Campaign, data: dict) -> None:
    for field in EDITABLE_FIELDS:
        if field not in data or field == "text_body":
            continue
        value = data[field]
        if isinstance(value, str) and field not in ("html_body",):
            value = value.strip()
        setattr(campaign, field, value)
    if campaign.cost is None:
        campaign.cost = Decimal("0")
    campaign.currency = (campaign.currency or settings.COMPANY_CURRENCY).strip().upper()
    if not campaign.subject_b:
        campaign.subject_b = ""


def _refresh_links(campaign: Campaign) -> None:
    """The campaign's stored links become its body's links; a link already clicked stays
    (the clicks keep pointing at it), the others of an old body go."""
    wanted = content.extract_links(campaign.html_body)
    CampaignLink.objects.bulk_create(
        [CampaignLink(campaign=campaign, url=url) for url in wanted], ignore_conflicts=True
    )
    CampaignLink.objects.filter(campaign=campaign, clicks__isnull=True).exclude(
        url__in=wanted
    ).delete()


def _save(*, campaign: Campaign, data: dict, previous_html: str, regenerate: bool) -> Campaign:
    _apply(campaign, data)
    campaign.html_body = content.sanitize_html(campaign.html_body)
    campaign.text_body, campaign.text_body_edited = _text_part(
        campaign=campaign,
        previous_html=previous_html,
        posted=data.get("text_body"),
        regenerate=regenerate,
    )
    _check_settings(campaign)
    campaign.full_clean()
    campaign.save()
    _refresh_links(campaign)
    return campaign


def _changed(before: dict, campaign: Campaign) -> list[str]:
    return [field for field in EDITABLE_FIELDS if before.get(field) != _value(campaign, field)]


def _value(campaign: Campaign, field: str):
    if field in ("topic", "segment"):
        return getattr(campaign, f"{field}_id")
    return getattr(campaign, field)


@transaction.atomic
def campaign_create(*, actor: User, data: dict, regenerate_text: bool = False) -> Campaign:
    """A new draft campaign; nothing is saved when its settings or content are wrong."""
    _check_manager(actor)
    campaign = Campaign(created_by=actor, status=Campaign.Status.DRAFT)
    campaign = _save(campaign=campaign, data=data, previous_html="", regenerate=regenerate_text)
    audit(actor=actor, action=AUDIT_CREATE, target=campaign, detail={"name": campaign.name})
    return campaign


@transaction.atomic
def campaign_update(
    *, actor: User, campaign: Campaign, data: dict, regenerate_text: bool = False
) -> Campaign:
    """Change a draft or scheduled campaign (a sending or sent one keeps what it sent)."""
    _check_manager(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if not campaign.is_editable:
        raise ValidationError(
            _("La campaña está «%(status)s»: ya no se puede modificar.")
            % {"status": campaign.get_status_display()}
        )
    before = {field: _value(campaign, field) for field in EDITABLE_FIELDS}
    campaign = _save(
        campaign=campaign,
        data=data,
        previous_html=campaign.html_body,
        regenerate=regenerate_text,
    )
    audit(
        actor=actor,
        action=AUDIT_UPDATE,
        target=campaign,
        detail={"fields": _changed(before, campaign)},
    )
    return campaign


@transaction.atomic
def campaign_delete(*, actor: User, campaign: Campaign) -> None:
    """Delete a draft; a campaign that was scheduled or sent stays (its ledger is history)."""
    _check_manager(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT or campaign.sends.exists():
        raise ValidationError(_("Solo se puede eliminar una campaña en borrador."))
    audit(
        actor=actor,
        action=AUDIT_DELETE,
        target=campaign,
        detail={"name": campaign.name, "subject": campaign.subject},
    )
    campaign.delete()


@transaction.atomic
def campaign_duplicate(*, actor: User, campaign: Campaign) -> Campaign:
    """A new draft with the same settings and content (to send again, or a variant)."""
    _check_manager(actor)
    source = Campaign.objects.get(pk=campaign.pk)
    copy = Campaign(
        created_by=actor,
        status=Campaign.Status.DRAFT,
        text_body_edited=source.text_body_edited,
        **{
            field: _value(source, field)
            for field in EDITABLE_FIELDS
            if field not in ("topic", "segment")
        },
        topic_id=source.topic_id,
        segment_id=source.segment_id,
    )
    copy.name = (_("%(name)s (copia)") % {"name": source.name})[:150]
    if (
        copy.segment_id is not None
        and not Segment.objects.filter(pk=copy.segment_id, archived_at__isnull=True).exists()
    ):
        copy.segment_id = None  # an archived segment is not offered to new campaigns
    copy.full_clean()
    copy.save()
    _refresh_links(copy)
    audit(
        actor=actor,
        action=AUDIT_CREATE,
        target=copy,
        detail={"name": copy.name, "duplicated_from": source.pk},
    )
    return copy


# --- Preview and test send -------------------------------------------------------------------


def preview_values(*, contact: Contact | None, links_to: str) -> dict[str, str]:
    """The merge values of a preview or a test: a contact's (or the sample data), with the
    unsubscribe and preference links pointing to `links_to` (never the real ones)."""
    values = dict(SAMPLE_DATA) if contact is None else content.merge_data(contact)
    values.update(url_baja=links_to, url_preferencias=links_to, token_apertura="", token_clic="")
    return values


def campaign_render(
    *, campaign: Campaign, contact: Contact | None, links_to: str, variant: str = "a"
) -> content.RenderedMessage:
    """The message as `contact` (None: the sample data) would read it, without tracking."""
    compiled = content.compile_message(campaign, tracking=False)
    return compiled.render(preview_values(contact=contact, links_to=links_to), variant=variant)


def campaign_test_recipients(*, actor: User, extra: list[str]) -> list[str]:
    """The requesting user's address and up to 5 more, checked; ValidationError if wrong."""
    addresses: list[str] = []
    if actor.email:
        addresses.append(actor.email.strip().lower())
    extra = [item.strip().lower() for item in extra if item and item.strip()]
    if len(extra) > TEST_MAX_EXTRA:
        raise ValidationError(
            {"extra": _("Como máximo %(n)s direcciones más.") % {"n": TEST_MAX_EXTRA}}
        )
    for address in extra:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise ValidationError(
                {"extra": _("«%(address)s» no es un correo válido.") % {"address": address}}
            ) from exc
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ValidationError(
            _("Tu usuario no tiene correo electrónico: escribe a qué dirección enviar la prueba.")
        )
    return addresses


def campaign_test_send(
    *,
    actor: User,
    campaign: Campaign,
    contact: Contact | None,
    extra: list[str] | None = None,
    variant: str = "a",
    links_to: str,
) -> list[str]:
    """Send the message as `contact` (None: the sample data) to the user and a few more
    addresses, its subject marked "[Prueba] ", with no tracking and harmless footer links.

    Nothing is written to the send ledger: a test is not a send. Returns the addresses.
    """
    _check_manager(actor)
    if errors := content.content_errors(campaign):
        raise ValidationError(
            _("Corrige el contenido antes de enviar una prueba: %(errors)s")
            % {"errors": " ".join(e for found in errors.values() for e in found)}
        )
    addresses = campaign_test_recipients(actor=actor, extra=extra or [])
    variant = "b" if variant == "b" and campaign.has_ab_test else "a"
    rendered = campaign_render(
        campaign=campaign, contact=contact, links_to=links_to, variant=variant
    )
    reply_to = campaign.reply_to or settings.CAMPAIGN_REPLY_TO
    messages = []
    for address in addresses:
        message = EmailMultiAlternatives(
            subject=_("[Prueba] %(subject)s") % {"subject": rendered.subject},
            body=rendered.text,
            from_email=content.sender(campaign),
            to=[address],
            reply_to=[reply_to] if reply_to else None,
        )
        message.attach_alternative(rendered.html, "text/html")
        messages.append(message)
    try:
        get_connection(settings.CAMPAIGN_EMAIL_BACKEND).send_messages(messages)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("campaign %s: test send failed: %s", campaign.pk, exc)
        raise ValidationError(
            _("No se pudo enviar la prueba: el servidor de correo no respondió (%(error)s).")
            % {"error": exc}
        ) from exc
    audit(
        actor=actor,
        action=AuditEvent.Action.SEND,
        target=campaign,
        detail={
            "test": True,
            "to": addresses,
            "variant": variant,
            "as_contact": contact.pk if contact is not None else None,
        },
    )
    return addresses
