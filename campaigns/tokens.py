"""Signed tokens in the links of a campaign message: one per recipient and purpose.

A token names a ledger row (`Send`) or a contact and is signed with SECRET_KEY and a salt per
purpose, so a token for opens cannot be replayed as an unsubscribe, and no one can forge one for
another recipient. They never expire: an unsubscribe link must work as long as the message
exists. A bad token raises `BadToken`; the public views answer it with 404 and change nothing.
"""

import base64
import functools
import hashlib
import hmac

from django.conf import settings
from django.core import signing
from django.utils.encoding import force_bytes

OPEN = "campaigns.open"
CLICK = "campaigns.click"
UNSUBSCRIBE = "campaigns.unsubscribe"
PREFERENCES = "campaigns.preferences"


class BadToken(Exception):
    pass


def _b62(number: int) -> str:
    return signing.b62_encode(number)


@functools.lru_cache(maxsize=16)
def _keyed_hmac(purpose: str, secret) -> "hmac.HMAC":
    """HMAC-SHA256 keyed as `signing.Signer(salt=purpose)` keys it (salted_hmac derives the key
    from salt and secret with one hash: done once here instead of for every token)."""
    key = hashlib.sha256(force_bytes(f"{purpose}signer") + force_bytes(secret)).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def make(purpose: str, pk: int) -> str:
    """The token of `pk` for `purpose`: exactly `signing.Signer(salt=purpose).sign(b62(pk))`
    (so `read` and Django's signer accept it), with the keyed HMAC reused: a campaign message
    carries four tokens, and building the signer and deriving its key each time was a tenth
    of a worker's time per message."""
    value = _b62(pk)
    mac = _keyed_hmac(purpose, settings.SECRET_KEY).copy()
    mac.update(value.encode())
    signature = base64.urlsafe_b64encode(mac.digest()).strip(b"=").decode()
    return f"{value}:{signature}"


def read(purpose: str, token: str) -> int:
    try:
        value = signing.Signer(salt=purpose).unsign(token)
        number = signing.b62_decode(value)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken(token) from exc
    if number <= 0:
        raise BadToken(token)
    return number


# --- Sign-up forms: tokens that expire ----------------------------------------------------------

# The token a sign-up form's page carries (the form must have been fetched from us lately), the
# one of its embeddable snippet (pasted once on a website, so it lives longer), and the link of
# the confirmation email. Each names one row and is signed with a timestamp.
SIGNUP_PAGE = "campaigns.signup.page"
SIGNUP_EMBED = "campaigns.signup.embed"
SIGNUP_CONFIRM = "campaigns.signup.confirm"


def make_timed(purpose: str, pk: int) -> str:
    return signing.TimestampSigner(salt=purpose).sign(_b62(pk))


def read_timed(purpose: str, token: str, *, max_age: float) -> int:
    """The id a timed token names; BadToken if forged, of another purpose, or older than
    `max_age` seconds."""
    try:
        value = signing.TimestampSigner(salt=purpose).unsign(token, max_age=max_age)
        number = signing.b62_decode(value)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken(token) from exc
    if number <= 0:
        raise BadToken(token)
    return number
