"""What recipients do with a message, and what the ESP tells us about it.

The public side (no login, reached from the message): the open pixel, click redirects, the
unsubscribe link (RFC 8058 one-click) and the preference centre; and the ESP's tracking
webhooks (django-anymail's normalised events, received in campaigns.signals). Every consent
change goes through the contacts ledger (contacts.services.consent_record), never a flag.

Counting: every open and click is a TrackingEvent (totals); `Send.first_opened_at` and
`first_clicked_at` are set once, by a conditional UPDATE, so two requests at the same instant
cannot both set them (uniques). Opens by machines are stored with `is_machine=True` and set
neither (see `is_machine_request`).

Why one file of about 600 lines: the public side and the ESP's webhooks record the same facts
through the same few helpers (an event, the first human open and click, the machine rule, the
contact's current email consent), so a click, open or unsubscribe the ESP reports counts exactly
as one made through our own links. Split by where the request comes from, the webhooks would
import the public side's private helpers and that one rule would be read in two places.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import tokens
from campaigns.models import CampaignLink, Send, Suppression, TrackingEvent
from campaigns.scoring import contact_score_recompute_later
from campaigns.services.suppression import suppress
from contacts.models import Consent, ConsentLatest, Contact, Topic
from contacts.services import consent_record
from crm.core.webhooks import webhook_emit

logger = logging.getLogger(__name__)

EMAIL = Consent.Channel.EMAIL
GRANT = Consent.Action.GRANT
WITHDRAW = Consent.Action.WITHDRAW
# contacts.Consent.Source has no value of its own for the preference centre nor for a spam
# complaint (requested: PREFERENCES = "preferencias", COMPLAINT = "queja"); until it has, the
# nearest one is used and the entry's note says which it was.
PREFERENCES_SOURCE = getattr(Consent.Source, "PREFERENCES", Consent.Source.FORM)
COMPLAINT_SOURCE = getattr(Consent.Source, "COMPLAINT", Consent.Source.EMAIL)
UNSUBSCRIBE_SOURCE = Consent.Source.UNSUBSCRIBE
PREFERENCES_WITHDRAW_SOURCE = getattr(Consent.Source, "PREFERENCES", UNSUBSCRIBE_SOURCE)
# The version of the preference centre's text (stored with a grant made there).
PREFERENCES_TEXT_VERSION = "centro-preferencias-1"


def _site_language(function):
    """Notes and details stored by a recipient's request are written in the site's language,
    not in the one their browser asked for (LocaleMiddleware): staff read them."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    return wrapper


# --- Machine opens ---------------------------------------------------------------------------

# Apple Mail Privacy Protection fetches every image of a message when it is delivered, from
# Apple's own network (17.0.0.0/8 belongs to Apple) and with the bare user agent "Mozilla/5.0"
# (real clients send a full one): such an open says nothing about the person.
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLE_PROXY_AGENT = "Mozilla/5.0"
# Security gateways and link scanners that fetch images and follow links on arrival, and
# generic HTTP libraries no mail client uses. Gmail's and Outlook's image proxies are NOT
# here: they fetch when the person opens the message, so those opens are real.
SCANNER_AGENTS = (
    "bot",
    "crawler",
    "spider",
    "barracuda",
    "mimecast",
    "proofpoint",
    "messagelabs",
    "symantec",
    "trend micro",
    "trendmicro",
    "forcepoint",
    "sophos",
    "fortinet",
    "cisco",
    "ironport",
    "safelinks",
    "linkchecker",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
)
# Nobody reads a message within seconds of it leaving the server; scanners do.
MACHINE_WINDOW = timedelta(seconds=5)


