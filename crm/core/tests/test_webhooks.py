"""Signed webhooks (crm.core.webhooks): the signature per Standard Webhooks, the outbox, the
dedup, the retries and their backoff, disabling a failing endpoint, the SSRF guard, and a real
delivery to a local receiver."""

import base64
import hashlib
import hmac
import ipaddress
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.celery import app
from crm.core import webhooks
from crm.core.models import (
    AuditEvent,
    QueuedTask,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from crm.core.tests.factories import UserFactory
from crm.core.webhooks import TargetRefused, target_addresses, webhook_deliver, webhook_emit

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status
PUBLIC_IP = "93.184.215.14"


def _readme_verify():
    """The receiver's check exactly as README.md's "Webhooks" section documents it."""
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    code = readme.split("## Webhooks", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code, namespace)
    return namespace["verify"]


verify = _readme_verify()


@pytest.fixture
def admin(db):
    return UserFactory(username="admin_webhooks", role=Role.ADMINISTRADOR, email="ana@ejemplo.mx")


@pytest.fixture
def public_dns(monkeypatch):
    """Every host resolves to a public address (no network in tests); `answers` changes it."""
    answers: dict[str, list[str]] = {}

    def resolve(host, port):
        try:
            return [str(ipaddress.ip_address(host))]  # an address is its own answer
        except ValueError:
            return answers.get(host, [PUBLIC_IP])

    monkeypatch.setattr(webhooks, "_resolve", resolve)
    return answers


@pytest.fixture
def endpoint(admin, public_dns):
    return WebhookEndpoint.objects.create(
        url="https://tienda.ejemplo.mx/crm-hooks",
        events=["contact.created", "ticket.created"],
        created_by=admin,
    )


class Receiver:
    """Stands in for `http_post`: records each POST and answers `status` (or raises)."""

    def __init__(self):
        self.requests: list[tuple[str, bytes, dict]] = []
        self.status = 200
        self.error: Exception | None = None

    def post(self, target, body, headers):
        self.requests.append((target.host, body, headers))
        if self.error:
            raise self.error
        return self.status


@pytest.fixture
def receiver(monkeypatch):
    fake = Receiver()
    monkeypatch.setattr(webhooks, "http_post", fake.post)
    return fake


def _delivery(endpoint, event_type="contact.created", payload=None) -> WebhookDelivery:
    event = webhook_emit(event_type, payload or {"contact_id": 1})
    return WebhookDelivery.objects.get(event=event, endpoint=endpoint)


# The signature ----------------------------------------------------------------------------------


def test_the_signature_matches_the_specifications_test_vector():
    # The example of the Standard Webhooks specification's reference libraries.
    assert (
        webhooks.signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_new_secret_is_whsec_and_32_random_bytes(endpoint):
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) == 32
    assert WebhookEndpoint(url="https://x.mx").secret != endpoint.secret


def test_the_request_is_signed_over_id_timestamp_and_body(endpoint, receiver):
    delivery = _delivery(endpoint, payload={"contact_id": 7, "owner_id": 3})
    assert webhook_deliver(delivery_id=delivery.pk)
    _host, body, headers = receiver.requests[0]
    assert headers["webhook-id"] == delivery.event_id and delivery.event_id.startswith("evt_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    assert headers["content-type"] == "application/json"
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert verify(endpoint.secret, headers, body)
    assert not verify(endpoint.secret, headers, body + b" ")  # tampered body
    assert not verify(webhooks.webhook_secret_new(), headers, body)  # another secret
    # Replayed six minutes later: the signature is right, the timestamp too old.
    stale = webhooks.request_headers(
        endpoint, delivery.event, body, now=timezone.now() - timedelta(minutes=6)
    )
    assert not verify(endpoint.secret, stale, body)
    assert verify(endpoint.secret, stale, body, tolerance=10 * 60)
    sent = json.loads(body)
    assert sent["type"] == "contact.created"
    assert sent["data"] == {"contact_id": 7, "owner_id": 3}
    assert sent["timestamp"].endswith("Z")


def test_after_a_rotation_both_secrets_sign_for_a_day(endpoint, admin, receiver):
    old = endpoint.secret
    endpoint = webhooks.webhook_secret_rotate(actor=admin, endpoint=endpoint)
    assert endpoint.secret != old
    delivery = _delivery(endpoint)
    webhook_deliver(delivery_id=delivery.pk)
    _host, body, headers = receiver.requests[0]
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(endpoint.secret, headers, body) and verify(old, headers, body)
    later = timezone.now() + timedelta(days=1, minutes=1)
    headers = webhooks.request_headers(endpoint, delivery.event, body, now=later)
    assert len(headers["webhook-signature"].split()) == 1
    assert AuditEvent.objects.filter(detail__secret="rotated").exists()


# The outbox -------------------------------------------------------------------------------------


def test_an_event_is_written_for_each_subscribed_active_endpoint_and_queued(endpoint, admin):
    other = WebhookEndpoint.objects.create(url="https://erp.mx/h", events=["ticket.created"])
    WebhookEndpoint.objects.create(url="https://off.mx/h", events=["contact.created"], active=False)
    event = webhook_emit("contact.created", {"contact_id": 5})
    assert event.type == "contact.created" and event.payload == {"contact_id": 5}
    assert list(event.deliveries.values_list("endpoint", "status")) == [
        (endpoint.pk, Status.PENDING)
    ]
    assert not other.deliveries.exists()
    delivery = event.deliveries.get()
    assert list(QueuedTask.objects.values_list("name", "args")) == [
        ("crm.webhook_deliver", [delivery.pk])
    ]


def test_with_nobody_listening_nothing_is_written_in_one_query(django_assert_num_queries, db):
    with django_assert_num_queries(1):
        assert webhook_emit("contact.created", {"contact_id": 5}) is None
    assert not WebhookEvent.objects.exists()


def test_a_rolled_back_change_leaves_no_event_delivery_or_task(endpoint):
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit("contact.created", {"contact_id": 5})
        assert WebhookDelivery.objects.exists()
        raise RuntimeError("the service failed after emitting")
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert not QueuedTask.objects.exists()


def test_payload_values_are_stored_as_json(endpoint):
    when = timezone.now()
    event = webhook_emit("contact.created", {"contact_id": 1, "at": when})
    assert WebhookEvent.objects.get(pk=event.pk).payload["at"].startswith(when.date().isoformat())


# Dedup and concurrency --------------------------------------------------------------------------


def test_one_event_is_delivered_once_to_one_endpoint(endpoint):
    delivery = _delivery(endpoint)
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(endpoint=endpoint, event=delivery.event)


def test_running_the_task_twice_posts_once(endpoint, receiver, monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    from crm.core.tasks import webhook_deliver as task

    delivery = _delivery(endpoint)
    task.delay(delivery.pk)
    task.delay(delivery.pk)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.DELIVERED,
        1,
        200,
    )
    with pytest.raises(ValidationError):
        webhooks.webhook_delivery_retry(actor=endpoint.created_by, delivery=delivery)
    assert webhooks.webhooks_due(now=timezone.now() + timedelta(days=5)) == 0


def test_a_delivery_another_worker_holds_is_left_alone_until_its_lease_runs_out(endpoint, receiver):
    delivery = _delivery(endpoint)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=now + timedelta(minutes=1))
    assert not webhook_deliver(delivery_id=delivery.pk, now=now)
    assert receiver.requests == []
    # The worker died mid-request: once its lease ran out, it is sent (and counted) again.
    assert webhook_deliver(delivery_id=delivery.pk, now=now + webhooks.LEASE)
    assert len(receiver.requests) == 1


def test_a_disabled_endpoint_is_not_sent_to(endpoint, admin, receiver):
    delivery = _delivery(endpoint)
    webhooks.webhook_endpoint_set_active(actor=admin, endpoint=endpoint, active=False)
    assert not webhook_deliver(delivery_id=delivery.pk)
    assert receiver.requests == []
    assert webhooks.webhooks_due() == 0
    webhooks.webhook_endpoint_set_active(actor=admin, endpoint=endpoint, active=True)
    assert webhooks.webhooks_due() == 1  # what waited is sent once enabled
    assert webhook_deliver(delivery_id=delivery.pk)


# Retries ---------------------------------------------------------------------------------------


def test_failures_are_retried_with_backoff_for_three_days_then_abandoned(endpoint, receiver):
    receiver.status = 503
    delivery = _delivery(endpoint)
    now = timezone.now()
    start = now
    waits = []
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        assert not webhook_deliver(delivery_id=delivery.pk, now=now - timedelta(seconds=2))
        assert not webhook_deliver(delivery_id=delivery.pk, now=now)
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert (delivery.last_status_code, delivery.last_error) == (
            503,
            "El receptor respondió 503.",
        )
        # Other events reach it meanwhile: this test is about one delivery's schedule.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        if delivery.status == Status.ABANDONED:
            break
        assert delivery.status == Status.FAILED
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert delivery.status == Status.ABANDONED and delivery.next_attempt_at is None
    assert delivery.attempts == webhooks.MAX_ATTEMPTS == 11
    assert waits == list(webhooks.RETRY_DELAYS)
    assert waits[:4] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
    ]
    assert timedelta(days=2, hours=23) < now - start <= timedelta(days=3)
    assert len(receiver.requests) == 11
    assert not webhook_deliver(delivery_id=delivery.pk, now=now + timedelta(days=9))
    # "Reintentar ahora": one more attempt, abandoned again if it fails.
    webhooks.webhook_delivery_retry(actor=endpoint.created_by, delivery=delivery)
    receiver.status = 204
    assert webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 12)


