"""If-Match in the API, checked again by the service under its row lock: a write whose ETag was
current when the viewset compared it, but stale by the time the service locked the row (another
client saved in between), answers 412 and overwrites nothing."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from crm.core.api.tokens import SCOPES, token_create
from opportunities.api import ActivityViewSet, LineItemViewSet, ProductViewSet
from opportunities.models import Activity, LineItem, Product
from opportunities.services import pipeline as services
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, ProductFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def api(user) -> APIClient:
    _token, key = token_create(user=user, name="ERP", scopes=SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def race(monkeypatch, viewset, save_meanwhile) -> None:
    """Another client saves right after the viewset compared If-Match, before the service's
    lock: the window the service's own check closes."""
    checked = viewset.checked_version

    def racing(self, instance):
        version = checked(self, instance)
        save_meanwhile()
        return version

    monkeypatch.setattr(viewset, "checked_version", racing)


def _is_412(response) -> None:
    assert response.status_code == 412, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "El registro cambió desde que lo leíste"


def test_an_activity_saved_between_the_check_and_the_lock_is_not_overwritten(monkeypatch, rep):
    activity = ActivityFactory(owner=rep, subject="Visita", place="Oficina")
    client = api(rep)
    url = reverse("api:activity-detail", args=[activity.pk])
    etag = client.get(url)["ETag"]
    race(
        monkeypatch,
        ActivityViewSet,
        lambda: Activity.objects.filter(pk=activity.pk).update(place="Planta de Toluca"),
    )

    _is_412(client.patch(url, {"subject": "Visita comercial"}, format="json", HTTP_IF_MATCH=etag))

    activity.refresh_from_db()
    assert (activity.subject, activity.place) == ("Visita", "Planta de Toluca")


def test_a_line_saved_between_the_check_and_the_lock_is_not_overwritten(monkeypatch, rep):
    deal = OpportunityFactory(owner=rep)
    line = services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={"description": "Sillas", "quantity": Decimal("2"), "unit_price": Decimal("100")},
    )
    client = api(rep)
    url = reverse("api:opportunity-line-detail", args=[deal.pk, line.pk])
    etag = client.get(url)["ETag"]
    race(
        monkeypatch,
        LineItemViewSet,
        lambda: LineItem.objects.filter(pk=line.pk).update(quantity=Decimal("5")),
    )

    _is_412(client.patch(url, {"discount_pct": "10"}, format="json", HTTP_IF_MATCH=etag))

    line.refresh_from_db()
    assert (line.quantity, line.discount_pct) == (Decimal("5"), Decimal("0"))


def test_a_product_saved_between_the_check_and_the_lock_is_not_overwritten(monkeypatch, admin_user):
    product = ProductFactory(name="Silla", price=Decimal("800.00"))
    client = api(admin_user)
    url = reverse("api:product-detail", args=[product.pk])
    etag = client.get(url)["ETag"]
    race(
        monkeypatch,
        ProductViewSet,
        lambda: Product.objects.filter(pk=product.pk).update(price=Decimal("900.00")),
    )

    _is_412(client.patch(url, {"name": "Silla ergonómica"}, format="json", HTTP_IF_MATCH=etag))

    product.refresh_from_db()
    assert (product.name, product.price) == ("Silla", Decimal("900.00"))


def test_without_a_save_in_between_the_same_writes_go_through(rep, admin_user):
    activity = ActivityFactory(owner=rep, subject="Visita")
    product = ProductFactory(name="Silla")
    for client, url, data in (
        (api(rep), reverse("api:activity-detail", args=[activity.pk]), {"subject": "Otra"}),
        (api(admin_user), reverse("api:product-detail", args=[product.pk]), {"name": "Mesa"}),
    ):
        etag = client.get(url)["ETag"]
        response = client.patch(url, data, format="json", HTTP_IF_MATCH=etag)
        assert response.status_code == 200, response.json()
        assert response["ETag"] != etag