def is_machine_request(
    *, user_agent: str, ip_address: str | None, sent_at: datetime | None, at: datetime
) -> bool:
    """Whether an open or a click was made by a machine rather than the recipient.

    The rule: no user agent at all; Apple's privacy proxy (the bare "Mozilla/5.0" agent, or
    an address in Apple's 17.0.0.0/8); a known security scanner, prefetcher or HTTP library
    in the user agent (SCANNER_AGENTS); or any request within MACHINE_WINDOW (5 s) of the
    send, which only automatic scanning on delivery is fast enough for. Such events are kept
    (is_machine=True) so totals can show them apart, but never set first_opened_at or
    first_clicked_at.
    """
    agent = (user_agent or "").strip()
    if not agent or agent == APPLE_PROXY_AGENT:
        return True
    lowered = agent.lower()
    if any(token in lowered for token in SCANNER_AGENTS):
        return True
    if ip_address:
        try:
            if ipaddress.ip_address(ip_address) in APPLE_NETWORK:
                return True
        except ValueError:
            pass
    return sent_at is not None and timedelta(0) <= at - sent_at < MACHINE_WINDOW


# --- Reading a link's token ------------------------------------------------------------------


def send_for_token(*, purpose: str, token: str) -> Send | None:
    """The ledger row a message's token names, or None for a bad, forged or stale token.

    The salt of `purpose` makes a token of another purpose (an open token used to
    unsubscribe) as bad as a forged one.
    """
    try:
        send_id = tokens.read(purpose, token)
    except tokens.BadToken:
        return None
    return Send.objects.select_related("campaign__topic", "contact").filter(pk=send_id).first()


def contact_for_token(*, token: str) -> Contact | None:
    """The contact of a preference-centre token, or None (bad token, or contact gone)."""
    try:
        contact_id = tokens.read(tokens.PREFERENCES, token)
    except tokens.BadToken:
        return None
    return Contact.objects.filter(pk=contact_id).first()


# --- Opens and clicks ------------------------------------------------------------------------


def _event(send: Send, kind: str, **fields) -> TrackingEvent:
    return TrackingEvent.objects.create(
        send=send, campaign_id=send.campaign_id, contact_id=send.contact_id, kind=kind, **fields
    )


def _mark_opened(send: Send, at: datetime) -> bool:
    """Set first_opened_at if it is still empty; True for the one request that set it."""
    return bool(
        Send.objects.filter(pk=send.pk, first_opened_at__isnull=True).update(first_opened_at=at)
    )


def record_open(
    *, send: Send, ip_address: str | None, user_agent: str, at: datetime | None = None
) -> TrackingEvent:
    """The pixel was fetched: one event per fetch (totals), the first human one sets the date."""
    at = at or timezone.now()
    machine = is_machine_request(
        user_agent=user_agent, ip_address=ip_address, sent_at=send.sent_at, at=at
    )
    with transaction.atomic():
        event = _event(
            send,
            TrackingEvent.Kind.OPEN,
            at=at,
            is_machine=machine,
            ip_address=ip_address or None,
            user_agent=(user_agent or "")[:300],
        )
        if not machine:
            _mark_opened(send, at)
            contact_score_recompute_later(send.contact_id)
    return event


def _record_click(
    *,
    send: Send,
    link: CampaignLink | None,
    at: datetime,
    machine: bool,
    ip_address: str | None,
    user_agent: str,
    esp_event_id: str | None = None,
) -> TrackingEvent:
    event = _event(
        send,
        TrackingEvent.Kind.CLICK,
        link=link,
        at=at,
        is_machine=machine,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
        esp_event_id=esp_event_id,
    )
    if not machine:
        contact_score_recompute_later(send.contact_id)
        Send.objects.filter(pk=send.pk, first_clicked_at__isnull=True).update(first_clicked_at=at)
        # A click without a (human) open: the images were blocked, but the message was read.
        if _mark_opened(send, at):
            _event(
                send,
                TrackingEvent.Kind.OPEN,
                at=at,
                ip_address=ip_address or None,
                user_agent=(user_agent or "")[:300],
                detail=_("Contada por un clic"),
            )
    return event


@_site_language
def record_click(
    *, send: Send, link_id: int, ip_address: str | None, user_agent: str
) -> CampaignLink:
    """A tracked link was followed: the stored link of this send's campaign to redirect to.

    Only a CampaignLink of the campaign the send belongs to is ever returned (raises
    CampaignLink.DoesNotExist otherwise): the address comes from the database, never from the
    request, so the redirect cannot be turned into an open redirect.
    """
    link = CampaignLink.objects.get(pk=link_id, campaign_id=send.campaign_id)
    if not link.url.lower().startswith(("http://", "https://")):
        raise CampaignLink.DoesNotExist
    at = timezone.now()
    machine = is_machine_request(
        user_agent=user_agent, ip_address=ip_address, sent_at=send.sent_at, at=at
    )
    with transaction.atomic():
        _record_click(
            send=send,
            link=link,
            at=at,
            machine=machine,
            ip_address=ip_address,
            user_agent=user_agent,
        )
    return link


