"""One campaign message as it leaves the building: headers, Message-ID and DKIM signature.

The worker renders the content (campaigns.content) and hands the result here. Every message
carries the RFC 2369/8058 unsubscribe headers (mail clients show a "Darse de baja" button that
POSTs to the one-click endpoint), a Message-ID of our own domain (stored in the ledger, so a
bounce or a complaint finds its row), and, when a key is configured, a DKIM signature made over
the exact bytes the SMTP backend will send.
"""

import functools
import random
import re
import smtplib
import sys
from collections.abc import Callable
from email.policy import compat32
from email.utils import formatdate, make_msgid
from pathlib import Path

import dkim
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    forbid_multi_line_headers,
    sanitize_address,
    utf8_charset_qp,
)

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


def _dkim_signature(raw: bytes, present: Callable[[str], bool]) -> bytes:
    """The DKIM-Signature header line (folded, CRLF-terminated) for the message `raw`."""
    return dkim.sign(
        raw,
        selector=settings.CAMPAIGN_DKIM_SELECTOR.encode(),
        domain=settings.CAMPAIGN_DKIM_DOMAIN.encode(),
        privkey=_dkim_key(settings.CAMPAIGN_DKIM_KEY_FILE),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h for h in DKIM_HEADERS if present(h.decode())],
    )


class CampaignEmail(EmailMultiAlternatives):
    """A message that signs itself with DKIM when serialised (only SMTP-like backends serialise;
    an ESP backend reads the fields instead and signs on its side).

    `message()` is Django's MIME object (what the file backend and the tests read); the SMTP
    worker sends `wire_bytes()`, the same bytes made without the email package's generator.
    """

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        if not dkim_configured():
            return msg
        signature = _dkim_signature(
            msg.as_bytes(linesep="\r\n"), lambda name: msg.get(name) is not None
        )
        name, _sep, value = signature.decode().partition(":")
        # Relaxed header canonicalisation: the folding the email package adds does not matter.
        msg[name] = " ".join(value.split())
        return msg

    def wire_bytes(self) -> bytes:
        """The message as it goes on the wire (CRLF), DKIM-signed when configured.

        The same bytes as `message().as_bytes(linesep="\r\n")` for the shape `build_message`
        makes (a text body and one HTML alternative; the DKIM-Signature goes first instead of
        last), made directly: the email package's generator re-folds every header through
        `email.header.Header` and compiles a regular expression for each message's boundary,
        which was more than half of a worker's time per message. Any other shape (attachments,
        Cc, other alternatives, a charset other than UTF-8) goes through `message()`.
        """
        raw, names = _serialise(self)
        if raw is None:
            return self.message().as_bytes(linesep="\r\n")
        if dkim_configured():
            raw = _dkim_signature(raw, lambda name: name in names) + raw
        return raw


# Serialising a campaign message --------------------------------------------------------------

_CRLF = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE: every line ending becomes CRLF
# A header value compat32 writes unchanged when it fits on its line: printable ASCII words
# separated by single spaces (anything else is folded by the email package itself).
_PLAIN = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*\Z")
_POLICY = compat32.clone(linesep="\r\n")
_HEADER_LINE = 78  # compat32's max_line_length
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))  # email.generator.Generator's boundary width
_SKIP_EXTRA = frozenset({"from", "to", "cc", "reply-to"})  # set by EmailMessage.message()


def _fold(name: str, value: str) -> bytes:
    """`msg[name] = value` on Django's SafeMIME object, then the generator's compat32 folding."""
    if len(name) + 2 + len(value) <= _HEADER_LINE and _PLAIN.match(value):
        return f"{name}: {value}\r\n".encode("ascii")
    name, value = forbid_multi_line_headers(name, value, "utf-8")
    return _POLICY.fold_binary(name, value)


@functools.lru_cache(maxsize=256)
def _fold_cached(name: str, value: str) -> bytes:
    """`_fold` for the headers that are the same in every message of a campaign."""
    return _fold(name, value)


