"""Issue 10's journey on a phone: a rep uploads their phone's contacts (a vCard 2.1 export),
reviews the preview, imports, watches the progress bar finish, and undoes the import.

The import runs in a Celery worker. Here the queue is a list: the page's request queues the
real task (`contacts.import_run`) after its commit, and the test plays the worker, running that
task while the page is polling, so the page is seen going from waiting to finished by itself.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from contacts.imports import runner
from contacts.imports.models import ImportRun
from contacts.models import Contact
from crm.core.models import User
from crm.core.queue import registered_task
from crm.top.tests.browser.test_rep_journey import PASSWORD

pytestmark = pytest.mark.browser

PHONE_EXPORT = (
    Path(__file__).resolve().parents[4]
    / "contacts"
    / "tests"
    / "data"
    / "imports"
    / "phone_export_v21.vcf"
)


@pytest.fixture
def rep(transactional_db, settings, tmp_path) -> User:
    settings.MEDIA_ROOT = tmp_path / "media"
    return User.objects.create_user(
        username="laura",
        password=PASSWORD,
        first_name="Laura",
        last_name="Méndez Ríos",
        role="vendedor",
    )


@pytest.fixture
def queued(monkeypatch) -> list:
    """The tasks the pages queue, by name and arguments, once their transaction commits."""
    from django.db import transaction

    tasks = []

    def enqueue(name, args=(), **_options):
        registered_task(name)
        transaction.on_commit(lambda: tasks.append((name, list(args))))

    monkeypatch.setattr(runner, "enqueue_on_commit", enqueue)
    return tasks


@pytest.fixture
def phone(page: Page) -> Page:
    page.set_viewport_size({"width": 390, "height": 844})
    return page


def test_rep_imports_their_phone_contacts_and_undoes_it(phone: Page, rep, queued):
    page = phone
    page.goto("/entrar/")
    page.fill("input[name=username]", rep.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/entrar/"))
    page.goto("/contactos/")
    page.get_by_role("link", name="Importar").click()
    expect(page).to_have_url(re.compile(r"/contactos/importar/$"))
    page.get_by_role("link", name="Importar contactos").click()

    page.set_input_files("#id_file", str(PHONE_EXPORT))
    page.get_by_role("button", name="Continuar").click()
    expect(page.get_by_role("heading", name="Columnas y vista previa")).to_be_visible()
    # The vCard's fields are mapped without the rep choosing anything.
    expect(page.get_by_label("Correo electrónico", exact=True)).to_have_value("email")
    page.get_by_role("button", name="Ver vista previa").click()

    preview = page.locator("#import-preview")
    expect(preview).to_contain_text("Vista previa: 3 filas")
    expect(preview.locator('[data-status="nuevo"] .badge')).to_have_text("2")
    expect(preview.locator('[data-status="error"] .badge')).to_have_text("1")
    expect(preview).to_contain_text("José Pérez Martínez")
    expect(preview).to_contain_text("+52 55 1111 2222")
    assert Contact.objects.count() == 0  # the preview wrote nothing
    box = page.locator("#import-confirm").bounding_box()
    assert box and box["x"] + box["width"] <= 390  # reachable on the phone's width

    page.locator("#import-confirm").click()
    expect(page).to_have_url(re.compile(r"/contactos/importar/\d+/(#[\w-]*)?$"))
    run = ImportRun.objects.get()
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("Pendiente")
    expect(progress).to_have_attribute("hx-trigger", "every 1s")
    assert queued == [("contacts.import_run", [run.pk])]

    # The worker picks the task up; the page, polling, shows it finish.
    name, args = queued.pop()
    registered_task(name).apply(args=args).get()
    expect(progress).to_contain_text("Terminada", timeout=10_000)
    expect(page.locator("#import-progress-text")).to_have_text(re.compile(r"3 de 3 filas"))
    expect(page.locator(".progress-bar")).to_have_class(re.compile(r"bar-w-100"))
    expect(page.locator("[data-count=created]")).to_have_text("2")
    expect(page.locator("[data-count=errors]")).to_have_text("1")
    expect(progress).not_to_have_attribute("hx-trigger", "every 1s")
    assert Contact.objects.filter(owner=rep).count() == 2

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Descargar la fila rechazada")).click()
    rejected = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "Gómez" in rejected

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deshacer").click()
    expect(page.locator(".alert-success")).to_contain_text("Importación deshecha")
    expect(page.locator("#import-progress")).to_contain_text("Deshecha")
    assert Contact.objects.count() == 0
    run.refresh_from_db()
    assert run.status == ImportRun.Status.UNDONE and run.undone_by == rep
