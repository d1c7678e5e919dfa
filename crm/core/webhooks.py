"""Signed webhooks (issue 11): other systems are told of changes, per Standard Webhooks.

The outbox: a service calls `webhook_emit(type, payload)` inside its transaction; that writes the
event and one delivery per active endpoint subscribed to the type, and queues a
`crm.webhook_deliver` task per delivery with `enqueue_on_commit`. A rolled-back change leaves
nothing to send; a committed one is sent however the broker or the worker fares, because the
delivery row is the work to do and the beat job `crm.webhooks_due` sends what is due (retries)
and re-queues what a lost task left.

Each attempt is an HTTP POST of `{"type", "timestamp", "data"}` with the headers `webhook-id`
(the event id, the same on every retry: the receiver's dedup key), `webhook-timestamp` (unix
seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed
with the secret's decoded bytes; after a rotation, the old secret's signature follows for a day,
space-separated). 2xx is delivered; anything else, a timeout or a refused target is retried
after RETRY_DELAYS (about three days in all), then abandoned. An endpoint that has failed
without a single success for DISABLE_AFTER is disabled and its creator emailed.

Each attempt is claimed first (SKIP LOCKED on PostgreSQL, and a lease in `locked_until`), so two
workers never send one delivery at once, and a delivered one is never sent again.

The SSRF guard (`target_addresses`): https only (unless DEBUG or WEBHOOK_ALLOW_HTTP), no
credentials in the URL, and every address the host resolves to must be a global unicast one;
checked when the endpoint is saved and again before each attempt, and the connection goes to the
address just checked (so a DNS answer that changes in between cannot point it inside). Redirects
are not followed (http.client never does): a 3xx is a failure.

Event payloads (ids and the essentials; the receiver reads the rest through the API):
- contact.created, contact.updated: contact_id, account_id, owner_id, lifecycle.
- contact.unsubscribed: contact_id, campaign_id, topic_id (null: from every email).
- opportunity.stage_changed: opportunity_id, account_id, owner_id, from_stage_id, to_stage_id,
  to_stage (its name), is_won, is_lost.
- opportunity.won: opportunity_id, account_id, owner_id, amount (a decimal string), currency,
  closed_at.
- ticket.created: ticket_id, number, account_id, contact_id, category, priority, channel.
- ticket.resolved: ticket_id, number, account_id, contact_id, resolved_at.
- form.submitted (when sign-up forms exist): form_id, contact_id.
- webhook.test: endpoint_id, message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit
from crm.core.models import (
    AuditEvent,
    Role,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
    webhook_secret_new,
)
from crm.core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

DELIVER_TASK = "crm.webhook_deliver"
# The wait after each failed attempt: 11 attempts over about three days (71 h 35 min).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=14),
    timedelta(hours=16),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
DISABLE_AFTER = timedelta(days=1)
ROTATION_GRACE = timedelta(days=1)
TIMEOUT = 10.0  # seconds, to connect and for each read
# A worker's hold on a delivery while it sends it: longer than the task's time limit (60 s), so
# that only a dead worker's hold runs out.
LEASE = timedelta(minutes=2)
# Retries this soon are queued with a countdown; later ones are left to the beat job.
COUNTDOWN_UP_TO = timedelta(minutes=10)
# A delivery queued this long ago and still due lost its task: the beat job queues it again.
REQUEUE_AFTER = timedelta(minutes=10)
DUE_BATCH = 500
ERROR_MAX = 300
SUBSCRIBABLE = [t for t in WebhookEventType if t != WebhookEventType.TEST]
OPEN = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED)


# The SSRF guard ---------------------------------------------------------------------------------


class TargetRefused(Exception):
    """The URL may not be called: its message says why, in the user's language."""