# --- Unsubscribe and preferences ---------------------------------------------------------------


def _latest_actions(contact_id: int) -> dict[int | None, str]:
    """The contact's current email consent: topic id (None: the whole channel) → action."""
    return dict(
        ConsentLatest.objects.filter(contact_id=contact_id, channel=EMAIL).values_list(
            "topic_id", "action"
        )
    )


@dataclass(frozen=True)
class UnsubscribeState:
    topic_withdrawn: bool
    all_withdrawn: bool


def unsubscribe_state(*, send: Send) -> UnsubscribeState:
    latest = _latest_actions(send.contact_id)
    return UnsubscribeState(
        topic_withdrawn=latest.get(send.campaign.topic_id) == WITHDRAW,
        all_withdrawn=latest.get(None) == WITHDRAW,
    )


@_site_language
def unsubscribe(*, send: Send, everything: bool, ip_address: str | None, user_agent: str) -> bool:
    """The recipient leaves the campaign's topic, or all email ("todos"): True if it changed.

    Idempotent (RFC 8058 clients may POST more than once): a withdrawal already current is not
    written again, and the send's "baja" event is recorded once. The send row is locked so
    that two simultaneous POSTs write one entry.
    """
    with transaction.atomic():
        # Lock the ledger row only, not the campaign a sending worker may be holding.
        send = (
            Send.objects.select_for_update(of=("self",))
            .select_related("campaign__topic", "contact")
            .get(pk=send.pk)
        )
        topic = None if everything else send.campaign.topic
        latest = _latest_actions(send.contact_id)
        key = None if topic is None else topic.pk
        changed = latest.get(key) != WITHDRAW
        if changed:
            consent_record(
                contact=send.contact,
                action=WITHDRAW,
                channel=EMAIL,
                topic=topic,
                source=UNSUBSCRIBE_SOURCE,
                ip_address=ip_address,
                user_agent=user_agent,
                note=_("Enlace de baja de la campaña «%(campaign)s»")
                % {"campaign": send.campaign.name},
            )
            webhook_emit(
                "contact.unsubscribed",
                {
                    "contact_id": send.contact_id,
                    "campaign_id": send.campaign_id,
                    "topic_id": None if topic is None else topic.pk,
                },
            )
        if not TrackingEvent.objects.filter(
            send=send, kind=TrackingEvent.Kind.UNSUBSCRIBE
        ).exists():
            _event(
                send,
                TrackingEvent.Kind.UNSUBSCRIBE,
                at=timezone.now(),
                ip_address=ip_address or None,
                user_agent=(user_agent or "")[:300],
                detail=_("Todos los correos") if everything else send.campaign.topic.name,
            )
    return changed


@dataclass(frozen=True)
class TopicChoice:
    topic: Topic
    subscribed: bool


@dataclass(frozen=True)
class PreferenceState:
    topics: list[TopicChoice]
    nothing: bool  # "no email at all": the channel-wide consent is a withdrawal
    channel_granted: bool


def preference_topics():
    return Topic.objects.filter(public=True).order_by("name")


def preference_state(*, contact: Contact) -> PreferenceState:
    """What the preference centre shows: subscribed to a topic = channel grant, no withdrawal."""
    latest = _latest_actions(contact.pk)
    granted = latest.get(None) == GRANT
    return PreferenceState(
        topics=[
            TopicChoice(topic=topic, subscribed=granted and latest.get(topic.pk) != WITHDRAW)
            for topic in preference_topics()
        ],
        nothing=latest.get(None) == WITHDRAW,
        channel_granted=granted,
    )


