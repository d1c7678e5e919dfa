"""An administrator's first sign-in in a real browser: sent to set up two-factor sign-in before
anything else, they add the account to an authenticator (here, the code computed from the secret
the page shows), keep the recovery codes, then sign in with a code and once with a recovery code.
"""

import re
from base64 import b32decode
from pathlib import Path

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from crm.core.models import AuditEvent, User
from crm.core.tests.mfa import next_code, totp_code

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


@pytest.fixture
def administrator(transactional_db) -> User:
    return User.objects.create_user(
        username="adriana",
        password=PASSWORD,
        first_name="Adriana",
        last_name="Torres Villalobos",
        role="administrador",
        is_staff=True,
    )


def password_step(page: Page, user: User) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()


def sign_out(page: Page, user: User) -> None:
    page.get_by_role("button", name=user.first_name).click()
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page).to_have_url(re.compile(r"/entrar/$"))


def test_administrator_enrols_then_signs_in_with_a_code_and_a_recovery_code(
    page: Page, administrator, tmp_path: Path
):
    password_step(page, administrator)
    expect(page).to_have_url(re.compile(r"/seguridad/dos-pasos/activar/$"))
    expect(page.locator(".alert-warning")).to_contain_text("Tu rol exige")
    page.goto("/cuentas/")  # nothing else until it is set up
    expect(page).to_have_url(re.compile(r"/seguridad/dos-pasos/activar/$"))

    expect(
        page.get_by_role("img", name="Código QR para la aplicación de autenticación")
    ).to_be_visible()
    secret = page.locator("#mfa-secret").inner_text()
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    page.fill("#id_code", totp_code(key))
    page.get_by_role("button", name="Activar", exact=True).click()

    expect(page).to_have_url(re.compile(r"/seguridad/dos-pasos/codigos/$"))
    expect(page.locator(".alert-success")).to_contain_text("Verificación en dos pasos activada.")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Descargar (.txt)").click()
    saved = tmp_path / "codigos.txt"
    download_info.value.save_as(saved)
    assert all(code in saved.read_text(encoding="utf-8") for code in codes)
    page.get_by_role("button", name="Ya los he guardado").click()
    expect(page).to_have_url(re.compile(r"/seguridad/$"))
    expect(page.locator("#mfa-status")).to_contain_text("Activada")
    expect(page.locator("#mfa-status")).to_contain_text("Te quedan 10 códigos de recuperación.")
    sign_out(page, administrator)

    # Again, with the app's code: the password alone is not enough.
    password_step(page, administrator)
    expect(page).to_have_url(re.compile(r"/entrar/codigo/$"))
    page.goto("/cuentas/")
    expect(page).to_have_url(re.compile(r"/entrar/\?next=/cuentas/$"))
    password_step(page, administrator)
    device = TOTPDevice.objects.get(user=administrator, confirmed=True)
    assert device.bin_key == key  # the secret shown is the one saved
    page.fill("#id_code", next_code(device))  # the enrolment's code is used: the next one
    page.get_by_role("button", name="Verificar").click()
    expect(page.locator("#global-search")).to_be_visible()
    page.goto("/cuentas/")
    expect(page).to_have_url(re.compile(r"/cuentas/$"))
    sign_out(page, administrator)

    # Without the phone: a recovery code, used up.
    password_step(page, administrator)
    page.fill("#id_code", codes[0])
    page.get_by_role("button", name="Verificar").click()
    expect(page.locator("#global-search")).to_be_visible()
    expect(page.locator(".alert-warning")).to_contain_text("te quedan 9")

    assert AuditEvent.objects.filter(action="mfa_enable", actor=administrator).count() == 1
    assert AuditEvent.objects.filter(action="mfa_recovery", actor=administrator).count() == 1
    assert AuditEvent.objects.filter(action="login", actor=administrator).count() == 3
