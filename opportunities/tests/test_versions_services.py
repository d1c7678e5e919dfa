"""The version a caller read a record at, checked by the service under its row lock: an
activity, a line item and a product changed meanwhile are refused (StaleEdit) and nothing is
written; the current version goes through; no version (the pages, the tasks) checks nothing."""

from decimal import Decimal

import pytest

from crm.core.concurrency import StaleEdit, version_token
from opportunities.models import Activity, LineItem, Opportunity, Product
from opportunities.services import activities as activity_services
from opportunities.services import pipeline as services
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, ProductFactory

pytestmark = pytest.mark.django_db


# Activities -------------------------------------------------------------------------------------


def test_a_stale_activity_version_is_refused_and_writes_nothing(rep):
    activity = ActivityFactory(owner=rep, subject="Visita de seguimiento", place="Oficina")
    version = version_token(activity, activity_services.VERSION_FIELDS)
    # Someone else moves the visit meanwhile (another tab, the phone).
    Activity.objects.filter(pk=activity.pk).update(place="Planta de Toluca")

    with pytest.raises(StaleEdit) as caught:
        activity_services.activity_update(
            actor=rep, activity=activity, data={"subject": "Visita comercial"}, version=version
        )

    assert [change.now for change in caught.value.conflict.changes] == ["Planta de Toluca"]
    activity.refresh_from_db()
    assert (activity.subject, activity.place) == ("Visita de seguimiento", "Planta de Toluca")


def test_a_current_activity_version_passes(rep):
    activity = ActivityFactory(owner=rep, subject="Visita de seguimiento")
    version = version_token(activity, activity_services.VERSION_FIELDS)
    # A change outside the version (the reminder's stamp) is no conflict.
    Activity.objects.filter(pk=activity.pk).update(reminder_sent_at=activity.planned_at)

    activity_services.activity_update(
        actor=rep, activity=activity, data={"subject": "Visita comercial"}, version=version
    )

    activity.refresh_from_db()
    assert activity.subject == "Visita comercial"


def test_an_activity_cancelled_meanwhile_is_a_stale_version(rep):
    activity = ActivityFactory(owner=rep)
    version = version_token(activity, activity_services.VERSION_FIELDS)
    activity_services.activity_cancel(actor=rep, activity=activity)

    with pytest.raises(StaleEdit):
        activity_services.activity_update(
            actor=rep, activity=activity, data={"subject": "Otra"}, version=version
        )
    activity.refresh_from_db()
    assert activity.subject == "" and activity.status == Activity.Status.CANCELLED


# Line items -------------------------------------------------------------------------------------


@pytest.fixture
def line(rep):
    deal = OpportunityFactory(owner=rep)
    added = services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={"description": "Sillas", "quantity": Decimal("2"), "unit_price": Decimal("100")},
    )
    return LineItem.objects.select_related("opportunity").get(pk=added.pk)  # as a reader has it


def test_a_stale_line_version_is_refused_and_writes_nothing(rep, line):
    version = version_token(line, services.LINE_VERSION_FIELDS)
    LineItem.objects.filter(pk=line.pk).update(quantity=Decimal("5"))

    with pytest.raises(StaleEdit):
        services.line_item_update(
            actor=rep, line=line, data={"discount_pct": Decimal("10")}, version=version
        )

    line.refresh_from_db()
    assert (line.quantity, line.discount_pct) == (Decimal("5"), Decimal("0"))
    # Nor the deal's amount: still the sum as it was before the refused change.
    assert Opportunity.objects.get(pk=line.opportunity_id).amount == Decimal("200.00")


def test_a_current_line_version_passes(rep, line):
    version = version_token(line, services.LINE_VERSION_FIELDS)

    services.line_item_update(
        actor=rep, line=line, data={"discount_pct": Decimal("10")}, version=version
    )

    line.refresh_from_db()
    assert line.discount_pct == Decimal("10")
    assert Opportunity.objects.get(pk=line.opportunity_id).amount == Decimal("180.00")


# Products ---------------------------------------------------------------------------------------


def test_a_stale_product_version_is_refused_and_writes_nothing(admin_user):
    product = ProductFactory(name="Silla", price=Decimal("800.00"))
    version = version_token(product, services.PRODUCT_FIELDS)
    Product.objects.filter(pk=product.pk).update(price=Decimal("900.00"))

    with pytest.raises(StaleEdit):
        services.product_update(
            actor=admin_user, product=product, data={"name": "Silla ergonómica"}, version=version
        )

    product.refresh_from_db()
    assert (product.name, product.price) == ("Silla", Decimal("900.00"))


def test_a_current_product_version_passes_and_none_checks_nothing(admin_user):
    product = ProductFactory(name="Silla")
    version = version_token(product, services.PRODUCT_FIELDS)

    services.product_update(
        actor=admin_user, product=product, data={"name": "Silla ergonómica"}, version=version
    )
    # The admin page passes no version: no check, as before.
    Product.objects.filter(pk=product.pk).update(sku="OTRO-1")
    services.product_update(actor=admin_user, product=product, data={"name": "Silla alta"})

    product.refresh_from_db()
    assert (product.name, product.sku) == ("Silla alta", "OTRO-1")
