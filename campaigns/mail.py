"""One campaign message as it leaves the building: headers, Message-ID and DKIM signature.

The worker renders the content (campaigns.content) and hands the result here. Every message
carries the RFC 2369/8058 unsubscribe headers (mail clients show a "Darse de baja" button that
POSTs to the one-click endpoint), a Message-ID of our own domain (stored in the ledger, so a
bounce or a complaint finds its row), and, when a key is configured, a DKIM signature made over
the exact bytes the SMTP backend will send.
"""

import functools
import smtplib
from collections.abc import Callable
from email.utils import make_msgid
from pathlib import Path

import dkim
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address

from campaigns import links
from campaigns.content import RenderedMessage, sender

# Signed when present; From and Subject are required by RFC 6376, the rest keep a resigned or
# rewritten copy from passing as ours.
DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


@functools.cache
def _dkim_key(path: str) -> bytes:
    return Path(path).read_bytes()


def dkim_configured() -> bool:
    return bool(
        settings.CAMPAIGN_DKIM_DOMAIN
        and settings.CAMPAIGN_DKIM_SELECTOR
        and settings.CAMPAIGN_DKIM_KEY_FILE
    )


class CampaignEmail(EmailMultiAlternatives):
    """A message that signs itself with DKIM when serialised (only SMTP-like backends serialise;
    an ESP backend reads the fields instead and signs on its side)."""

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        if not dkim_configured():
            return msg
        signature = dkim.sign(
            msg.as_bytes(linesep="\r\n"),
            selector=settings.CAMPAIGN_DKIM_SELECTOR.encode(),
            domain=settings.CAMPAIGN_DKIM_DOMAIN.encode(),
            privkey=_dkim_key(settings.CAMPAIGN_DKIM_KEY_FILE),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h for h in DKIM_HEADERS if msg.get(h.decode()) is not None],
        )
        name, _sep, value = signature.decode().partition(":")
        # Relaxed header canonicalisation: the folding the email package adds does not matter.
        msg[name] = " ".join(value.split())
        return msg


def message_domain(campaign) -> str:
    """The right-hand side of our Message-IDs: the DKIM domain, else the sender's domain."""
    if settings.CAMPAIGN_DKIM_DOMAIN:
        return settings.CAMPAIGN_DKIM_DOMAIN
    address = campaign.from_email or settings.CAMPAIGN_FROM_EMAIL
    return address.rpartition("@")[2] or "localhost"


def unsubscribe_headers(send_id: int) -> dict[str, str]:
    """List-Unsubscribe (the https one-click link, and a mailto when configured) and RFC 8058's
    List-Unsubscribe-Post, which tells the client a POST to the link is enough."""
    targets = [f"<{links.unsubscribe_url(send_id)}>"]
    if settings.CAMPAIGN_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.CAMPAIGN_UNSUBSCRIBE_MAILTO}?subject=baja>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def build_message(
    *,
    campaign,
    send_id: int,
    to: str,
    rendered: RenderedMessage,
    connection=None,
    domain: str | None = None,
) -> CampaignEmail:
    """The message of ledger row `send_id`; its Message-ID is in `message.extra_headers`."""
    message_id = make_msgid(idstring=f"c{campaign.pk}.s{send_id}", domain=domain or "localhost")
    reply_to = campaign.reply_to or settings.CAMPAIGN_REPLY_TO
    headers = {
        "Message-ID": message_id,
        "Precedence": "bulk",
        "X-Auto-Response-Suppress": "OOF, AutoReply",
        **unsubscribe_headers(send_id),
    }
    message = CampaignEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender(campaign),
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    # Read by anymail ESP backends (ignored by SMTP): the webhooks name the ledger row.
    message.metadata = {"send_id": str(send_id), "campaign_id": str(campaign.pk)}
    message.tags = ["campana"]
    return message


def sender_for(connection) -> Callable[[CampaignEmail], None]:
    """How the worker hands one message to an open `connection` (raising what it raises).

    Django's SMTP backend gets the message's bytes straight on its smtplib connection: what
    `send_messages` does, less the per-message work that is the same for every message of a
    campaign (the sender's address re-encoded, the lock, the open check). Any other backend
    (an anymail ESP, the file backend, a test's fake) goes through `send_messages`.
    """
    if not isinstance(connection, SmtpBackend):
        return lambda message: connection.send_messages([message])
    encoded: dict[str, str] = {}

    def address(value: str, encoding: str) -> str:
        if value.isascii() and "\n" not in value and "\r" not in value and "<" not in value:
            return value  # a bare ASCII address: what sanitize_address would return
        key = f"{encoding}:{value}"
        if key not in encoded:
            encoded[key] = sanitize_address(value, encoding)
        return encoded[key]

    def deliver(message: CampaignEmail) -> None:
        smtp = connection.connection
        if smtp is None:
            raise smtplib.SMTPServerDisconnected("la conexión SMTP está cerrada")
        encoding = message.encoding or settings.DEFAULT_CHARSET
        smtp.sendmail(
            address(message.from_email, encoding),
            [address(to, encoding) for to in message.recipients()],
            message.message().as_bytes(linesep="\r\n"),
        )

    return deliver