def _allow_http() -> bool:
    return settings.DEBUG or getattr(settings, "WEBHOOK_ALLOW_HTTP", False)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 one carries (mapped, NAT64, 6to4, Teredo), each a way in."""
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        found.extend(address.teredo)
    if address in ipaddress.ip_network("64:ff9b::/96"):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address: not loopback, private, link-local, multicast, reserved,
    unspecified, shared (CGNAT), nor an IPv6 one that embeds such an IPv4 address.

    `is_global` alone lets multicast through (224.0.0.0/4 is "global" to Python)."""
    if address.version == 6:
        embedded = _embedded_ipv4(address)
        if address.ipv4_mapped is not None:
            return address_is_public(address.ipv4_mapped)
        if any(not address_is_public(inner) for inner in embedded):
            return False
        if embedded:  # NAT64 and friends are "reserved" to Python: judged by what they carry
            return True
    return address.is_global and not (
        address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
        or (address.version == 6 and address.is_site_local)
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: list[str]


def target_addresses(url: str) -> Target:
    """Check `url` against the SSRF guard and resolve it: raises TargetRefused, or returns the
    addresses (all of them public) to connect to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(_("La dirección no es válida.")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused(_("La dirección debe empezar por https://."))
    if scheme == "http" and not _allow_http():
        raise TargetRefused(_("Solo se permiten direcciones https://."))
    if parts.username or parts.password:
        raise TargetRefused(_("La dirección no puede llevar usuario ni contraseña."))
    host = parts.hostname
    if not host:
        raise TargetRefused(_("La dirección no tiene servidor."))
    port = port or (443 if scheme == "https" else 80)
    try:
        resolved = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(_("No se encontró el servidor «%(host)s».") % {"host": host}) from exc
    if not resolved:
        raise TargetRefused(_("No se encontró el servidor «%(host)s».") % {"host": host})
    allowed_for_tests = set(getattr(settings, "WEBHOOK_ALLOWED_ADDRESSES_FOR_TESTS", ()))
    addresses = []
    for text in resolved:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if f"{address}:{port}" not in allowed_for_tests and not address_is_public(address):
            raise TargetRefused(
                _(
                    "«%(host)s» apunta a una dirección que no es pública (%(address)s): "
                    "solo se envía a direcciones públicas."
                )
                % {"host": host, "address": address}
            )
        addresses.append(str(address))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


# Signing ----------------------------------------------------------------------------------------


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{msg_id}.{timestamp}.{body}", keyed with the secret's
    bytes (the base64 after "whsec_"), as the Standard Webhooks specification says."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def event_body(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def request_headers(
    endpoint: WebhookEndpoint, event: WebhookEvent, body: bytes, *, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    signatures = [signature(endpoint.secret, event.id, timestamp, body)]
    if endpoint.previous_secret and (endpoint.previous_secret_until or now) > now:
        signatures.append(signature(endpoint.previous_secret, event.id, timestamp, body))
    return {
        "content-type": "application/json",
        "user-agent": "CRM-Webhooks/1",
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


# The outbox -------------------------------------------------------------------------------------


def _queue(delivery_ids: Iterable[int], *, countdown: float | None = None) -> None:
    for pk in delivery_ids:
        enqueue_on_commit(DELIVER_TASK, [pk], countdown=countdown)


def webhook_emit(event_type: str, payload: dict) -> WebhookEvent | None:
    """Tell the endpoints subscribed to `event_type` of a change, in the caller's transaction.

    One query when nobody listens (the usual case); otherwise the event, its deliveries and
    their tasks, all committed or rolled back with the change.
    """
    endpoints = [
        pk
        for pk, events in WebhookEndpoint.objects.filter(active=True).values_list("pk", "events")
        if event_type in events
    ]
    if not endpoints:
        return None
    return _event_create(event_type, payload, endpoints)


def _event_create(event_type: str, payload: dict, endpoint_ids: list[int]) -> WebhookEvent:
    now = timezone.now()
    event = WebhookEvent.objects.create(
        type=event_type, payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint_id=pk, event=event, next_attempt_at=now, queued_at=now)
        for pk in endpoint_ids
    )
    _queue(d.pk for d in deliveries)
    return event


# Sending ----------------------------------------------------------------------------------------


def _connect_to(addresses: list[str]):
    """http.client's connection factory, pinned to the addresses the guard checked."""

    def create_connection(address, timeout=None, source_address=None):
        error: OSError | None = None
        for ip in addresses:
            try:
                return socket.create_connection((ip, address[1]), timeout, source_address)
            except OSError as exc:
                error = exc
        raise error or OSError("no address")

    return create_connection


def http_post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to the checked target and return the response's status code."""
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT)
    connection._create_connection = _connect_to(target.addresses)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # what it says is not kept; read a little to end cleanly
        return response.status
    finally:
        connection.close()


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take the delivery for this worker if it is due, open and free, counting the attempt."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(
                Q(locked_until__isnull=True) | Q(locked_until__lt=now),
                pk=delivery_id,
                status__in=OPEN,
                next_attempt_at__lte=now + timedelta(seconds=1),
                endpoint__active=True,
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.locked_until = now + LEASE
        delivery.save(update_fields=["attempts", "last_attempt_at", "locked_until"])
    return delivery


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Make one attempt at a delivery if it is due: True if it is now delivered.

    Harmless to run twice or at once in two workers: only the one that claims it sends."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return False
    endpoint, event = delivery.endpoint, delivery.event
    status_code, error = None, ""
    try:
        target = target_addresses(endpoint.url)
        body = event_body(event)
        status_code = http_post(target, body, request_headers(endpoint, event, body, now=now))
    except TargetRefused as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException) as exc:  # refused, timed out, TLS, garbled
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if status_code is not None and not 200 <= status_code < 300:
        error = _("El receptor respondió %(code)s.") % {"code": status_code}
    return _record(delivery.pk, now=now, status_code=status_code, error=error[:ERROR_MAX])


