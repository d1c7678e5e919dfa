"""Two-factor sign-in in tests: an authenticator for a user, its codes, and a test client signed
in with both steps (what `client_for` gives the roles that must use it)."""

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.core.mfa import AUTHENTICATOR_NAME, mfa_required


def authenticator(user, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=confirmed)


def totp_code(key: bytes) -> str:
    """The six digits an authenticator app shows now for this secret."""
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time()
    return f"{totp.token():06d}"


def next_code(device: TOTPDevice) -> str:
    """The code of the time step after the last one the device accepted: the next code its app
    shows, and one it accepts whenever within a minute of that (a code it took is refused), so a
    test does not depend on a 30-second boundary falling between two steps of it."""
    device.refresh_from_db()
    return f"{hotp(device.bin_key, device.last_t + 1, digits=device.digits):06d}"


def sign_in(client: Client, user) -> Client:
    """force_login, and for a user who must use two steps, an authenticator this session has
    passed (as the code page leaves it)."""
    client.force_login(user)
    if mfa_required(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or authenticator(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