@_site_language
def preferences_update(
    *,
    contact: Contact,
    topic_ids: set[int],
    nothing: bool,
    ip_address: str | None,
    user_agent: str,
) -> int:
    """Apply the preference centre's form, writing the ledger only where something changes.

    "No email at all" is a channel-wide withdrawal (the topics keep their entries, so a later
    grant restores them as they were). Otherwise each public topic ticked is granted if it was
    withdrawn, each one unticked is withdrawn if the person could receive it (or is about to),
    and ticking any topic while the channel is not granted grants the channel: the person's own
    choice on their own page, recorded as such. Returns the number of entries written.
    """
    written = 0
    note = _("Centro de preferencias")

    def record(action: str, topic: Topic | None) -> None:
        nonlocal written
        consent_record(
            contact=contact,
            action=action,
            channel=EMAIL,
            topic=topic,
            source=PREFERENCES_SOURCE if action == GRANT else PREFERENCES_WITHDRAW_SOURCE,
            text_version=PREFERENCES_TEXT_VERSION if action == GRANT else "",
            ip_address=ip_address,
            user_agent=user_agent,
            note=note,
        )
        written += 1

    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        latest = _latest_actions(contact.pk)
        channel = latest.get(None)
        if nothing:
            if channel != WITHDRAW:
                record(WITHDRAW, None)
            return written
        topics = list(preference_topics())
        wanted = {topic.pk for topic in topics if topic.pk in topic_ids}
        granting_channel = bool(wanted) and channel != GRANT
        reachable = channel == GRANT or granting_channel
        if granting_channel:
            record(GRANT, None)
        for topic in topics:
            withdrawn = latest.get(topic.pk) == WITHDRAW
            if topic.pk in wanted and withdrawn:
                record(GRANT, topic)
            elif topic.pk not in wanted and not withdrawn and reachable:
                record(WITHDRAW, topic)
    return written


# --- The ESP's webhooks (django-anymail) -------------------------------------------------------

ESP_KINDS = {
    "delivered": TrackingEvent.Kind.DELIVERED,
    "bounced": TrackingEvent.Kind.BOUNCE,
    "complained": TrackingEvent.Kind.COMPLAINT,
    "opened": TrackingEvent.Kind.OPEN,
    "clicked": TrackingEvent.Kind.CLICK,
    "unsubscribed": TrackingEvent.Kind.UNSUBSCRIBE,
}


def _message_ids(message_id: str) -> list[str]:
    bare = (message_id or "").strip().strip("<>")
    return [bare, f"<{bare}>"] if bare else []


def send_for_esp_event(event) -> Send | None:
    """The ledger row an ESP event is about: by the send id in the message's metadata (when
    the sender set it), else by Message-ID, with or without angle brackets."""
    rows = Send.objects.select_related("campaign__topic", "contact")
    metadata = getattr(event, "metadata", None) or {}
    send_id = str(metadata.get("send_id") or "")
    if send_id.isdigit():
        send = rows.filter(pk=int(send_id)).first()
        if send is not None:
            return send
    candidates = _message_ids(getattr(event, "message_id", "") or "")
    if not candidates:
        return None
    return rows.filter(message_id__in=candidates).order_by("-id").first()


def _withdraw_everything(*, contacts, source: str, note: str) -> None:
    for contact in contacts:
        if _latest_actions(contact.pk).get(None) != WITHDRAW:
            consent_record(
                contact=contact,
                action=WITHDRAW,
                channel=EMAIL,
                topic=None,
                source=source,
                note=note,
            )


def _suppress(email: str, reason: str, note: str) -> None:
    try:
        suppress(email=email, reason=reason, note=note)
    except ValidationError:
        logger.warning("ESP event for an invalid address %r: not suppressed", email)


