"""A large export: queued, written by the task, emailed as a link that works for its user for
a day (crm.core.exports)."""

import re
import time
from io import BytesIO

import pytest
from django.contrib.messages import get_messages
from django.core import mail, signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from openpyxl import load_workbook

from accounts.tests.factories import AccountFactory
from crm.celery import app
from crm.core import exports, tasks
from crm.core.models import AuditEvent, QueuedTask

pytestmark = pytest.mark.django_db
URL = reverse("accounts:account-export")
LIST = reverse("accounts:account-list")


@pytest.fixture
def large(settings, tmp_path, monkeypatch):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://crm.example.com"
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def _link() -> str:
    (message,) = mail.outbox
    return re.search(r"https://crm\.example\.com(/\S+)", message.body).group(1)


def test_a_large_export_is_queued_and_emailed(
    large, rep, other_rep, client_for, django_capture_on_commit_callbacks
):
    for name in ("=Uno", "Dos", "Tres"):
        AccountFactory(name=name, owner=rep, status="activo")
    AccountFactory(name="Ajena", owner=other_rep, status="activo")
    client = client_for(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(
            URL,
            {"status": "activo", "formato": "xlsx"},
            headers={"referer": f"http://testserver{LIST}?status=activo"},
        )
    assert response.status_code == 302
    assert response["Location"] == f"http://testserver{LIST}?status=activo"
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Te enviaremos un enlace por correo")
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.detail["queued"] is True and event.detail["rows"] == 3
    assert not QueuedTask.objects.exists()  # sent, and run (eagerly)
    assert mail.outbox[0].to == [rep.email]
    assert "24 horas" in mail.outbox[0].body

    download = client.get(_link())
    assert download.status_code == 200
    sheet = load_workbook(BytesIO(b"".join(download.streaming_content))).active
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == ["'=Uno", "Dos", "Tres"]  # the rep's portfolio, neutralised


def test_the_link_is_refused_to_another_user_and_after_a_day(
    large, rep, other_rep, client_for, monkeypatch
):
    path = default_storage.save("exports/abc/cuentas.csv", ContentFile(b"x"))
    token = exports.export_token(user=rep, path=path)
    url = reverse("crm:export-download", args=[token])
    assert client_for(rep).get(url).status_code == 200
    assert client_for(other_rep).get(url).status_code == 404
    assert client_for(rep).get(url + "x").status_code == 404
    later = time.time() + exports.LINK_MAX_AGE + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert client_for(rep).get(url).status_code == 404


def test_a_link_outside_the_exports_folder_is_refused(large, rep, client_for):
    default_storage.save("quotes/secreto.pdf", ContentFile(b"x"))
    token = exports.export_token(user=rep, path="quotes/secreto.pdf")
    assert client_for(rep).get(reverse("crm:export-download", args=[token])).status_code == 404


def test_the_task_writes_nothing_for_a_role_that_no_longer_exports(large, rep, support):
    assert exports.export_build(user_id=support.pk, name="accounts", query="", fmt="csv") is None
    assert mail.outbox == []
    path = exports.export_build(user_id=rep.pk, name="accounts", query="", fmt="csv")
    assert default_storage.open(path).read().startswith(b"\xef\xbb\xbf")


def test_old_export_files_are_pruned(large, rep):
    old = default_storage.save("exports/old/cuentas.csv", ContentFile(b"x"))
    later = default_storage.get_modified_time(old) + exports.datetime.timedelta(days=2)
    assert exports.exports_prune(now=later) == 1
    assert not default_storage.exists(old)


def test_the_same_job_delivered_twice_emails_once(large, rep):
    AccountFactory(name="Papelería Guadalupe", owner=rep)
    job = "0123456789abcdef0123456789abcdef"
    first = tasks.export_build(rep.pk, "accounts", "", "csv", job)
    again = tasks.export_build(rep.pk, "accounts", "", "csv", job)
    assert first == again and first.startswith(f"exports/{job}/")
    assert len(mail.outbox) == 1
    # A job id that is not one (an old queued task has none) still builds, in its own folder.
    other = tasks.export_build(rep.pk, "accounts", "", "csv", "../../etc")
    assert other != first and ".." not in other
    assert len(mail.outbox) == 2


def test_rows_are_read_in_chunks_in_the_list_order(large, rep, django_assert_num_queries):
    from accounts.models import Account

    for index in range(25):
        AccountFactory(name=f"Cuenta {index:02d}", owner=rep)
    qs = Account.objects.select_related("owner").order_by("-name")
    with django_assert_num_queries(1 + 3):  # the ids, then three chunks of ten
        names = [a.name for a in exports.in_chunks(qs, size=10)]
    assert names == [f"Cuenta {index:02d}" for index in reversed(range(25))]