def _record(delivery_id: int, *, now: datetime, status_code: int | None, error: str) -> bool:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        delivery.last_status_code = status_code
        delivery.last_error = error
        delivery.locked_until = None
        if not error:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.save()
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
            return True
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.ABANDONED
            delivery.next_attempt_at = None
            delivery.queued_at = None
        else:
            delay = RETRY_DELAYS[delivery.attempts - 1]
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = now + delay
            if delay <= COUNTDOWN_UP_TO:
                delivery.queued_at = delivery.next_attempt_at
                _queue([delivery.pk], countdown=delay.total_seconds())
            else:
                delivery.queued_at = None  # the beat job queues it when it is due
        delivery.save()
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        elif endpoint.active and now - endpoint.failing_since >= DISABLE_AFTER:
            _disable_failing(endpoint, now=now, error=error)
    return False


def _disable_failing(endpoint: WebhookEndpoint, *, now: datetime, error: str) -> None:
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = _(
        "Desactivado automáticamente: falla desde hace más de un día. Último error: %(error)s"
    ) % {"error": error}
    endpoint.disabled_reason = endpoint.disabled_reason[:ERROR_MAX]
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    audit(
        actor=None,
        action=AuditEvent.Action.UPDATE,
        target=endpoint,
        detail={"webhook": "disabled", "reason": "failing"},
    )
    transaction.on_commit(lambda: _email_disabled(endpoint, error), robust=True)


def _email_disabled(endpoint: WebhookEndpoint, error: str) -> None:
    """Tell the endpoint's creator (or, without one, the administrators) it was disabled."""
    creator = endpoint.created_by
    if creator is not None and creator.is_active and creator.email:
        recipients = [creator.email]
    else:
        recipients = list(
            User.objects.filter(is_active=True)
            .filter(Q(role=Role.ADMINISTRADOR) | Q(is_superuser=True))
            .exclude(email="")
            .values_list("email", flat=True)
        )
    if not recipients:
        return
    link = settings.SITE_URL.rstrip("/") + reverse("crm:webhook-detail", args=[endpoint.pk])
    paragraphs = [
        _("Hola:"),
        _(
            "El webhook %(url)s ha fallado sin interrupción durante más de un día y se ha "
            "desactivado: el CRM ha dejado de enviarle eventos."
        )
        % {"url": endpoint.url},
        _("Último error: %(error)s") % {"error": error},
        _(
            "Cuando el receptor vuelva a funcionar, actívalo de nuevo en %(link)s; los eventos "
            "pendientes se enviarán entonces."
        )
        % {"link": link},
    ]
    send_mail(
        _("Webhook desactivado: %(endpoint)s") % {"endpoint": endpoint},
        "\n\n".join(paragraphs),
        None,
        recipients,
    )


