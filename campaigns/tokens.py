"""Signed tokens in the links of a campaign message: one per recipient and purpose.

A token names a ledger row (`Send`) or a contact and is signed with SECRET_KEY and a salt per
purpose, so a token for opens cannot be replayed as an unsubscribe, and no one can forge one for
another recipient. They never expire: an unsubscribe link must work as long as the message
exists. A bad token raises `BadToken`; the public views answer it with 404 and change nothing.
"""

from django.core import signing

OPEN = "campaigns.open"
CLICK = "campaigns.click"
UNSUBSCRIBE = "campaigns.unsubscribe"
PREFERENCES = "campaigns.preferences"


class BadToken(Exception):
    pass


def _b62(number: int) -> str:
    return signing.b62_encode(number)


def make(purpose: str, pk: int) -> str:
    return signing.Signer(salt=purpose).sign(_b62(pk))


def read(purpose: str, token: str) -> int:
    try:
        value = signing.Signer(salt=purpose).unsign(token)
        number = signing.b62_decode(value)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken(token) from exc
    if number <= 0:
        raise BadToken(token)
    return number
