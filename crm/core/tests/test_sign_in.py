"""Signing in (issue 13 §6): throttled per user name and per address, `next=` kept on this site,
and passwords refused in Spanish."""

import pytest
from django.test import Client
from django.urls import reverse

from crm.core import mfa
from crm.core.models import AuditEvent
from crm.core.tests.factories import PASSWORD, UserFactory
from crm.core.tests.mfa import next_code, totp_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("crm:login")
HOME = reverse("crm:home")
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def attempt(username: str, password: str, ip: str = ATTACKER, **extra):
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password, **extra})


# Throttling ------------------------------------------------------------------------------------


def test_twenty_failures_on_twenty_user_names_lock_the_address(rep):
    for n in range(19):
        assert attempt(f"nadie{n}", "mal").status_code == 200
    assert attempt(rep.username, PASSWORD).status_code == 302  # 19: not yet
    assert attempt("nadie19", "mal").status_code == 429  # the twentieth locks the address

    response = attempt(rep.username, PASSWORD)
    assert response.status_code == 429
    assert "Demasiados intentos fallidos" in response.text
    assert attempt("otro", "mal").status_code == 429
    # Another address is not locked, for the same user nor for others.
    assert attempt(rep.username, PASSWORD, ip=ELSEWHERE).status_code == 302
    assert attempt("nadie0", "mal", ip=ELSEWHERE).status_code == 200


def test_five_failures_lock_that_user_name_from_that_address_only(rep, manager):
    for _ in range(4):
        assert attempt(rep.username, "mal").status_code == 200
    assert attempt(rep.username, "mal").status_code == 429
    assert attempt(rep.username, PASSWORD).status_code == 429
    assert attempt(manager.username, PASSWORD).status_code == 302  # the address is not locked
    assert attempt(rep.username, PASSWORD, ip=ELSEWHERE).status_code == 302


def test_signing_in_forgives_only_ones_own_failures(rep, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    for _ in range(3):
        attempt(rep.username, "mal")
    for n in range(2):
        attempt(f"nadie{n}", "mal")
    assert attempt(rep.username, PASSWORD).status_code == 302
    # The rep's three are forgiven, not the address's two on other names: 2 + 4 more lock it.
    for n in range(3):
        assert attempt(f"otro{n}", "mal").status_code == 200
    assert attempt("otro3", "mal").status_code == 429


def test_wrong_second_step_codes_count_towards_the_lock(rep, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    key = mfa.mfa_new_key()
    device, _codes = mfa.mfa_enable(user=rep, key=key, code=totp_code(bytes.fromhex(key)))
    right = next_code(device)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    client = Client(REMOTE_ADDR=ATTACKER)
    client.post(LOGIN, {"username": rep.username, "password": PASSWORD})
    for _ in range(4):
        assert client.post(reverse("crm:login-code"), {"code": wrong}).status_code == 200
    response = client.post(reverse("crm:login-code"), {"code": wrong})
    assert response.status_code == 429
    assert "Demasiados intentos fallidos" in response.text
    assert AuditEvent.objects.filter(action="login_failed", target=rep.username).count() == 5
    # Locked: neither the right code nor the password again gets in.
    response = client.post(reverse("crm:login-code"), {"code": right})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert attempt(rep.username, PASSWORD).status_code == 429


# next= -----------------------------------------------------------------------------------------


def test_login_goes_to_a_path_of_this_site(rep):
    response = attempt(rep.username, PASSWORD, next="/contactos/?q=ana")
    assert response.status_code == 302 and response.url == "/contactos/?q=ana"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "http://testserver.evil.example/",
    ],
)
def test_login_refuses_to_go_off_this_site(rep, target):
    response = attempt(rep.username, PASSWORD, next=target)
    assert response.status_code == 302 and response.url == HOME


def test_the_login_page_does_not_carry_an_outside_next_into_the_form(client):
    response = client.get(LOGIN, {"next": "https://evil.example/"})
    assert '<input type="hidden" name="next" value="">' in response.text


# Passwords -------------------------------------------------------------------------------------


def test_a_weak_new_password_is_refused_in_spanish(client_for):
    user = UserFactory(username="laura")
    response = client_for(user).post(
        reverse("crm:password-change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "Esta contraseña es demasiado común." in response.text
    assert "Esta contraseña es completamente numérica." in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_short_new_password_is_refused_in_spanish(client_for, rep):
    response = client_for(rep).post(
        reverse("crm:password-change"),
        {"old_password": PASSWORD, "new_password1": "xq7#", "new_password2": "xq7#"},
    )
    assert "La contraseña es demasiado corta. Debe contener por lo menos 8 caracteres." in (
        response.text
    )
