"""A manager merges two records of the same person in a real browser, on a desktop and a phone.

Screenshots go to $SCREENSHOTS_DIR when it is set (to look at the layouts), else to tmp_path.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Account
from contacts.models import Contact
from crm.core.models import Role, Team, User
from opportunities.models import Activity, ActivityKind

pytestmark = pytest.mark.browser

PASSWORD = "contraseña-de-prueba-123"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def world(transactional_db) -> dict:
    team = Team.objects.create(name="Ventas Centro")
    manager = User.objects.create_user(
        username="ricardo",
        password=PASSWORD,
        first_name="Ricardo",
        last_name="Salas",
        role=Role.GERENTE,
        team=team,
    )
    team.manager = manager
    team.save()
    rep = User.objects.create_user(
        username="laura", password=PASSWORD, first_name="Laura", role=Role.VENDEDOR, team=team
    )
    account = Account.objects.create(name="Distribuidora Gómez", owner=rep)
    survivor = Contact.objects.create(
        first_name="María Fernanda",
        last_name="Hernández Villalobos",
        email="mf.hernandez@distribuidoragomez.com.mx",
        phone="+525536152200",
        account=account,
        owner=rep,
    )
    loser = Contact.objects.create(
        first_name="Maria Fernanda",
        last_name="Hernandez Villalobos",
        job_title="Gerente de compras",
        mobile="+525512345678",
        account=account,
        owner=rep,
        notes="Prefiere que la llamen por la mañana.",
    )
    Activity.objects.create(
        kind=ActivityKind.CALL,
        status=Activity.Status.DONE,
        owner=rep,
        account=account,
        contact=loser,
        planned_at="2026-01-10T16:00:00Z",
        done_at="2026-01-10T16:10:00Z",
        duration_minutes=10,
    )
    return {"manager": manager, "survivor": survivor, "loser": loser}


def log_in(page: Page, user: User) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page.locator("#global-search")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_manager_merges_two_contacts(page: Page, world, shots, viewport):
    size = "phone" if viewport is PHONE else "desktop"
    survivor, loser = world["survivor"], world["loser"]
    log_in(page, world["manager"])
    page.set_viewport_size(viewport)

    page.goto("/contactos/")
    page.get_by_role("link", name="Duplicados").click()
    expect(page.get_by_role("heading", name="Contactos duplicados")).to_be_visible()
    page.get_by_role("link", name="Mismo nombre en la misma cuenta").click()
    expect(page.get_by_text("2 registros")).to_be_visible()
    page.screenshot(path=str(shots / f"merge-duplicates-{size}.png"), full_page=True)

    page.get_by_role("button", name="Fusionar los marcados…").click()
    expect(page.get_by_role("heading", name="Fusionar contactos")).to_be_visible()
    # The survivor (the older record) has no job title: the other's is chosen for it.
    expect(page.locator(f"#f_job_title_{loser.pk}")).to_be_checked()
    expect(page.get_by_text("Actividades: 1")).to_be_visible()
    page.locator(f"#f_first_name_{loser.pk}").check()
    page.screenshot(path=str(shots / f"merge-screen-{size}.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile(r"Fusionar$")).click()

    expect(page).to_have_url(re.compile(rf"/contactos/{survivor.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text("Registros fusionados en")
    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert survivor.first_name == "Maria Fernanda"
    assert survivor.job_title == "Gerente de compras"
    assert survivor.email == "mf.hernandez@distribuidoragomez.com.mx"
    assert loser.merged_into_id == survivor.pk
    assert Activity.objects.get().contact_id == survivor.pk

    page.goto(f"/contactos/{loser.pk}/")
    expect(page.locator(".alert").get_by_text("Fusionado en")).to_be_visible()
    page.screenshot(path=str(shots / f"merge-merged-sheet-{size}.png"))
    page.locator(".alert").get_by_role("link", name="Maria Fernanda Hernández Villalobos").click()
    expect(page).to_have_url(re.compile(rf"/contactos/{survivor.pk}/$"))
