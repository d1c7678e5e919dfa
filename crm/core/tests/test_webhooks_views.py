"""The webhooks' administration pages (crm.core.views_webhooks): administrators only."""

import pytest
from django.urls import reverse

from crm.core import webhooks
from crm.core.models import AuditEvent, QueuedTask, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.215.14"
Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    answers: dict[str, list[str]] = {}

    def resolve(host, port):
        return answers.get(host, [PUBLIC_IP])

    monkeypatch.setattr(webhooks, "_resolve", resolve)
    return answers


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def endpoint(admin_user):
    return WebhookEndpoint.objects.create(
        url="https://tienda.ejemplo.mx/hooks",
        description="Tienda en línea",
        events=["contact.created", "opportunity.won"],
        created_by=admin_user,
    )


def _post_urls(endpoint, delivery=None):
    urls = [
        reverse("crm:webhook-create"),
        reverse("crm:webhook-update", args=[endpoint.pk]),
        reverse("crm:webhook-enable", args=[endpoint.pk]),
        reverse("crm:webhook-disable", args=[endpoint.pk]),
        reverse("crm:webhook-rotate", args=[endpoint.pk]),
        reverse("crm:webhook-test", args=[endpoint.pk]),
    ]
    if delivery:
        urls.append(reverse("crm:webhook-delivery-retry", args=[endpoint.pk, delivery.pk]))
    return urls


@pytest.mark.parametrize("role", ["rep", "manager", "support", "marketing"])
def test_only_administrators_reach_the_pages(request, client_for, endpoint, role):
    client = client_for(request.getfixturevalue(role))
    event = webhooks.webhook_emit("contact.created", {"contact_id": 1})
    delivery = event.deliveries.get()
    for url in (
        reverse("crm:webhook-list"),
        reverse("crm:webhook-detail", args=[endpoint.pk]),
        *_post_urls(endpoint),
    ):
        assert client.get(url).status_code in (403, 405), url
    for url in _post_urls(endpoint, delivery):
        assert (
            client.post(url, {"url": "https://x.mx/", "events": ["contact.created"]}).status_code
            == 403
        )
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.url == "https://tienda.ejemplo.mx/hooks"
    assert WebhookEndpoint.objects.count() == 1


def test_the_list_shows_the_endpoints(admin_client, endpoint):
    response = admin_client.get(reverse("crm:webhook-list"))
    assert response.status_code == 200
    assert "webhooks/webhook_list.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "Tienda en línea" in content and "Oportunidad ganada" in content


def test_an_administrator_creates_an_endpoint_and_sees_its_secret(admin_client, admin_user):
    page = admin_client.get(reverse("crm:webhook-create")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and 'name="_once"' in page
    response = admin_client.post(
        reverse("crm:webhook-create"),
        {
            "url": "https://erp.ejemplo.mx/eventos",
            "description": "ERP",
            "events": ["ticket.created", "ticket.resolved"],
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.redirect_chain[-1][0] == reverse("crm:webhook-detail", args=[endpoint.pk])
    assert (endpoint.events, endpoint.created_by) == (
        ["ticket.created", "ticket.resolved"],
        admin_user,
    )
    content = response.content.decode()
    assert endpoint.secret in content
    assert 'data-copy-target="#webhook-secret"' in content
    assert "Webhook creado" in content
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CREATE).exists()


def test_an_internal_address_is_refused_on_the_form(admin_client, public_dns):
    public_dns["intranet.ejemplo.mx"] = ["10.0.0.7"]
    response = admin_client.post(
        reverse("crm:webhook-create"),
        {"url": "https://intranet.ejemplo.mx/h", "events": ["contact.created"]},
    )
    assert response.status_code == 200
    assert "no es pública" in response.content.decode()
    response = admin_client.post(
        reverse("crm:webhook-create"), {"url": "https://tienda.mx/h", "events": []}
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_edit_disable_enable_rotate_and_test(admin_client, endpoint):
    response = admin_client.post(
        reverse("crm:webhook-update", args=[endpoint.pk]),
        {"url": "https://tienda.ejemplo.mx/v2", "description": "", "events": ["ticket.created"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == ("https://tienda.ejemplo.mx/v2", ["ticket.created"])

    admin_client.post(reverse("crm:webhook-disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_at is not None
    response = admin_client.post(reverse("crm:webhook-test", args=[endpoint.pk]), follow=True)
    assert "Activa el webhook" in response.content.decode()
    admin_client.post(reverse("crm:webhook-enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None

    old = endpoint.secret
    admin_client.post(reverse("crm:webhook-rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old

    admin_client.post(reverse("crm:webhook-test", args=[endpoint.pk]))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test"
    assert QueuedTask.objects.filter(name="crm.webhook_deliver", args=[delivery.pk]).exists()


def test_the_delivery_log_and_retry_now(admin_client, endpoint, django_assert_max_num_queries):
    for n in range(30):
        webhooks.webhook_emit("contact.created", {"contact_id": n})
    WebhookDelivery.objects.filter(endpoint=endpoint).update(
        status=Status.FAILED,
        attempts=3,
        last_status_code=502,
        last_error="El receptor respondió 502.",
    )
    url = reverse("crm:webhook-detail", args=[endpoint.pk])
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.count("Reintentar ahora") == 25
    assert "502" in content and "3 / 11" in content and "Contacto creado" in content
    assert admin_client.get(url, {"page": 2}).content.decode().count("Reintentar ahora") == 5

    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    QueuedTask.objects.all().delete()
    response = admin_client.post(
        reverse("crm:webhook-delivery-retry", args=[endpoint.pk, delivery.pk])
    )
    assert response.status_code == 302
    assert QueuedTask.objects.get().args == [delivery.pk]

    other = WebhookEndpoint.objects.create(url="https://otro.mx/h", events=["contact.created"])
    response = admin_client.post(
        reverse("crm:webhook-delivery-retry", args=[other.pk, delivery.pk])
    )
    assert response.status_code == 404


def test_a_delivered_delivery_offers_no_retry(admin_client, endpoint):
    webhooks.webhook_emit("contact.created", {"contact_id": 1})
    WebhookDelivery.objects.update(status=Status.DELIVERED, attempts=1, last_status_code=200)
    content = admin_client.get(reverse("crm:webhook-detail", args=[endpoint.pk])).content.decode()
    assert "Reintentar ahora" not in content and "Entregado" in content
