"""Redis, the broker, stopped for real while people work (issue 13 §4).

A private `redis-server` is started for the test and the Celery app of this process publishes to
it. With it running, a ticket reply is queued at once. Then it is stopped: a support agent's
reply and a rep's quote still answer and save, and their tasks wait in the outbox
(crm.core.queue). It is started again: the dispatcher (the beat job's service) puts exactly the
missing messages on the queue, and running them as a worker would sends each email once.
"""

import base64
import json
import shutil
import subprocess
import time
from datetime import timedelta
from email.utils import parseaddr

import pytest
from celery import current_app
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from crm.core.models import QueuedTask
from crm.core.queue import queued_tasks_dispatch
from crm.core.tests.processes import free_port
from opportunities.models import LineItem
from opportunities.services.quotes import quote_issue
from opportunities.tests.factories import OpportunityFactory
from support.models import Comment
from support.tests.factories import TicketFactory

REDIS_SERVER = shutil.which("redis-server")


class PrivateRedis:
    """A redis-server of this test alone, on its own port, that it can stop and start."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            # Persistent, as a production broker is: a restart keeps what was queued.
            + ["--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        for _attempt in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def messages(self) -> list[tuple[str, list]]:
        """(task name, args) of what waits on the `mail` queue (the emails this test checks
        are routed there: CELERY_TASK_ROUTES), oldest first."""
        import redis

        found = []
        for raw in reversed(redis.Redis(port=self.port).lrange("mail", 0, -1)):
            message = json.loads(raw)
            body = message["body"]
            if message["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, _kwargs, _embed = json.loads(body)
            found.append((message["headers"]["task"], args))
        return found


@pytest.fixture
def broker(monkeypatch, tmp_path, settings):
    if not REDIS_SERVER:
        reason = "no hay redis-server en este equipo para detener un broker de verdad"
        print(f"SKIP test_broker_outage: {reason}")
        pytest.skip(reason)
    redis = PrivateRedis(tmp_path / "redis")
    redis.folder.mkdir()
    redis.start()
    conf = current_app.conf
    monkeypatch.setitem(conf, "broker_url", f"redis://127.0.0.1:{redis.port}/0")
    # The options production has with Redis: give up publishing quickly.
    options = settings.REDIS_BROKER_TRANSPORT_OPTIONS
    monkeypatch.setitem(conf, "broker_transport_options", options)
    monkeypatch.setitem(conf, "task_always_eager", False)
    monkeypatch.setitem(conf, "task_default_delivery_mode", "persistent")
    # Forget the connections to the usual broker; they come back when the test ends.
    amqp = current_app.amqp
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(amqp, "_producer_pool", None)
    yield redis
    if redis.process.poll() is None:
        redis.stop()
    current_app._pool = None
    amqp._producer_pool = None


@pytest.mark.django_db
def test_pages_answer_and_save_while_the_broker_is_down_and_their_work_is_sent_when_back(
    broker, client_for, support, rep, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    ticket = TicketFactory(contact__email="martin@papeleriaguadalupe.mx")
    contact = ContactFactory(owner=rep, email="elena@bustamante.mx")
    deal = OpportunityFactory(owner=rep, account=contact.account, contact=contact)
    LineItem.objects.create(
        opportunity=deal, description="Licencia anual", quantity=1, unit_price=18500, tax_rate=16
    )
    quote = quote_issue(
        actor=rep, opportunity=deal, valid_until=timezone.localdate() + timedelta(days=30)
    )
    reply_url = reverse("support:ticket-comments", args=[ticket.pk])

    # Running: the reply's email task is on the queue at once, and the outbox is empty.
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(support).post(reply_url, {"kind": "respuesta", "body": "Recibido."})
    assert answer.status_code == 302
    first = Comment.objects.get(body="Recibido.")
    assert broker.messages() == [("support.comment_reply_send", [first.pk])]
    assert not QueuedTask.objects.exists()

    # Stopped for real: both pages answer and save; their tasks wait in the outbox.
    broker.stop()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(support).post(
            reply_url, {"kind": "respuesta", "body": "Le cambiamos la impresora."}
        )
        sent = client_for(rep).post(reverse("opportunities:quote-send", args=[quote.pk]))
    assert answer.status_code == 302 and sent.status_code == 302
    second = Comment.objects.get(body="Le cambiamos la impresora.")
    waiting = QueuedTask.objects.order_by("pk")
    assert [(row.name, row.args, row.attempts) for row in waiting] == [
        ("support.comment_reply_send", [second.pk], 1),
        ("opportunities.quote_send", [quote.pk], 1),
    ]
    QueuedTask.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    assert queued_tasks_dispatch() == 0  # still down: nothing lost, tried again later

    # Back: the dispatcher queues exactly what was missing, once.
    broker.start()
    assert queued_tasks_dispatch() == 2
    assert queued_tasks_dispatch() == 0
    assert not QueuedTask.objects.exists()
    queued = broker.messages()
    assert queued == [
        ("support.comment_reply_send", [first.pk]),
        ("support.comment_reply_send", [second.pk]),
        ("opportunities.quote_send", [quote.pk]),
    ]
    # What a worker does with each message: every email goes out, each once.
    for name, args in queued:
        current_app.tasks[name].apply(args=args)
    assert sorted(parseaddr(message.to[0])[1] for message in mail.outbox) == [
        "elena@bustamante.mx",
        "martin@papeleriaguadalupe.mx",
        "martin@papeleriaguadalupe.mx",
    ]
