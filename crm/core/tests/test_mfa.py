"""The two-factor sign-in services (crm.core.mfa): setting it up, codes, turning it off."""

from base64 import b32decode
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.core import mfa
from crm.core.models import AuditEvent, Role
from crm.core.tests.factories import UserFactory
from crm.core.tests.mfa import next_code, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_device_throttling(settings):
    # django-otp makes a device wait 1, 2, 4… s after a wrong code; the test of that sets it back.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def enabled(user) -> tuple[TOTPDevice, list[str]]:
    key = mfa.mfa_new_key()
    return mfa.mfa_enable(user=user, key=key, code=totp_code(bytes.fromhex(key)))


def test_required_for_administrators_and_superusers_only(settings, rep, manager, admin_user):
    assert mfa.mfa_required(admin_user)
    assert mfa.mfa_required(UserFactory(role=Role.VENDEDOR, is_superuser=True))
    assert not mfa.mfa_required(rep)
    assert not mfa.mfa_required(manager)
    settings.MFA_REQUIRED_ROLES = ["administrador", "gerente"]
    assert mfa.mfa_required(manager)


def test_the_secret_is_the_key_in_base32_and_the_qr_code_is_inline_svg_without_style(rep):
    device = mfa.mfa_setup_device(user=rep, key=mfa.mfa_new_key())
    secret = mfa.mfa_secret(device)
    assert b32decode(secret.replace(" ", "")) == device.bin_key
    assert all(len(group) == 4 for group in secret.split())
    svg = mfa.mfa_qr_svg(device)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg and "href" not in svg
    assert "<title>Código QR para la aplicación de autenticación</title>" in svg
    assert "issuer=CRM" in device.config_url and "vendedor" in device.config_url
    assert not TOTPDevice.objects.exists()  # nothing is saved before a code confirms it


def test_enable_saves_a_confirmed_device_and_ten_recovery_codes(rep):
    device, codes = enabled(rep)
    assert mfa.mfa_enabled(rep)
    assert mfa.mfa_authenticator(rep) == device
    assert device.confirmed and device.last_t >= 0
    assert len(codes) == len(set(codes)) == mfa.RECOVERY_CODES
    assert all(len(code) == 8 for code in codes)
    stored = StaticToken.objects.filter(device__user=rep).values_list("token", flat=True)
    assert sorted(stored) == sorted(codes)
    assert mfa.mfa_recovery_codes_left(rep) == 10
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_ENABLE)
    assert event.actor == rep and event.target == f"crm.user:{rep.pk}"


@pytest.mark.parametrize("code", ["000000", "12345", "abcdef", "", "1234567"])
def test_enable_with_a_wrong_code_saves_nothing(rep, code):
    key = mfa.mfa_new_key()
    if code == "000000" and totp_code(bytes.fromhex(key)) == code:
        key = mfa.mfa_new_key()
    with pytest.raises(ValidationError, match="El código no es correcto"):
        mfa.mfa_enable(user=rep, key=key, code=code)
    assert not TOTPDevice.objects.exists()
    assert not StaticDevice.objects.exists()
    assert not AuditEvent.objects.exists()


def test_enable_twice_is_refused_and_keeps_the_first_device(rep):
    device, codes = enabled(rep)
    with pytest.raises(ValidationError, match="ya está activada"):
        enabled(rep)
    assert list(TOTPDevice.objects.filter(user=rep)) == [device]
    assert mfa.mfa_recovery_codes_left(rep) == 10


def test_a_code_typed_with_spaces_is_read(rep):
    key = mfa.mfa_new_key()
    code = totp_code(bytes.fromhex(key))
    device, _codes = mfa.mfa_enable(user=rep, key=key, code=f" {code[:3]} {code[3:]} ")
    assert device.pk


def test_the_code_that_confirmed_the_device_does_not_sign_in(rep):
    key = mfa.mfa_new_key()
    code = totp_code(bytes.fromhex(key))
    mfa.mfa_enable(user=rep, key=key, code=code)
    assert mfa.mfa_verify(user=rep, code=code).device is None


def test_verify_accepts_the_next_code_once(rep):
    device, _codes = enabled(rep)
    code = next_code(device)
    verification = mfa.mfa_verify(user=rep, code=code)
    assert verification.device == device and not verification.recovery
    assert mfa.mfa_verify(user=rep, code=code).device is None  # never twice


