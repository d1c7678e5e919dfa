"""Marketing's journey in Chromium, delivered for real: a segment built in the builder, a
campaign written with a merge field, previewed at phone width, tested on themself, sent; a real
`celery -A crm worker` process delivers it over SMTP to the sink of campaigns/tests/smtp_sink.py,
to the consenting contacts of the segment only. The results page counts what the sink got, and
the recipient's one-click unsubscribe (the List-Unsubscribe header, POSTed with no cookie) shows
in their consent history on the contact sheet.

As in campaigns/tests/test_sending_faults.py, the worker reaches the test database through
DATABASE_URL (so PostgreSQL), and the live server's services queue the sending tasks, by name, to
the worker's own Redis database (db 6, or CAMPAIGN_JOURNEY_REDIS_URL). Without PostgreSQL or
Redis the journey is skipped, saying why.
"""

import os
import re
import subprocess
import time
import urllib.request
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.conf import settings
from django.db import transaction
from playwright.sync_api import Page, expect

from campaigns.models import Campaign, Segment, Send
from campaigns.tests.factories import TopicFactory, consenting_contact
from campaigns.tests.smtp_sink import SmtpSink
from campaigns.tests.workers import (
    CELERY,
    broker_app,
    enqueue_through,
    redis_database,
)
from contacts.models import Consent
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import PASSWORD, UserFactory
from crm.core.tests.processes import database_url

pytestmark = pytest.mark.browser

REDIS_URL = os.environ.get("CAMPAIGN_JOURNEY_REDIS_URL", "redis://127.0.0.1:6379/6")
DEADLINE = 30
MARKETING_EMAIL = "marketing1@ejemplo.mx"


@pytest.fixture
def redis_db(transactional_db):
    yield from redis_database(REDIS_URL, "campaign journey")


@pytest.fixture
def sink():
    with SmtpSink(keep=True) as server:
        yield server


@pytest.fixture
def mail_to_sink(sink, settings, live_server):
    """The live server's own mail (the test send) goes over SMTP to the sink as well, and its
    links point at the live server."""
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = live_server.url


@pytest.fixture
def enqueue_to_worker(redis_db, monkeypatch):
    """The services queue their tasks (after the commit) to the worker's Redis, by name."""
    app = broker_app("campaign-journey", REDIS_URL)
    enqueue_through(app, monkeypatch)
    yield app
    app.close()


