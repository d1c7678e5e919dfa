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


# --- Lead routing ------------------------------------------------------------------------------

from contacts.models import Lifecycle, ScoreChange  # noqa: E402
from contacts.tests.factories import ContactFactory  # noqa: E402
from opportunities.models import LeadAssignment, RoutingRule  # noqa: E402


class RoutingRuleFactory(DjangoModelFactory):
    """A territory rule (Jalisco, Mexico) for a new rep; `team=…, rep=None` for turns."""

    class Meta:
        model = RoutingRule

    order = factory.Sequence(lambda n: (n + 1) * 10)
    name = factory.Sequence(lambda n: f"Regla {n}")
    kind = RoutingRule.Kind.TERRITORY
    regions = factory.LazyFunction(lambda: ["jalisco"])
    countries = factory.LazyFunction(lambda: ["MX"])
    rep = factory.SubFactory(UserFactory)
    team = None


class MqlChangeFactory(DjangoModelFactory):
    """A crossing of the MQL threshold (the contact's lifecycle is not touched: see
    `mql_contact`)."""

    class Meta:
        model = ScoreChange

    contact = factory.SubFactory(ContactFactory)
    at = factory.LazyFunction(timezone.now)
    old_score = 50
    new_score = 70
    reason = ScoreChange.Reason.EVENT
    became_mql = True


def mql_contact(**kwargs):
    """A contact at MQL with its crossing, as the scoring leaves one: (contact, change)."""
    contact = ContactFactory(lifecycle=Lifecycle.MQL, lead_score=70, **kwargs)
    return contact, MqlChangeFactory(contact=contact)


class LeadAssignmentFactory(DjangoModelFactory):
    """A pending assignment of a new MQL to a new rep (no task), routed now."""

    class Meta:
        model = LeadAssignment

    rep = factory.SubFactory(UserFactory)
    contact = factory.SubFactory(
        ContactFactory, owner=factory.SelfAttribute("..rep"), lifecycle=Lifecycle.MQL
    )
    score_change = factory.SubFactory(MqlChangeFactory, contact=factory.SelfAttribute("..contact"))
    mql_at = factory.SelfAttribute("score_change.at")
    method = LeadAssignment.Method.RULE
    assigned_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))