def test_short_retries_are_queued_with_a_countdown_long_ones_left_to_the_beat_job(
    endpoint, receiver
):
    receiver.error = ConnectionRefusedError(111, "Connection refused")
    delivery = _delivery(endpoint)
    QueuedTask.objects.all().delete()
    now = timezone.now()
    webhook_deliver(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert "Connection refused" in delivery.last_error
    assert delivery.last_status_code is None
    task = QueuedTask.objects.get()
    assert (task.name, task.args) == ("crm.webhook_deliver", [delivery.pk])
    assert task.not_before is not None
    QueuedTask.objects.all().delete()
    # Not re-queued by the beat while its countdown task is on its way.
    assert webhooks.webhooks_due(now=now + timedelta(seconds=30)) == 0
    # Its task was lost: re-queued once overdue.
    assert webhooks.webhooks_due(now=now + timedelta(minutes=11)) == 1
    assert webhooks.webhooks_due(now=now + timedelta(minutes=12)) == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=3, queued_at=None)
    QueuedTask.objects.all().delete()
    webhook_deliver(delivery_id=delivery.pk, now=now + timedelta(minutes=30))
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(minutes=30, hours=2)
    assert not QueuedTask.objects.exists()  # two hours: the beat job will queue it
    assert webhooks.webhooks_due(now=now + timedelta(hours=2, minutes=29)) == 0
    assert webhooks.webhooks_due(now=now + timedelta(hours=2, minutes=30)) == 1
    assert QueuedTask.objects.get().args == [delivery.pk]