def _text_part(text: str, subtype: str) -> bytes:
    """A `SafeMIMEText(text, subtype, "utf-8")` part, serialised: 7bit or 8bit, or
    quoted-printable when a line is too long for SMTP (Django's rule, #22561)."""
    lines = text.splitlines()
    # No line can pass the limit in bytes when none passes a quarter of it in characters.
    if len(max(lines, key=len, default="")) * 4 > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT
        for line in lines
    ):
        cte = "quoted-printable"
        text = utf8_charset_qp.body_encode(text.encode("utf-8"))
    else:
        cte = "7bit" if text.isascii() else "8bit"
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"MIME-Version: 1.0\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    )
    text = _CRLF.sub("\r\n", text) if "\r" in text else text.replace("\n", "\r\n")
    return head.encode("ascii") + text.encode("utf-8")


def _boundary(parts: list[bytes]) -> str:
    """A random boundary as the email package makes one, never found in the parts."""
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="
    candidate, counter = boundary, 0
    while any(f"--{candidate}".encode() in part for part in parts):
        candidate = f"{boundary}.{counter}"
        counter += 1
    return candidate


def _serialise(message: "CampaignEmail") -> tuple[bytes | None, set[str]]:
    """(bytes, lower-case header names) of a text + HTML message; (None, …) for another shape."""
    extra = message.extra_headers
    lower = {name.lower() for name in extra}
    if (
        message.attachments
        or message.cc
        or not message.body
        or not message.to
        or message.content_subtype != "plain"
        or message.alternative_subtype != "alternative"
        or len(message.alternatives) != 1
        or message.alternatives[0][1] != "text/html"
        or not isinstance(message.alternatives[0][0], str)
        or (message.encoding or settings.DEFAULT_CHARSET).lower() != "utf-8"
        or "message-id" not in lower
        or lower & {"from", "to", "reply-to", "cc", "content-type", "mime-version"}
    ):
        return None, set()
    parts = [_text_part(message.body, "plain"), _text_part(message.alternatives[0][0], "html")]
    boundary = _boundary(parts)
    headers = [
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode("ascii"),
        b"MIME-Version: 1.0\r\n",
        _fold("Subject", str(message.subject)),
        _fold_cached("From", str(message.from_email)),
        _fold("To", ", ".join(str(v) for v in message.to)),
    ]
    names = {"content-type", "mime-version", "subject", "from", "to"}
    if message.reply_to:
        headers.append(_fold_cached("Reply-To", ", ".join(str(v) for v in message.reply_to)))
        names.add("reply-to")
    if "date" not in lower:
        headers.append(_fold("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
        names.add("date")
    for name, value in extra.items():
        if name.lower() in _SKIP_EXTRA:
            continue
        value = str(value)
        if name.lower() in ("message-id", "date", "list-unsubscribe"):
            headers.append(_fold(name, value))  # different in every message
        else:
            headers.append(_fold_cached(name, value))
        names.add(name.lower())
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = [b"\r\n", delimiter, parts[0], b"\r\n", delimiter, parts[1]]
    body.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return b"".join(headers + body), names


def message_domain(campaign) -> str:
    """The right-hand side of our Message-IDs: the DKIM domain, else the sender's domain."""
    if settings.CAMPAIGN_DKIM_DOMAIN:
        return settings.CAMPAIGN_DKIM_DOMAIN
    address = campaign.from_email or settings.CAMPAIGN_FROM_EMAIL
    return address.rpartition("@")[2] or "localhost"


def unsubscribe_headers(send_id: int, *, url: str | None = None) -> dict[str, str]:
    """List-Unsubscribe (the https one-click link, and a mailto when configured) and RFC 8058's
    List-Unsubscribe-Post, which tells the client a POST to the link is enough.

    `url`: the row's unsubscribe link when the caller has it already (the worker signed it for
    the body's footer); it must be `links.unsubscribe_url(send_id)`."""
    targets = [f"<{url or links.unsubscribe_url(send_id)}>"]
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
    unsubscribe_url: str | None = None,
) -> CampaignEmail:
    """The message of ledger row `send_id`; its Message-ID is in `message.extra_headers`.

    `unsubscribe_url`: the row's `links.unsubscribe_url(send_id)` when the caller has it."""
    message_id = make_msgid(idstring=f"c{campaign.pk}.s{send_id}", domain=domain or "localhost")
    reply_to = campaign.reply_to or settings.CAMPAIGN_REPLY_TO
    headers = {
        "Message-ID": message_id,
        "Precedence": "bulk",
        "X-Auto-Response-Suppress": "OOF, AutoReply",
        **unsubscribe_headers(send_id, url=unsubscribe_url),
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
            message.wire_bytes(),
        )

    return deliver