def webhooks_due(*, now: datetime | None = None) -> int:
    """Queue the deliveries that are due and have no task on its way (a beat job)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                Q(locked_until__isnull=True) | Q(locked_until__lt=now),
                Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER),
                status__in=OPEN,
                next_attempt_at__lte=now,
                endpoint__active=True,
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:DUE_BATCH]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=now)
        _queue(ids)
    return len(ids)


def retention_days() -> int:
    return settings.WEBHOOK_RETENTION_DAYS


def webhook_events_prune(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Remove the events older than the retention period whose deliveries are all over (a beat job).

    An event with a delivery still open (pending, or failed and to be retried, also on a
    disabled endpoint that an administrator may activate again) is kept whatever its age; so is
    everything younger than WEBHOOK_RETENTION_DAYS, which the delivery log shows. Deleted in
    batches, each its own transaction, so the job never holds a long lock on the outbox.
    """
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(
                WebhookEvent.objects.filter(created_at__lt=cutoff)
                .exclude(deliveries__status__in=OPEN)
                .order_by("created_at")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return removed
            WebhookDelivery.objects.filter(event_id__in=ids).delete()
            WebhookEvent.objects.filter(pk__in=ids).delete()
        removed += len(ids)


# Administration (crm.core.views_webhooks) ----------------------------------------------------


def _check_admin(actor: User) -> None:
    if not actor.is_admin_role:
        raise ValidationError(_("Solo un administrador gestiona los webhooks."))


def _clean(*, url: str, description: str, events: list[str]) -> tuple[str, str, list[str]]:
    url = (url or "").strip()
    try:
        target_addresses(url)
    except TargetRefused as exc:
        raise ValidationError({"url": str(exc)}) from exc
    chosen = [t.value for t in SUBSCRIBABLE if t.value in set(events or [])]
    if not chosen:
        raise ValidationError({"events": _("Elige al menos un evento.")})
    return url, (description or "").strip(), chosen


@transaction.atomic
def webhook_endpoint_create(
    *, actor: User, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    _check_admin(actor)
    url, description, events = _clean(url=url, description=description, events=events)
    endpoint = WebhookEndpoint(url=url, description=description, events=events, created_by=actor)
    endpoint.full_clean()
    endpoint.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, target=endpoint, detail={"url": url})
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, actor: User, endpoint: WebhookEndpoint, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    _check_admin(actor)
    url, description, events = _clean(url=url, description=description, events=events)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.url, endpoint.description, endpoint.events = url, description, events
    endpoint.full_clean()
    endpoint.save(update_fields=["url", "description", "events"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=endpoint,
        detail={"url": url, "events": events},
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_set_active(
    *, actor: User, endpoint: WebhookEndpoint, active: bool
) -> WebhookEndpoint:
    """Disable (nothing is sent; deliveries wait) or enable again (the failure count restarts
    and what waited is sent)."""
    _check_admin(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.active == active:
        return endpoint
    endpoint.active = active
    endpoint.failing_since = None
    if active:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        WebhookDelivery.objects.filter(endpoint=endpoint, status__in=OPEN).update(queued_at=None)
    else:
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = _("Desactivado por %(user)s.") % {"user": actor}
    endpoint.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=endpoint,
        detail={"webhook": "enabled" if active else "disabled"},
    )
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; the old one signs too (a second signature) for ROTATION_GRACE."""
    _check_admin(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + ROTATION_GRACE
    endpoint.secret = webhook_secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    audit(
        actor=actor, action=AuditEvent.Action.UPDATE, target=endpoint, detail={"secret": "rotated"}
    )
    return endpoint


@transaction.atomic
def webhook_send_test(*, actor: User, endpoint: WebhookEndpoint) -> WebhookEvent:
    """A `webhook.test` event to this endpoint only, sent like any other."""
    _check_admin(actor)
    if not endpoint.active:
        raise ValidationError(_("Activa el webhook antes de enviarle una prueba."))
    return _event_create(
        WebhookEventType.TEST,
        {"endpoint_id": endpoint.pk, "message": _("Evento de prueba enviado desde el CRM.")},
        [endpoint.pk],
    )


@transaction.atomic
def webhook_delivery_retry(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Try a delivery again now (one more attempt, also after it was abandoned)."""
    _check_admin(actor)
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        raise ValidationError(_("Esta entrega ya se entregó: no se envía dos veces."))
    if delivery.locked_until is not None and delivery.locked_until > now:
        raise ValidationError(_("Esta entrega se está enviando en este momento."))
    if not delivery.endpoint.active:
        raise ValidationError(_("Activa el webhook antes de reintentar sus entregas."))
    if delivery.status == WebhookDelivery.Status.ABANDONED:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.next_attempt_at = now
    delivery.queued_at = now
    delivery.save(update_fields=["status", "next_attempt_at", "queued_at"])
    _queue([delivery.pk])
    return delivery
