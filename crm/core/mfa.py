"""Two-factor sign-in (issue 13 §6): an authenticator app and one-time recovery codes.

Built on django-otp: a user's authenticator is a `TOTPDevice`, saved only once confirmed with
a code it produced (its secret waits in the session until then); the recovery codes are the
tokens of one `StaticDevice`, each deleted as it is used. Two-factor sign-in is on for a user
when they have a confirmed authenticator. It is optional, except for MFA_REQUIRED_ROLES and
superusers, who may not turn it off and are sent to set it up before anything else
(crm.core.middleware.MFARequiredMiddleware).

The second step of signing in (crm.core.views_mfa.LoginCodeView) and the account's security
pages call these services; django-otp's own throttling slows guessing on each device, and the
login's throttling (crm.core.throttling) counts every wrong code as a failed login.
"""

from __future__ import annotations

import re
import time
from base64 import b32encode
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from crm.core.audit import audit
from crm.core.models import AuditEvent, User

RECOVERY_CODES = 10
AUTHENTICATOR_NAME = "Aplicación de autenticación"
RECOVERY_NAME = "Códigos de recuperación"
TOTP_CODE_RE = re.compile(r"\d{6}")


def mfa_required(user: User) -> bool:
    """Whether this user must sign in with a second step (and may not turn it off)."""
    return user.is_superuser or user.role in settings.MFA_REQUIRED_ROLES


def mfa_authenticator(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator: two-factor sign-in is on when there is one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalize_code(code: str) -> str:
    """What the person typed, as stored: "123 456" and "ABCD-EFGH" are read as typed apart."""
    return re.sub(r"[\s-]", "", code or "").lower()


# Setting it up ---------------------------------------------------------------------------------


def mfa_new_key() -> str:
    """A new authenticator secret (hex, as TOTPDevice stores it). It is kept in the session
    while being set up, so that nothing is written before a code confirms it (and a reload
    shows the same QR code the person may already have scanned)."""
    return default_key()


def mfa_setup_device(*, user: User, key: str) -> TOTPDevice:
    """The authenticator being set up, unsaved: what the QR code and the secret are drawn from."""
    return TOTPDevice(user=user, key=key, name=AUTHENTICATOR_NAME, confirmed=False)


def mfa_secret(device: TOTPDevice) -> str:
    """The secret as an authenticator app asks for it when typed: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def mfa_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address of the device as a QR code, inline SVG markup drawn here (no
    service sees the secret, no image URL): presentation attributes only, no style, so the
    page's Content-Security-Policy allows it."""
    qr = segno.make(device.config_url, error="m", micro=False)
    return qr.svg_inline(
        scale=4,
        border=4,
        dark="#000",
        light="#fff",
        title=_("Código QR para la aplicación de autenticación"),
        svgclass="d-block mx-auto",
        lineclass=None,
    )


def mfa_enable(
    *, user: User, key: str, code: str, ip: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the authenticator being set up with a code it shows: it is saved, confirmed, and
    the user gets their recovery codes (returned: they are shown once). ValidationError on a
    wrong code, and nothing is written."""
    device = mfa_setup_device(user=user, key=key)
    code = normalize_code(code)
    # As TOTPDevice.verify_token checks, without a device row to count failures on: whoever is
    # here is signed in and holds the secret already.
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not (TOTP_CODE_RE.fullmatch(code) and totp.verify(int(code), device.tolerance)):
        raise ValidationError(
            _(
                "El código no es correcto. Comprueba la hora del teléfono y escribe el código "
                "actual."
            )
        )
    device.last_t = totp.t()  # that code may not be used again, to sign in
    device.drift = totp.drift
    device.confirmed = True
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one setup at a time
        if mfa_enabled(user):
            raise ValidationError(_("La verificación en dos pasos ya está activada."))
        TOTPDevice.objects.filter(user=user).delete()
        device.save()
        codes = _recovery_codes_replace(user)
        audit(actor=user, action=AuditEvent.Action.MFA_ENABLE, target=user, ip=ip)
    return device, codes


def _recovery_codes_replace(user: User) -> list[str]:
    static, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    StaticDevice.objects.filter(user=user).exclude(pk=static.pk).delete()
    static.token_set.all().delete()
    codes: list[str] = []
    while len(codes) < RECOVERY_CODES:
        token = StaticToken.random_token()
        if token not in codes:
            codes.append(token)
    StaticToken.objects.bulk_create(StaticToken(device=static, token=token) for token in codes)
    return codes


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: User, ip: str | None = None) -> list[str]:
    """New recovery codes in place of the old ones, which stop working at once."""
    if not mfa_enabled(user):
        raise ValidationError(_("La verificación en dos pasos no está activada."))
    codes = _recovery_codes_replace(user)
    audit(actor=user, action=AuditEvent.Action.MFA_CODES, target=user, ip=ip)
    return codes


# Signing in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    device: TOTPDevice | StaticDevice | None = None
    throttled: bool = False

    @property
    def recovery(self) -> bool:
        return isinstance(self.device, StaticDevice)


def mfa_verify(*, user: User, code: str, ip: str | None = None) -> Verification:
    """Check a code the user typed: their authenticator's, or one of their recovery codes, which
    is then used up (and audited). `throttled`: too many wrong codes just now; wait and retry."""
    code = normalize_code(code)
    if TOTP_CODE_RE.fullmatch(code):
        device = mfa_authenticator(user)
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not code:
        return Verification()
    allowed, _why = device.verify_is_allowed()
    if not allowed:
        return Verification(throttled=True)
    verified = verify_token(user, device.persistent_id, code)
    if verified is None:
        return Verification()
    if isinstance(verified, StaticDevice):
        audit(
            actor=user,
            action=AuditEvent.Action.MFA_RECOVERY,
            target=user,
            detail={"left": verified.token_set.count()},
            ip=ip,
        )
    return Verification(device=verified)


# Turning it off --------------------------------------------------------------------------------


def mfa_disable(*, user: User, code: str, ip: str | None = None) -> None:
    """The user turns two-factor sign-in off, proving it with a current code (or a recovery
    code). Refused to those who must use it."""
    if mfa_required(user):
        raise ValidationError(
            _("Tu rol exige la verificación en dos pasos: no se puede desactivar.")
        )
    if not mfa_enabled(user):
        raise ValidationError(_("La verificación en dos pasos no está activada."))
    verification = mfa_verify(user=user, code=code, ip=ip)
    if verification.throttled:
        raise ValidationError(_("Demasiados códigos incorrectos: espera unos segundos."))
    if verification.device is None:
        raise ValidationError(_("El código no es correcto."))
    with transaction.atomic():
        _devices_delete(user)
        audit(actor=user, action=AuditEvent.Action.MFA_DISABLE, target=user, ip=ip)


@transaction.atomic
def mfa_reset(*, user: User, actor: User | None = None) -> None:
    """Remove a user's authenticator and recovery codes for them (a lost phone): they sign in
    with their password alone, or, if their role requires it, set it up again on signing in."""
    _devices_delete(user)
    audit(actor=actor, action=AuditEvent.Action.MFA_DISABLE, target=user, detail={"reset": True})


def _devices_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