@pytest.fixture
def worker(enqueue_to_worker, sink, live_server, tmp_path):
    """One `celery -A crm worker` process (solo pool) against the test database and the sink;
    started first, so it is up by the time marketing presses Send."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        "REDIS_URL": REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "SITE_URL": live_server.url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "crm",
                "worker",
                "--pool=solo",
                f"--hostname=journey-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.log_path = log_path
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait(5)


def _wait_for(predicate, worker, *, timeout: float = DEADLINE) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return
        if worker.poll() is not None:
            break
        time.sleep(0.1)
    log = worker.log_path.read_text(errors="replace")[-3000:]
    pytest.fail(f"timed out (worker exit code {worker.poll()}); worker log:\n{log}")


def _messages_to(sink: SmtpSink, address: str) -> list:
    found = []
    for raw in list(sink.messages):
        message = message_from_bytes(raw)
        if address in message.get("To", ""):
            found.append(message)
    return found


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _body_text(message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(
        part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        for part in parts
        if part.get_content_type() in ("text/plain", "text/html")
    )


@pytest.fixture
def people():
    """A segment's worth of contacts: two consenting MQLs, one MQL who never consented, and a
    consenting lead outside the segment."""
    UserFactory(username="marketing1", role=Role.MARKETING, email=MARKETING_EMAIL)
    TopicFactory(name="Novedades")
    with transaction.atomic():  # the consent projection locks its row (no test transaction)
        ana = consenting_contact(
            first_name="Ana", last_name="Alcántara", email="ana@cliente.mx", lifecycle="mql"
        )
        beto = consenting_contact(
            first_name="Beto", last_name="Barrios", email="beto@cliente.mx", lifecycle="mql"
        )
        outside = consenting_contact(
            first_name="Olga", last_name="Ortiz", email="olga@cliente.mx", lifecycle="lead"
        )
    no_consent = ContactFactory(
        first_name="Carla", last_name="Castro", email="carla@cliente.mx", lifecycle="mql"
    )
    return {"ana": ana, "beto": beto, "carla": no_consent, "olga": outside}


def _login(page: Page) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", "marketing1")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    page.wait_for_selector("#global-search", state="attached")


def test_marketing_segments_writes_previews_tests_sends_and_the_recipient_unsubscribes(
    worker, sink, mail_to_sink, page: Page, people
):
    ana = people["ana"]
    _login(page)

    # The segment: the MQLs (three contacts, two with consent).
    page.goto("/campanas/segmentos/nuevo/")
    page.fill("#id_name", "MQL de diciembre")
    page.select_option("#g0-c0-value", ["mql"])
    expect(page.locator("#segment-count")).to_contain_text("3 contactos, 2 con consentimiento")
    page.get_by_role("button", name="Guardar segmento").click()
    page.wait_for_url("**/campanas/segmentos/*/")
    segment = Segment.objects.get(name="MQL de diciembre")

    # The campaign, written with a merge field and its fallback.
    page.goto("/campanas/nueva/")
    page.fill("#id_name", "Precios de diciembre")
    page.select_option("#id_topic", label="Novedades")
    page.select_option("#id_segment", str(segment.pk))
    page.fill("#id_subject", 'Precios nuevos para {{ nombre|default:"cliente" }}')
    page.fill(
        "#id_html_body",
        '<h1>Hola {{ nombre|default:"cliente" }}</h1>'
        '<p>Estos son los <a href="https://ejemplo.com.mx/precios">precios de diciembre</a>.</p>',
    )
    page.get_by_role("button", name="Crear campaña").click()
    page.wait_for_url(re.compile(r"/campanas/\d+/$"))
    campaign = Campaign.objects.get(name="Precios de diciembre")
    assert campaign.segment == segment

    # The preview, at phone width, as the segment's first contact (Ana).
    page.get_by_role("link", name="Vista previa y prueba").first.click()
    page.get_by_role("link", name="Teléfono").click()
    page.wait_for_url(re.compile(r"width=phone"))
    expect(page.locator("#preview-frame")).to_have_attribute("width", "375")
    expect(page.locator("#preview-subject")).to_contain_text("Precios nuevos para Ana")
    message = page.frame_locator("#preview-frame").locator("h1")
    expect(message).to_have_text("Hola Ana")
    widths = message.evaluate(
        "h => [h.ownerDocument.documentElement.clientWidth, h.ownerDocument.body.scrollWidth]"
    )
    assert max(widths) <= 375, widths  # laid out at phone width, nothing wider

    # A test to themself: it really arrives, marked, and is not a send.
    page.get_by_role("button", name="Enviar prueba").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Prueba enviada a {MARKETING_EMAIL}")
    (test_message,) = _messages_to(sink, MARKETING_EMAIL)
    assert _subject(test_message) == "[Prueba] Precios nuevos para Ana"
    assert not Send.objects.filter(campaign=campaign).exists()

    # Send: the confirmation counts the consenting contacts only.
    page.goto(campaign.get_absolute_url())
    page.get_by_role("link", name="Enviar ahora").click()
    expect(page.locator("#send-recipients")).to_contain_text("2 contactos con consentimiento")
    page.get_by_role("button", name="Confirmar y enviar ahora").click()
    expect(page.locator(".alert-success")).to_contain_text("Envío iniciado")

    def sent() -> bool:
        campaign.refresh_from_db()
        return campaign.status == Campaign.Status.SENT

    _wait_for(sent, worker)
    time.sleep(0.3)  # a message the sink accepted a moment ago is counted
    counts = sink.snapshot()
    assert counts == {MARKETING_EMAIL: 1, "ana@cliente.mx": 1, "beto@cliente.mx": 1}
    (received,) = _messages_to(sink, "ana@cliente.mx")
    assert _subject(received) == "Precios nuevos para Ana"
    assert "Hola Ana" in _body_text(received)

    # The results page counts what the sink received.
    page.goto(f"/campanas/{campaign.pk}/resultados/")
    delivered = counts["ana@cliente.mx"] + counts["beto@cliente.mx"]
    expect(page.locator("#stat-sent")).to_have_text(str(delivered))

    # Ana's mail client unsubscribes in one click: a POST to the header's link, no cookie.
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (url,) = re.findall(r"<(https?://[^>]+)>", received["List-Unsubscribe"])
    assert url.startswith(page.url.split("/campanas/")[0])
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    withdrawal = Consent.objects.get(contact=ana, action=Consent.Action.WITHDRAW)
    assert (withdrawal.topic, withdrawal.source) == (campaign.topic, Consent.Source.UNSUBSCRIBE)

    # The withdrawal is in Ana's consent history on her sheet.
    page.goto(ana.get_absolute_url())
    topic_entry = page.locator(f"#consent [data-topic='{campaign.topic_id}']")
    expect(topic_entry).to_contain_text("Novedades")
    expect(topic_entry).to_contain_text("Dado de baja")
    expect(topic_entry).to_contain_text("Enlace de baja")
