"""The import pages: upload, mapping and preview (nothing written), run, progress, cancel, undo,
the rejected rows, and who may see which import."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.import_drafts import ROOT, draft_get, import_drafts_clear
from contacts.imports import runner
from contacts.imports.mapping import suggest
from contacts.imports.models import ImportMapping, ImportRun
from contacts.imports.readers import read_table
from contacts.imports.rows import ImportOptions
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts.tests.imports import media, run_import, sample  # noqa: F401 (fixture)
from crm.core.models import Role
from crm.core.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

CSV = (
    "Nombre,Apellidos,Correo electrónico,Teléfono móvil,Empresa\n"
    "Lucía,Fernández,lucia@ejemplo.mx,55 1234 5678,Papelería Guadalupe\n"
    "Ramón,Ortega,ramon@ejemplo.mx,55 8765 4321,\n"
    "Sin,Correo,no-es-un-correo,,\n"
).encode()


@pytest.fixture
def eager(monkeypatch):
    """Celery runs the queued task in the request (as a worker would, right after the commit)."""
    from crm.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def _upload(client, data=CSV, name="clientes.csv", **extra):
    return client.post(
        reverse("contacts:import-new"),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **extra},
    )


def _draft_url(client, data=CSV, name="clientes.csv", **extra) -> str:
    response = _upload(client, data, name, **extra)
    assert response.status_code == 302, response.text
    return response["Location"]


def _form(response) -> dict:
    """The mapping form as the page filled it (the suggested column of each select)."""
    values = {}
    for select in re.finditer(r'<select name="(col_\d+)".*?</select>', response.text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', select.group(0))
        values[select.group(1)] = chosen.group(1) if chosen else ""
    return values


def _options(user, **extra) -> dict:
    return {"owner": user.pk, "country": "MX", "duplicates": "skip", **extra}


def test_upload_mapping_preview_writes_nothing(rep, client_for):
    client = client_for(rep)
    assert client.get(reverse("contacts:import-new")).status_code == 200
    url = _draft_url(client)
    page = client.get(url)
    assert page.status_code == 200
    columns = _form(page)
    # The header's Spanish names are recognised.
    assert columns == {
        "col_0": "first_name",
        "col_1": "last_name",
        "col_2": "email",
        "col_3": "mobile",
        "col_4": "account_name",
    }
    assert "lucia@ejemplo.mx" in page.text  # the samples under each column

    preview = client.post(url, {**columns, **_options(rep), "action": "preview"})
    assert preview.status_code == 200
    text = preview.text
    assert "Vista previa: 3 filas" in text
    assert 'data-status="nuevo">\n                <span class="badge text-bg-success">2<' in text
    assert "Correo electrónico no válido" in text or "correo" in text.lower()
    assert "Importar 3 filas" in text
    assert Contact.objects.count() == 0
    assert ImportRun.objects.count() == 0


def test_import_runs_and_the_page_follows_it(
    rep, client_for, eager, django_capture_on_commit_callbacks
):
    ContactFactory(owner=rep, email="ramon@ejemplo.mx", first_name="Ramón", last_name="Ortega")
    client = client_for(rep)
    url = _draft_url(client)
    columns = _form(client.get(url))
    preview = client.post(url, {**columns, **_options(rep), "action": "preview"})
    key = re.search(r'name="preview_key" value="([0-9a-f]+)"', preview.text).group(1)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    assert draft_get(user=rep, token=token) is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                **columns,
                **_options(rep),
                "action": "import",
                "preview_key": key,
                "save_as": "Mi CSV",
            },
        )
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:import-detail", args=[run.pk])
    assert draft_get(user=rep, token=token) is None  # the draft became the run's file
    assert ImportMapping.objects.get(owner=rep, name="Mi CSV").columns["Correo electrónico"] == (
        "email"
    )
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE
    assert (run.created, run.duplicates, run.errors) == (1, 1, 1)
    assert run.created_by == rep and run.mapping_name == "Mi CSV"
    assert Contact.objects.filter(email="lucia@ejemplo.mx", owner=rep).exists()

    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert "Terminada" in detail.text and "3 de 3 filas" in detail.text
    assert "hx-trigger" not in detail.text.split('id="import-progress"')[1].split(">")[0]
    rejected = client.get(reverse("contacts:import-rejected", args=[run.pk]))
    assert rejected.status_code == 200
    body = b"".join(rejected.streaming_content).decode("utf-8-sig")
    assert "no-es-un-correo" in body and "Sin" in body


def test_a_changed_mapping_is_previewed_again_before_importing(rep, client_for):
    client = client_for(rep)
    url = _draft_url(client)
    columns = _form(client.get(url))
    preview = client.post(url, {**columns, **_options(rep), "action": "preview"})
    key = re.search(r'name="preview_key" value="([0-9a-f]+)"', preview.text).group(1)
    changed = {**columns, "col_4": ""}  # the company column no longer imported
    response = client.post(
        url, {**changed, **_options(rep), "action": "import", "preview_key": key}
    )
    assert response.status_code == 200
    assert "revisa la vista previa de nuevo" in response.text
    assert ImportRun.objects.count() == 0
    forged = client.post(
        url, {**columns, **_options(rep), "action": "import", "preview_key": "0" * 64}
    )
    assert forged.status_code == 200 and ImportRun.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "vacio.csv", "El archivo está vacío"),
        (b"PK\x03\x04 no es un excel", "roto.xlsx", "No se pudo leer el archivo"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused(rep, client_for, data, name, message):
    response = _upload(client_for(rep), data, name)
    assert response.status_code == 200
    assert message in response.text
    assert not (ImportRun.objects.exists())


def test_bad_choices_answer_with_errors_and_write_nothing(rep, client_for, other_rep):
    client = client_for(rep)
    csv = "Nombre,Correo,Acepta correos\nAna,ana@ejemplo.mx,sí\n".encode()
    url = _draft_url(client, csv)
    columns = _form(client.get(url))
    assert columns["col_2"] == "consent"
    # A consent column without its legal basis.
    response = client.post(url, {**columns, **_options(rep), "action": "preview"})
    assert "Indica la base legal del consentimiento" in response.text
    # No column for the name.
    response = client.post(
        url, {**columns, "col_0": "", **_options(rep), "consent_basis": "consentimiento"}
    )
    assert "Asigna una columna al nombre" in response.text
    # An owner the rep may not assign.
    response = client.post(url, {**columns, **_options(rep), "owner": other_rep.pk})
    assert "owner" in response.context["form"].errors
    assert ImportRun.objects.count() == 0 and Contact.objects.count() == 0


def test_a_draft_is_its_uploader_s_only(rep, other_rep, client_for):
    url = _draft_url(client_for(rep))
    response = client_for(other_rep).get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:import-new")


def test_a_saved_mapping_is_offered_and_applied(rep, client_for):
    ImportMapping.objects.create(
        owner=rep, name="ERP", columns={"Empresa": "notes", "Correo electrónico": "email"}
    )
    client = client_for(rep)
    assert "ERP" in client.get(reverse("contacts:import-new")).text
    saved = ImportMapping.objects.get(name="ERP")
    url = _draft_url(client, saved_mapping=saved.pk)
    assert url.endswith(f"?asignacion={saved.pk}")
    columns = _form(client.get(url))
    assert columns["col_4"] == "notes" and columns["col_0"] == "first_name"
    page = client.get(url)
    assert 'value="ERP"' in page.text  # saving again under the same name is offered


def test_support_and_marketing_may_not_import(client_for, db):
    for role in (Role.SOPORTE, Role.MARKETING):
        client = client_for(UserFactory(role=role))
        assert client.get(reverse("contacts:import-list")).status_code == 403
        assert client.get(reverse("contacts:import-new")).status_code == 403
        assert _upload(client).status_code == 403


def test_an_import_is_seen_by_its_author_and_administrators(rep, other_rep, client_for):
    run = run_import("utf8_bom_comma.csv", actor=rep)
    assert client_for(rep).get(reverse("contacts:import-detail", args=[run.pk])).status_code == 200
    other = client_for(other_rep)
    for name in ("import-detail", "import-rejected"):
        assert other.get(reverse(f"contacts:{name}", args=[run.pk])).status_code == 404
    assert other.post(reverse("contacts:import-undo", args=[run.pk])).status_code == 404
    admin = client_for(UserFactory(role=Role.ADMINISTRADOR))
    assert admin.get(reverse("contacts:import-detail", args=[run.pk])).status_code == 200
    assert "utf8_bom_comma.csv" in admin.get(reverse("contacts:import-list")).text
    assert "utf8_bom_comma.csv" not in other.get(reverse("contacts:import-list")).text


def test_polling_a_running_import_and_cancelling_it(rep, client_for):
    client = client_for(rep)
    data = sample("utf8_bom_comma.csv")
    run = runner.import_create(
        actor=rep,
        file_name="utf8_bom_comma.csv",
        data=data,
        options=ImportOptions(owner_id=rep.pk),
        mapping=suggest(read_table("utf8_bom_comma.csv", data).header),
    )
    url = reverse("contacts:import-detail", args=[run.pk])
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert 'hx-trigger="every 1s"' in partial.text
    assert "<html" not in partial.text  # only the progress card
    response = client.post(reverse("contacts:import-cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ImportRun.Status.CANCELLED
    finished = client.get(url, headers={"HX-Request": "true"})
    assert "hx-trigger" not in finished.text  # the polling stops
    again = client.post(reverse("contacts:import-cancel", args=[run.pk]), follow=True)
    assert "ya no está en curso" in again.text


def test_undo_from_the_page(rep, client_for):
    run = run_import("utf8_bom_comma.csv", actor=rep)
    assert run.created > 0
    client = client_for(rep)
    page = client.get(reverse("contacts:import-detail", args=[run.pk]))
    assert "Deshacer" in page.text
    response = client.post(reverse("contacts:import-undo", args=[run.pk]), follow=True)
    assert "Importación deshecha" in response.text
    run.refresh_from_db()
    assert run.status == ImportRun.Status.UNDONE
    assert not Contact.objects.filter(owner=rep).exists()
    assert "se han eliminado" in response.text or "se ha eliminado" in response.text
    again = client.post(reverse("contacts:import-undo", args=[run.pk]), follow=True)
    assert "Solo se puede deshacer una importación terminada" in again.text


def test_the_list_s_queries_do_not_grow_with_its_rows(
    rep, client_for, django_assert_max_num_queries
):
    client = client_for(rep)
    for index in range(60):
        ImportRun.objects.create(
            created_by=rep, file_name=f"lote-{index}.csv", kind="csv", status="terminada"
        )
    with django_assert_max_num_queries(12):
        response = client.get(reverse("contacts:import-list"))
    assert response.status_code == 200
    assert "lote-59.csv" in response.text


def test_old_drafts_are_cleared(rep, client_for, settings):
    import datetime as dt
    import os

    url = _draft_url(client_for(rep))
    token = url.rstrip("/").rsplit("/", 1)[-1]
    draft = draft_get(user=rep, token=token)
    path = os.path.join(settings.MEDIA_ROOT, draft.path)
    assert import_drafts_clear() == 0  # a fresh one stays
    old = (dt.datetime.now() - dt.timedelta(days=2)).timestamp()
    os.utime(path, (old, old))
    assert import_drafts_clear() == 1
    assert draft_get(user=rep, token=token) is None
    assert ROOT in draft.path