def test_a_redirect_is_not_followed_and_counts_as_a_failure(endpoint, receiver):
    receiver.status = 302
    delivery = _delivery(endpoint)
    assert not webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Status.FAILED, 302)


# Disabling a failing endpoint ------------------------------------------------------------------


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_creator_emailed(endpoint, receiver):
    receiver.status = 500
    start = timezone.now()
    first = _delivery(endpoint)
    webhook_deliver(delivery_id=first.pk, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == start and endpoint.active
    second = _delivery(endpoint, payload={"contact_id": 2})
    webhook_deliver(delivery_id=second.pk, now=start + timedelta(hours=23))
    endpoint.refresh_from_db()
    assert endpoint.active and mail.outbox == []
    third = _delivery(endpoint, payload={"contact_id": 3})
    with transaction.atomic():  # the email goes after the commit
        webhook_deliver(delivery_id=third.pk, now=start + timedelta(days=1))
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_at == start + timedelta(days=1)
    assert "más de un día" in endpoint.disabled_reason
    assert webhooks.webhooks_due(now=start + timedelta(days=3)) == 0  # nothing more is sent
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.UPDATE, detail__webhook="disabled"
    ).exists()


def test_the_disabling_email_is_in_spanish_to_the_creator(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.status = 500
    start = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=start - timedelta(days=1))
    delivery = _delivery(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliver(delivery_id=delivery.pk, now=start)
    [message] = mail.outbox
    assert message.to == ["ana@ejemplo.mx"]
    assert message.subject.startswith("Webhook desactivado")
    assert "se ha desactivado" in message.body
    assert endpoint.url in message.body
    assert f"/webhooks/{endpoint.pk}/" in message.body


def test_a_success_resets_the_failure_clock(endpoint, receiver):
    receiver.status = 500
    start = timezone.now()
    webhook_deliver(delivery_id=_delivery(endpoint).pk, now=start)
    receiver.status = 200
    webhook_deliver(delivery_id=_delivery(endpoint, payload={"x": 1}).pk, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    receiver.status = 500
    webhook_deliver(
        delivery_id=_delivery(endpoint, payload={"x": 2}).pk, now=start + timedelta(days=2)
    )
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since == start + timedelta(days=2)


# The SSRF guard ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://127.1.2.3/hook",
        "https://[::1]/hook",
        "https://10.0.0.8/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://0.0.0.0/hook",
        "https://[::]/hook",
        "https://224.0.0.1/hook",  # multicast, which Python counts as "global"
        "https://[ff02::1]/hook",
        "https://100.64.0.1/hook",  # shared address space (CGNAT)
        "https://240.0.0.1/hook",  # reserved
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "https://2130706433/hook",  # 127.0.0.1 written as a number
        "https://localhost/hook",  # a name that resolves to 127.0.0.1
        "https://localhost:8000/hook",
    ],
)
def test_internal_targets_are_refused(url):
    with pytest.raises(TargetRefused):
        target_addresses(url)