def test_verify_refuses_a_wrong_code_and_counts_it_on_the_device(rep):
    device, _codes = enabled(rep)
    wrong = "000000" if next_code(device) != "000000" else "111111"
    assert mfa.mfa_verify(user=rep, code=wrong).device is None
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_after_a_wrong_code_the_device_makes_the_next_try_wait(settings, rep):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    device, _codes = enabled(rep)
    right = next_code(device)
    assert mfa.mfa_verify(user=rep, code=f"{(int(right) + 1) % 10**6:06d}").device is None
    verification = mfa.mfa_verify(user=rep, code=right)
    assert verification.throttled and verification.device is None


def test_a_recovery_code_signs_in_once_and_is_audited(rep):
    _device, codes = enabled(rep)
    verification = mfa.mfa_verify(user=rep, code=codes[3], ip="10.0.0.7")
    assert verification.recovery
    assert mfa.mfa_recovery_codes_left(rep) == 9
    assert not StaticToken.objects.filter(token=codes[3]).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_RECOVERY)
    assert event.actor == rep and event.detail == {"left": 9} and event.ip_address == "10.0.0.7"
    assert mfa.mfa_verify(user=rep, code=codes[3]).device is None  # used up
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_RECOVERY).count() == 1


def test_a_recovery_code_typed_in_capitals_with_a_dash_is_read(rep):
    _device, codes = enabled(rep)
    typed = f"{codes[0][:4].upper()}-{codes[0][4:].upper()}"
    assert mfa.mfa_verify(user=rep, code=typed).recovery


def test_another_users_recovery_code_does_not_sign_in(rep, other_rep):
    _device, codes = enabled(rep)
    enabled(other_rep)
    assert mfa.mfa_verify(user=other_rep, code=codes[0]).device is None
    assert mfa.mfa_recovery_codes_left(rep) == 10


def test_without_two_factor_no_code_is_accepted(rep):
    assert mfa.mfa_verify(user=rep, code="123456").device is None
    assert mfa.mfa_verify(user=rep, code="abcdefgh").device is None


def test_regenerating_replaces_every_recovery_code(rep):
    _device, old = enabled(rep)
    mfa.mfa_verify(user=rep, code=old[0])
    new = mfa.mfa_recovery_codes_regenerate(user=rep, ip="10.0.0.7")
    assert len(new) == 10 and not set(new) & set(old)
    assert mfa.mfa_recovery_codes_left(rep) == 10
    assert mfa.mfa_verify(user=rep, code=old[1]).device is None
    assert mfa.mfa_verify(user=rep, code=new[1]).recovery
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_CODES, actor=rep).count() == 1


def test_regenerating_without_two_factor_is_refused(rep):
    with pytest.raises(ValidationError):
        mfa.mfa_recovery_codes_regenerate(user=rep)
    assert not StaticDevice.objects.exists()


def test_disable_with_a_current_code_removes_the_devices(rep):
    device, _codes = enabled(rep)
    mfa.mfa_disable(user=rep, code=next_code(device), ip="10.0.0.7")
    assert not mfa.mfa_enabled(rep)
    assert not TOTPDevice.objects.filter(user=rep).exists()
    assert not StaticDevice.objects.filter(user=rep).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_DISABLE, actor=rep).exists()


def test_disable_with_a_recovery_code(rep):
    _device, codes = enabled(rep)
    mfa.mfa_disable(user=rep, code=codes[0])
    assert not mfa.mfa_enabled(rep)


def test_disable_with_a_wrong_code_changes_nothing(rep):
    device, _codes = enabled(rep)
    with pytest.raises(ValidationError, match="no es correcto"):
        mfa.mfa_disable(user=rep, code="abcdefgh")
    assert mfa.mfa_enabled(rep) and mfa.mfa_recovery_codes_left(rep) == 10
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.MFA_DISABLE).exists()


def test_an_administrator_may_not_disable_it(admin_user):
    device, codes = enabled(admin_user)
    with pytest.raises(ValidationError, match="no se puede desactivar"):
        mfa.mfa_disable(user=admin_user, code=codes[0])
    assert mfa.mfa_enabled(admin_user) and mfa.mfa_recovery_codes_left(admin_user) == 10


def test_reset_removes_an_administrators_devices_for_a_lost_phone(admin_user):
    enabled(admin_user)
    mfa.mfa_reset(user=admin_user)
    assert not mfa.mfa_enabled(admin_user)
    assert not StaticDevice.objects.exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_DISABLE)
    assert event.actor is None and event.detail == {"reset": True}


def test_the_reset_command_for_when_no_administrator_can_sign_in(admin_user):
    enabled(admin_user)
    out = StringIO()
    call_command("mfa_reset", admin_user.username, stdout=out)
    assert not mfa.mfa_enabled(admin_user)
    assert "administrador" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("mfa_reset", "nadie")