@_site_language
def esp_event_record(*, event, esp_name: str) -> TrackingEvent | None:
    """Record one normalised anymail tracking event; None when there is nothing to record.

    Deduplicated by the ESP's event id (an ESP retries a webhook it thinks failed). A hard
    bounce ("bounced"; "deferred" is a temporary failure and is ignored) suppresses the
    address and dates the send; a spam complaint suppresses it and withdraws the person's
    consent to all email in the ledger; an ESP-hosted unsubscribe withdraws the campaign's
    topic. Events of messages that are not campaign sends still suppress bounced and
    complaining addresses, since they are the same mailbox.
    """
    kind = ESP_KINDS.get(event.event_type)
    if kind is None:
        return None
    esp_event_id = f"{esp_name}:{event.event_id}"[:200] if event.event_id else None
    if esp_event_id and TrackingEvent.objects.filter(esp_event_id=esp_event_id).exists():
        return None
    send = send_for_esp_event(event)
    at = event.timestamp or timezone.now()
    recipient = (event.recipient or (send.email if send else "") or "").strip().lower()
    detail = (event.description or event.mta_response or event.reject_reason or "")[:300]
    try:
        with transaction.atomic():
            created = _esp_effects(
                event=event,
                kind=kind,
                send=send,
                at=at,
                recipient=recipient,
                detail=detail,
                esp_name=esp_name,
                esp_event_id=esp_event_id,
            )
    except IntegrityError:
        # The same event, delivered twice at once: the other request recorded it.
        if esp_event_id and TrackingEvent.objects.filter(esp_event_id=esp_event_id).exists():
            return None
        raise
    return created


def _esp_effects(
    *,
    event,
    kind: str,
    send: Send | None,
    at: datetime,
    recipient: str,
    detail: str,
    esp_name: str,
    esp_event_id: str | None,
) -> TrackingEvent | None:
    user_agent = (getattr(event, "user_agent", "") or "")[:300]
    created = None
    if send is not None and kind == TrackingEvent.Kind.CLICK:
        link = None
        if event.click_url:
            link = CampaignLink.objects.filter(
                campaign_id=send.campaign_id, url=event.click_url
            ).first()
        machine = is_machine_request(
            user_agent=user_agent, ip_address=None, sent_at=send.sent_at, at=at
        )
        created = _record_click(
            send=send,
            link=link,
            at=at,
            machine=machine,
            ip_address=None,
            user_agent=user_agent,
            esp_event_id=esp_event_id,
        )
    elif send is not None:
        machine = kind == TrackingEvent.Kind.OPEN and is_machine_request(
            user_agent=user_agent, ip_address=None, sent_at=send.sent_at, at=at
        )
        created = _event(
            send,
            kind,
            at=at,
            is_machine=machine,
            user_agent=user_agent,
            esp_event_id=esp_event_id,
            detail=detail,
        )
        if kind == TrackingEvent.Kind.OPEN and not machine:
            _mark_opened(send, at)
            contact_score_recompute_later(send.contact_id)
    if kind == TrackingEvent.Kind.BOUNCE:
        if send is not None:
            Send.objects.filter(pk=send.pk, bounced_at__isnull=True).update(bounced_at=at)
        if recipient:
            _suppress(
                recipient,
                Suppression.Reason.BOUNCE,
                _("Rebote permanente (%(esp)s): %(detail)s") % {"esp": esp_name, "detail": detail},
            )
    elif kind == TrackingEvent.Kind.COMPLAINT:
        if recipient:
            _suppress(
                recipient,
                Suppression.Reason.COMPLAINT,
                _("Queja de spam (%(esp)s)") % {"esp": esp_name},
            )
        if send is not None:
            contacts = [send.contact]
        elif recipient:
            contacts = list(
                Contact.objects.alias(email_lower=Lower("email"))
                .filter(email_lower=recipient.lower())
                .exclude(email="")  # the partial unique index on lower(email)
            )
        else:
            contacts = []
        _withdraw_everything(
            contacts=contacts,
            source=COMPLAINT_SOURCE,
            note=_("Queja de spam recibida por %(esp)s") % {"esp": esp_name},
        )
    elif (
        kind == TrackingEvent.Kind.UNSUBSCRIBE
        and send is not None
        and _latest_actions(send.contact_id).get(send.campaign.topic_id) != WITHDRAW
    ):
        consent_record(
            contact=send.contact,
            action=WITHDRAW,
            channel=EMAIL,
            topic=send.campaign.topic,
            source=UNSUBSCRIBE_SOURCE,
            note=_("Baja en el enlace de %(esp)s") % {"esp": esp_name},
        )
    return created