def test_a_host_is_refused_if_any_of_its_addresses_is_internal(public_dns):
    public_dns["mixto.ejemplo.mx"] = [PUBLIC_IP, "10.1.2.3"]
    with pytest.raises(TargetRefused, match="10.1.2.3"):
        target_addresses("https://mixto.ejemplo.mx/hook")
    public_dns["interno.ejemplo.mx"] = ["127.0.0.1"]
    with pytest.raises(TargetRefused, match="127.0.0.1"):
        target_addresses("https://interno.ejemplo.mx/hook")


@pytest.mark.parametrize(
    "url",
    ["ftp://tienda.mx/h", "file:///etc/passwd", "https://usuario:clave@tienda.mx/h", "https://"],
)
def test_other_schemes_credentials_and_missing_hosts_are_refused(url, public_dns):
    with pytest.raises(TargetRefused):
        target_addresses(url)


def test_unresolvable_hosts_are_refused(monkeypatch):
    def fail(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(webhooks, "_resolve", fail)
    with pytest.raises(TargetRefused, match="No se encontró"):
        target_addresses("https://no-existe.invalid/h")


def test_http_only_when_allowed(public_dns, settings):
    settings.DEBUG, settings.WEBHOOK_ALLOW_HTTP = False, False
    with pytest.raises(TargetRefused, match="https"):
        target_addresses("http://tienda.ejemplo.mx/h")
    settings.WEBHOOK_ALLOW_HTTP = True
    target = target_addresses("http://tienda.ejemplo.mx:8080/h?x=1")
    assert (target.port, target.path, target.addresses) == (8080, "/h?x=1", [PUBLIC_IP])


def test_public_addresses_are_allowed():
    assert target_addresses("https://[2606:4700::1111]/h").addresses == ["2606:4700::1111"]
    assert target_addresses("https://1.1.1.1:8443/h").addresses == ["1.1.1.1"]
    assert target_addresses("https://[::ffff:1.1.1.1]/h").addresses == ["::ffff:101:101"]


def test_saving_an_endpoint_with_an_internal_target_is_refused(admin, public_dns):
    public_dns["intranet.ejemplo.mx"] = ["192.168.0.5"]
    for url in ("https://intranet.ejemplo.mx/h", "https://169.254.169.254/", "https://[::1]/"):
        with pytest.raises(ValidationError) as info:
            webhooks.webhook_endpoint_create(actor=admin, url=url, events=["contact.created"])
        assert "url" in info.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_the_target_is_checked_again_when_sending(endpoint, public_dns, receiver):
    """DNS rebinding: public when saved, internal when sent: refused, nothing posted."""
    public_dns["tienda.ejemplo.mx"] = ["127.0.0.1"]
    delivery = _delivery(endpoint)
    assert not webhook_deliver(delivery_id=delivery.pk)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and "127.0.0.1" in delivery.last_error


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    """The socket is opened to the checked address, not to a second DNS answer."""
    opened = []

    def create_connection(address, timeout=None, source_address=None):
        opened.append(address)
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(webhooks.socket, "create_connection", create_connection)
    target = webhooks.Target(
        scheme="https", host="tienda.ejemplo.mx", port=443, path="/", addresses=[PUBLIC_IP]
    )
    with pytest.raises(ConnectionRefusedError):
        webhooks.http_post(target, b"{}", {})
    assert opened == [(PUBLIC_IP, 443)]


def test_administration_is_for_administrators_only(rep, public_dns):
    with pytest.raises(ValidationError):
        webhooks.webhook_endpoint_create(
            actor=rep, url="https://tienda.ejemplo.mx/h", events=["contact.created"]
        )


def test_at_least_one_known_event_is_required(admin, public_dns):
    with pytest.raises(ValidationError) as info:
        webhooks.webhook_endpoint_create(
            actor=admin, url="https://tienda.ejemplo.mx/h", events=["webhook.test", "otro"]
        )
    assert "events" in info.value.message_dict


# A real receiver ---------------------------------------------------------------------------------


class LocalReceiver(ThreadingHTTPServer):
    """A tiny HTTP server on 127.0.0.1 that records what it is sent and answers `status`."""

    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.received.append((self.path, dict(self.headers.items()), body))
                self.send_response(server.status)
                if 300 <= server.status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/crm/hooks"


@pytest.fixture
def local_receiver(settings, monkeypatch):
    server = LocalReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Only this receiver, on its port, is let through the guard; and only in this test.
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_ADDRESSES_FOR_TESTS = [f"127.0.0.1:{server.server_address[1]}"]
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    yield server
    server.shutdown()
    server.server_close()


def test_a_delivery_reaches_a_real_receiver_signed(
    local_receiver, admin, django_capture_on_commit_callbacks
):
    endpoint = webhooks.webhook_endpoint_create(
        actor=admin, url=local_receiver.url, events=["ticket.created"], description="Local"
    )
    with django_capture_on_commit_callbacks(execute=True):
        event = webhook_emit("ticket.created", {"ticket_id": 9, "number": "INC-2026-000009"})
    [(path, headers, body)] = local_receiver.received
    assert path == "/crm/hooks"
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["webhook-id"] == event.id
    assert verify(endpoint.secret, headers, body)
    assert json.loads(body)["data"] == {"ticket_id": 9, "number": "INC-2026-000009"}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == (
        Status.DELIVERED,
        200,
        1,
    )
    # The task once more (a duplicate message): nothing is sent again.
    from crm.core.tasks import webhook_deliver as task

    task.delay(delivery.pk)
    assert len(local_receiver.received) == 1


def test_a_failing_real_receiver_is_retried_and_its_redirect_not_followed(local_receiver, admin):
    endpoint = webhooks.webhook_endpoint_create(
        actor=admin, url=local_receiver.url, events=["contact.created"]
    )
    local_receiver.status = 307
    delivery = _delivery(endpoint)
    now = timezone.now()
    assert not webhook_deliver(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Status.FAILED, 307)
    assert len(local_receiver.received) == 1  # not to the Location
    local_receiver.status = 200
    assert webhook_deliver(delivery_id=delivery.pk, now=now + timedelta(seconds=5))
    first, second = local_receiver.received
    assert first[1]["webhook-id"] == second[1]["webhook-id"]  # the receiver's dedup key


def test_without_the_test_allowance_the_local_receiver_is_refused(local_receiver, admin, settings):
    settings.WEBHOOK_ALLOWED_ADDRESSES_FOR_TESTS = []
    with pytest.raises(ValidationError):
        webhooks.webhook_endpoint_create(
            actor=admin, url=local_receiver.url, events=["contact.created"]
        )
    endpoint = WebhookEndpoint.objects.create(url=local_receiver.url, events=["contact.created"])
    delivery = _delivery(endpoint)
    assert not webhook_deliver(delivery_id=delivery.pk)
    assert local_receiver.received == []
