"""Deals, lines, products and activities, on the default pipeline the migrations create."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import AccountFactory
from crm.core.tests.factories import UserFactory
from opportunities.models import Activity, ActivityKind, Opportunity, Pipeline, Product, Stage


def default_pipeline() -> Pipeline:
    return Pipeline.objects.get(is_default=True)


def stage(name: str) -> Stage:
    """A stage of the default pipeline by its Spanish name: stage("Propuesta")."""
    return Stage.objects.get(pipeline__is_default=True, name=name)


class OpportunityFactory(DjangoModelFactory):
    """An open deal at an account of the same owner, in Prospección unless told otherwise."""

    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Proyecto {n}")
    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory, owner=factory.SelfAttribute("..owner"))
    pipeline = factory.LazyFunction(default_pipeline)
    stage = factory.LazyFunction(lambda: stage("Prospección"))
    amount = Decimal("100000.00")
    currency = "MXN"
    expected_close_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=30))


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Producto {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("1500.00")
    currency = "MXN"
    tax_rate = Decimal("16.00")


class ActivityFactory(DjangoModelFactory):
    """A visit planned for tomorrow at an account of the same owner."""

    class Meta:
        model = Activity

    kind = ActivityKind.VISIT
    status = Activity.Status.PLANNED
    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory, owner=factory.SelfAttribute("..owner"))
    planned_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    duration_minutes = 60
