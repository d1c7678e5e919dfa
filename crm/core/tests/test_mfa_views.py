"""Two-factor sign-in through the pages: the code step of signing in, the account's security
pages, and administrators sent to set it up before anything else."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.core import mfa
from crm.core.models import AuditEvent
from crm.core.tests.factories import PASSWORD
from crm.core.tests.mfa import authenticator, next_code, totp_code
from crm.core.views_mfa import NEW_CODES, PENDING, SETUP_KEY

pytestmark = pytest.mark.django_db

LOGIN = reverse("crm:login")
CODE = reverse("crm:login-code")
HOME = reverse("crm:home")
SECURITY = reverse("crm:security")
ENABLE = reverse("crm:mfa-enable")
CODES = reverse("crm:mfa-codes")
DOWNLOAD = reverse("crm:mfa-codes-download")
REGENERATE = reverse("crm:mfa-codes-regenerate")
DISABLE = reverse("crm:mfa-disable")


@pytest.fixture(autouse=True)
def _no_device_throttling(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def with_mfa(user) -> tuple[TOTPDevice, list[str]]:
    key = mfa.mfa_new_key()
    return mfa.mfa_enable(user=user, key=key, code=totp_code(bytes.fromhex(key)))


def password_step(client: Client, user, **extra):
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD, **extra})


def signed_in(client: Client):
    return "_auth_user_id" in client.session


def assert_template(response, name):
    assert name in [t.name for t in response.templates]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# The second step of signing in -------------------------------------------------------------


def test_without_two_factor_the_password_signs_in(client, rep):
    response = password_step(client, rep)
    assert response.status_code == 302 and response.url == HOME
    assert signed_in(client)


def test_with_two_factor_the_password_alone_does_not_sign_in(client, rep):
    with_mfa(rep)
    response = password_step(client, rep)
    assert response.status_code == 302 and response.url == CODE
    assert not signed_in(client)
    assert client.get(HOME).url.startswith(LOGIN)
    assert not AuditEvent.objects.filter(action="login").exists()
    page = client.get(CODE)
    assert page.status_code == 200
    assert_template(page, "registration/login_code.html")
    assert "Verificación en dos pasos" in page.text
    assert "no-store" in page["Cache-Control"]


def test_the_right_code_signs_in_verified(client, rep):
    device, _codes = with_mfa(rep)
    password_step(client, rep)
    response = client.post(CODE, {"code": next_code(device)})
    assert response.status_code == 302 and response.url == HOME
    assert signed_in(client)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert PENDING not in client.session
    assert AuditEvent.objects.filter(action="login", actor=rep).count() == 1
    assert client.get(HOME).status_code == 200


def test_a_wrong_code_is_a_failed_login(client, rep):
    device, _codes = with_mfa(rep)
    password_step(client, rep)
    wrong = f"{(int(next_code(device)) + 1) % 10**6:06d}"
    response = client.post(CODE, {"code": wrong})
    assert response.status_code == 200
    assert "El código no es correcto." in response.text
    assert not signed_in(client)
    attempt = AccessAttempt.objects.get()
    assert attempt.username == rep.username and attempt.failures_since_start == 1
    assert AuditEvent.objects.filter(action="login_failed", target=rep.username).count() == 1
    # The pending sign-in stays: the right code still works.
    response = client.post(CODE, {"code": next_code(device)})
    assert response.status_code == 302 and signed_in(client)


def test_a_recovery_code_signs_in_once(client, rep):
    _device, codes = with_mfa(rep)
    password_step(client, rep)
    response = client.post(CODE, {"code": codes[0]}, follow=True)
    assert signed_in(client)
    assert any("te quedan 9" in text for text in messages_of(response))
    assert AuditEvent.objects.filter(action="mfa_recovery", actor=rep).count() == 1
    client.post(reverse("crm:logout"))

    password_step(client, rep)
    response = client.post(CODE, {"code": codes[0]})
    assert response.status_code == 200 and "El código no es correcto." in response.text
    assert not signed_in(client)
    assert StaticToken.objects.filter(device__user=rep).count() == 9


def test_the_code_page_without_a_password_first_sends_to_login(client, rep):
    with_mfa(rep)
    response = client.get(CODE)
    assert response.status_code == 302 and response.url == LOGIN
    response = client.post(CODE, {"code": "123456"})
    assert response.status_code == 302 and response.url == LOGIN
    assert not signed_in(client)


def test_the_password_step_expires(client, rep):
    device, _codes = with_mfa(rep)
    password_step(client, rep)
    session = client.session
    session[PENDING] = {**session[PENDING], "at": session[PENDING]["at"] - 301}
    session.save()
    response = client.post(CODE, {"code": next_code(device)})
    assert response.status_code == 302 and response.url == LOGIN
    assert not signed_in(client)


def test_a_deactivated_user_cannot_finish_signing_in(client, rep):
    device, _codes = with_mfa(rep)
    password_step(client, rep)
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    response = client.post(CODE, {"code": next_code(device)})
    assert response.status_code == 302 and response.url == LOGIN
    assert not signed_in(client)


def test_the_password_step_gives_a_new_session_key(client, rep):
    with_mfa(rep)
    client.get(LOGIN)
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    password_step(client, rep)
    assert client.cookies["sessionid"].value != before


def test_next_survives_the_code_step(client, rep):
    device, _codes = with_mfa(rep)
    response = password_step(client, rep, next="/contactos/?q=ana")
    assert response.url == CODE
    response = client.post(CODE, {"code": next_code(device)})
    assert response.url == "/contactos/?q=ana"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "javascript:alert(1)"]
)
def test_next_off_this_site_is_refused_after_the_code_step_too(client, rep, target):
    device, _codes = with_mfa(rep)
    password_step(client, rep, next=target)
    response = client.post(CODE, {"code": next_code(device)})
    assert response.url == HOME


def test_the_admin_site_signs_in_through_the_crm(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url == f"{LOGIN}?next=/admin/"
    response = client.get("/admin/")
    assert response.status_code == 302


# Administrators must use it ------------------------------------------------------------------


def test_an_administrator_without_two_factor_is_sent_to_set_it_up(client, admin_user):
    response = password_step(client, admin_user)
    assert response.status_code == 302 and signed_in(client)
    for path in [HOME, SECURITY, reverse("accounts:account-list"), "/admin/", CODES, DISABLE]:
        response = client.get(path)
        assert response.status_code == 302 and response.url == ENABLE, path
    response = client.get(ENABLE)
    assert response.status_code == 200
    assert "Tu rol exige la verificación en dos pasos" in response.text
    assert f'href="{reverse("accounts:account-list")}"' not in response.text  # no menu yet


def test_an_unenrolled_administrator_may_still_sign_out_switch_language_and_get_static(
    client, admin_user
):
    password_step(client, admin_user)
    assert client.get("/static/css/crm.css").status_code == 200
    response = client.post(reverse("set_language"), {"language": "en", "next": ENABLE})
    assert response.status_code == 302 and response.url == ENABLE
    response = client.post(reverse("crm:logout"))
    assert response.status_code == 302 and not signed_in(client)


def test_an_administrator_enrols_then_uses_the_site(client, admin_user):
    password_step(client, admin_user)
    client.get(ENABLE)
    key = client.session[SETUP_KEY]
    response = client.post(ENABLE, {"code": totp_code(bytes.fromhex(key))})
    assert response.status_code == 302 and response.url == CODES
    assert mfa.mfa_enabled(admin_user)
    response = client.get(HOME)
    assert response.status_code == 200  # this session passed with the new device
    assert f'href="{reverse("accounts:account-list")}"' in response.text  # the menu is back


def test_an_administrator_session_that_skipped_the_code_is_ended(client, admin_user):
    authenticator(admin_user)
    client.force_login(admin_user)  # as a sign-in by any other way would leave it
    response = client.get(reverse("accounts:account-list"))
    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next={reverse('accounts:account-list')}"
    assert not signed_in(client)


def test_an_administrator_with_two_factor_signs_in_with_both_steps(client, admin_user):
    device, _codes = with_mfa(admin_user)
    password_step(client, admin_user)
    client.post(CODE, {"code": next_code(device)})
    assert client.get(reverse("accounts:account-list")).status_code == 200


def test_the_roles_that_must_use_it_are_a_setting(settings, client, manager):
    assert password_step(client, manager).url == HOME
    assert client.get(HOME).status_code == 200
    settings.MFA_REQUIRED_ROLES = ["administrador", "gerente"]
    assert client.get(HOME).url == ENABLE


def test_others_use_the_site_without_it(client_for, rep):
    client = client_for(rep)
    assert client.get(HOME).status_code == 200
    assert client.get(reverse("accounts:account-list")).status_code == 200


# The security pages ----------------------------------------------------------------------------


def test_the_user_menu_links_the_security_page(client_for, rep):
    assert f'href="{SECURITY}"' in client_for(rep).get(HOME).text


def test_security_page_without_two_factor(client_for, rep):
    response = client_for(rep).get(SECURITY)
    assert response.status_code == 200
    assert_template(response, "registration/security.html")
    assert "Seguridad de la cuenta" in response.text
    assert "Desactivada" in response.text
    assert f'href="{ENABLE}"' in response.text
    assert f'href="{DISABLE}"' not in response.text


def test_security_page_with_two_factor(client_for, rep):
    _device, codes = with_mfa(rep)
    mfa.mfa_verify(user=rep, code=codes[0])
    response = client_for(rep).get(SECURITY)
    assert "Activada" in response.text
    assert "Te quedan 9 códigos de recuperación." in response.text
    assert f'href="{REGENERATE}"' in response.text and f'href="{DISABLE}"' in response.text


def test_security_page_of_an_administrator_offers_no_way_to_turn_it_off(client_for, admin_user):
    response = client_for(admin_user).get(SECURITY)
    assert "Tu rol la exige: no se puede desactivar." in response.text
    assert f'href="{DISABLE}"' not in response.text


def test_enable_page_shows_a_qr_code_and_the_secret(client_for, rep):
    client = client_for(rep)
    response = client.get(ENABLE)
    assert response.status_code == 200
    assert_template(response, "registration/mfa_enable.html")
    assert "<svg" in response.text and "<img" not in response.text
    assert 'id="mfa-secret"' in response.text
    key = client.session[SETUP_KEY]
    assert response.context["secret"] == mfa.mfa_secret(mfa.mfa_setup_device(user=rep, key=key))
    assert "no-store" in response["Cache-Control"]
    assert client.get(ENABLE).context["secret"] == response.context["secret"]  # a reload
    assert not TOTPDevice.objects.exists()


def test_enable_with_a_wrong_code_shows_the_error(client_for, rep):
    client = client_for(rep)
    client.get(ENABLE)
    key = client.session[SETUP_KEY]
    wrong = f"{(int(totp_code(bytes.fromhex(key))) + 5) % 10**6:06d}"
    response = client.post(ENABLE, {"code": wrong})
    assert response.status_code == 200
    assert "El código no es correcto." in response.text
    assert not TOTPDevice.objects.exists()
    assert client.session[SETUP_KEY] == key


def test_enable_then_the_codes_shown_once_with_a_download(client_for, rep):
    client = client_for(rep)
    client.get(ENABLE)
    code = totp_code(bytes.fromhex(client.session[SETUP_KEY]))
    response = client.post(ENABLE, {"code": code}, follow=True)
    assert response.redirect_chain == [(CODES, 302)]
    assert "Verificación en dos pasos activada." in messages_of(response)
    codes = response.context["codes"]
    assert len(codes) == 10
    assert all(code in response.text for code in codes)
    assert sorted(codes) == sorted(StaticToken.objects.values_list("token", flat=True))
    assert client.session[DEVICE_ID_SESSION_KEY] == mfa.mfa_authenticator(rep).persistent_id
    assert SETUP_KEY not in client.session

    download = client.get(DOWNLOAD)
    assert download.status_code == 200
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    disposition = 'attachment; filename="codigos-de-recuperacion.txt"'
    assert download["Content-Disposition"] == disposition
    assert all(code in download.text for code in codes)

    response = client.post(CODES)
    assert response.status_code == 302 and response.url == SECURITY
    assert NEW_CODES not in client.session
    response = client.get(CODES, follow=True)
    assert response.redirect_chain == [(SECURITY, 302)]
    assert not any(code in response.text for code in codes)
    assert client.get(DOWNLOAD).url == CODES
    assert AuditEvent.objects.filter(action="mfa_enable", actor=rep).count() == 1


def test_enable_when_already_on_goes_back_to_security(client_for, rep):
    with_mfa(rep)
    response = client_for(rep).get(ENABLE)
    assert response.status_code == 302 and response.url == SECURITY


def test_regenerate_asks_the_password(client_for, rep):
    _device, old = with_mfa(rep)
    client = client_for(rep)
    assert client.get(REGENERATE).status_code == 200
    response = client.post(REGENERATE, {"password": "mal"})
    assert response.status_code == 200
    assert "La contraseña no es correcta." in response.text
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(old)

    response = client.post(REGENERATE, {"password": PASSWORD}, follow=True)
    assert response.redirect_chain == [(CODES, 302)]
    new = response.context["codes"]
    assert not set(new) & set(old)
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(new)
    assert AuditEvent.objects.filter(action="mfa_codes", actor=rep).count() == 1


def test_regenerate_without_two_factor_goes_back_to_security(client_for, rep):
    client = client_for(rep)
    assert client.get(REGENERATE).url == SECURITY
    assert client.post(REGENERATE, {"password": PASSWORD}).url == SECURITY
    assert not StaticToken.objects.exists()


def test_disable_asks_the_password_and_a_current_code(client_for, rep):
    device, _codes = with_mfa(rep)
    client = client_for(rep)
    assert client.get(DISABLE).status_code == 200
    code = next_code(device)

    response = client.post(DISABLE, {"password": "mal", "code": code})
    assert response.status_code == 200 and "La contraseña no es correcta." in response.text
    response = client.post(DISABLE, {"password": PASSWORD, "code": "abcdefgh"})
    assert response.status_code == 200 and "El código no es correcto." in response.text
    assert mfa.mfa_enabled(rep)

    response = client.post(DISABLE, {"password": PASSWORD, "code": code}, follow=True)
    assert response.redirect_chain == [(SECURITY, 302)]
    assert "Verificación en dos pasos desactivada." in messages_of(response)
    assert not mfa.mfa_enabled(rep) and not StaticToken.objects.exists()
    assert AuditEvent.objects.filter(action="mfa_disable", actor=rep).count() == 1
    client.post(reverse("crm:logout"))
    assert password_step(Client(), rep).url == HOME  # the password alone again


def test_an_administrator_cannot_disable_it(client_for, admin_user):
    _device, codes = with_mfa(admin_user)
    client = client_for(admin_user)
    for response in [
        client.get(DISABLE, follow=True),
        client.post(DISABLE, {"password": PASSWORD, "code": codes[0]}, follow=True),
    ]:
        assert response.redirect_chain == [(SECURITY, 302)]
        assert "Tu rol exige la verificación en dos pasos: no se puede desactivar." in (
            messages_of(response)
        )
    assert mfa.mfa_enabled(admin_user) and mfa.mfa_recovery_codes_left(admin_user) == 10


def test_the_security_pages_need_signing_in(client):
    for path in [SECURITY, ENABLE, CODES, DOWNLOAD, REGENERATE, DISABLE]:
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith(LOGIN), path
