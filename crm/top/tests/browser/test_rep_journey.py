"""A sales rep's day in a real browser: log in, create an account and a contact, find it again."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Account
from contacts.models import Contact
from crm.core.models import User

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"


@pytest.fixture
def sales_rep(transactional_db) -> User:
    return User.objects.create_user(
        username="laura",
        password=PASSWORD,
        first_name="Laura",
        last_name="Méndez Ríos",
        role="vendedor",
    )


def log_in(page: Page, user: User) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page.locator("#global-search")).to_be_visible()


def test_rep_creates_account_and_contact_then_finds_it_by_phone(page: Page, sales_rep):
    log_in(page, sales_rep)

    page.goto("/cuentas/nueva/")
    page.fill("#id_name", "Distribuidora Gómez")
    page.fill("#id_tax_id", "GODE561231GR8")
    page.fill("#id_phone", "33 3615 2200")
    page.get_by_role("button", name="Crear cuenta").click()

    account = Account.objects.get(name="Distribuidora Gómez")
    expect(page).to_have_url(re.compile(rf"/cuentas/{account.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text("Cuenta «Distribuidora Gómez» creada.")
    assert account.tax_id == "GODE561231GR8"
    assert account.owner == sales_rep

    page.locator("#panel-contacts").get_by_role("link", name="Añadir contacto").click()
    expect(page).to_have_url(re.compile(rf"/contactos/nuevo/\?account={account.pk}$"))
    expect(page.locator("input[type=hidden][name=account]")).to_have_value(str(account.pk))
    expect(page.locator("#id_account")).to_have_value("Distribuidora Gómez")
    page.fill("#id_first_name", "Elena")
    page.fill("#id_last_name", "Duarte Saldívar")
    page.fill("#id_mobile", "55 1234 5678")
    page.get_by_role("button", name="Crear contacto").click()

    contact = Contact.objects.get(first_name="Elena")
    expect(page).to_have_url(re.compile(rf"/contactos/{contact.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text(
        "Contacto «Elena Duarte Saldívar» creado."
    )
    assert contact.account == account
    assert contact.mobile == "+525512345678"

    page.goto(account.get_absolute_url())
    page.locator("#global-search").fill("+52 1 55-1234-5678")
    suggestion = page.locator("#search-suggestions").get_by_role(
        "link", name=re.compile("Elena Duarte Saldívar")
    )
    expect(suggestion).to_be_visible()
    suggestion.click()

    expect(page).to_have_url(re.compile(rf"/contactos/{contact.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Elena Duarte Saldívar")


def test_wrong_rfc_check_digit_shows_the_error_and_saves_nothing(page: Page, sales_rep):
    log_in(page, sales_rep)

    page.goto("/cuentas/nueva/")
    page.fill("#id_name", "Distribuidora Gómez")
    page.fill("#id_tax_id", "GODE561231GR9")
    page.get_by_role("button", name="Crear cuenta").click()

    expect(page.locator("#id_tax_id")).to_have_class(re.compile(r"\bis-invalid\b"))
    error = page.get_by_text("El dígito verificador de «GODE561231GR9» no es correcto.")
    expect(error).to_be_visible()
    expect(page).to_have_url(re.compile(r"/cuentas/nueva/$"))
    assert not Account.objects.exists()
