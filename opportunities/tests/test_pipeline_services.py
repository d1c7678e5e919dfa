"""The pipeline's writes: moves and their rules, history, amounts from lines, products."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from opportunities.models import (
    ExchangeRate,
    ForecastCategory,
    LineItem,
    Opportunity,
    Pipeline,
    Product,
    Stage,
    StageChange,
)
from opportunities.services import pipeline as services
from opportunities.tests.factories import OpportunityFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(rep):
    return OpportunityFactory(owner=rep, amount=Decimal("1000.00"))


# Create and update -------------------------------------------------------------------------


def test_create_starts_the_history_at_the_first_stage(rep):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account, owner=rep)
    opportunity = services.opportunity_create(
        actor=rep,
        account=account,
        contact=contact,
        data={
            "name": "Licencias 2026",
            "amount": Decimal("250000"),
            "currency": "USD",
            "expected_close_date": date(2026, 6, 30),
            "forecast_category": ForecastCategory.BEST_CASE,
            "lead_source": "referido",
        },
    )
    opportunity.refresh_from_db()
    assert opportunity.owner == rep
    assert opportunity.stage == stage("Prospección")
    assert opportunity.pipeline.is_default
    assert (opportunity.currency, opportunity.amount) == ("USD", Decimal("250000.00"))
    assert opportunity.lead_source == "referido"
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.from_stage, change.to_stage, change.by) == (None, stage("Prospección"), rep)


def test_create_refuses_a_contact_of_another_account_and_saves_nothing(rep):
    account = AccountFactory(owner=rep)
    stranger = ContactFactory(owner=rep)
    with pytest.raises(ValidationError) as error:
        services.opportunity_create(
            actor=rep,
            account=account,
            contact=stranger,
            data={"name": "X", "expected_close_date": date(2026, 1, 1)},
        )
    assert "contact" in error.value.message_dict
    assert not Opportunity.objects.exists()


def test_create_refuses_a_closed_stage(rep):
    with pytest.raises(ValidationError):
        services.opportunity_create(
            actor=rep,
            account=AccountFactory(owner=rep),
            stage=stage("Ganada"),
            data={"name": "X", "expected_close_date": date(2026, 1, 1)},
        )
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize("role", ["support", "marketing"])
def test_support_and_marketing_cannot_create(request, role):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        services.opportunity_create(
            actor=user,
            account=AccountFactory(),
            data={"name": "X", "expected_close_date": date(2026, 1, 1)},
        )


def test_a_rep_cannot_give_a_deal_to_someone_else(rep, other_rep):
    with pytest.raises(ValidationError):
        services.opportunity_create(
            actor=rep,
            account=AccountFactory(owner=rep),
            owner=other_rep,
            data={"name": "X", "expected_close_date": date(2026, 1, 1)},
        )


def test_update_changes_the_data_but_not_the_stage(rep, deal):
    services.opportunity_update(
        actor=rep,
        opportunity=deal,
        data={"name": "Nuevo nombre", "amount": Decimal("5000"), "currency": "EUR"},
        contact=None,
    )
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.currency) == ("Nuevo nombre", Decimal("5000"), "EUR")
    assert deal.stage == stage("Prospección")


def test_update_refuses_the_closed_category_for_an_open_deal(rep, deal):
    with pytest.raises(ValidationError):
        services.opportunity_update(
            actor=rep, opportunity=deal, data={"forecast_category": ForecastCategory.CLOSED}
        )
    deal.refresh_from_db()
    assert deal.forecast_category == ForecastCategory.PIPELINE


def test_another_reps_deal_cannot_be_updated(other_rep, deal):
    with pytest.raises(PermissionDenied):
        services.opportunity_update(actor=other_rep, opportunity=deal, data={"name": "X"})


# Moves ------------------------------------------------------------------------------------


def test_move_records_the_change_with_its_actor(rep, deal):
    services.opportunity_move(actor=rep, opportunity=deal, stage=stage("Calificación"))
    deal.refresh_from_db()
    assert deal.stage == stage("Calificación")
    change = StageChange.objects.get(opportunity=deal)
    assert (change.from_stage, change.to_stage, change.by) == (
        stage("Prospección"),
        stage("Calificación"),
        rep,
    )


def test_moving_to_the_same_stage_records_nothing(rep, deal):
    services.opportunity_move(actor=rep, opportunity=deal, stage=stage("Prospección"))
    assert not StageChange.objects.exists()


def test_won_closes_the_deal_with_the_optional_reason(rep, deal):
    services.opportunity_move(
        actor=rep, opportunity=deal, stage=stage("Ganada"), won_reason="Mejor precio"
    )
    deal.refresh_from_db()
    assert deal.forecast_category == ForecastCategory.CLOSED
    assert deal.closed_at is not None
    assert deal.won_reason == "Mejor precio"
    services.opportunity_move(actor=rep, opportunity=deal, stage=stage("Negociación"))
    deal.refresh_from_db()
    assert deal.closed_at is None
    assert deal.forecast_category == ForecastCategory.PIPELINE
    assert deal.won_reason == ""


def test_won_without_a_reason_is_fine(rep, deal):
    services.opportunity_move(actor=rep, opportunity=deal, stage=stage("Ganada"))
    deal.refresh_from_db()
    assert deal.stage.is_won and deal.closed_at is not None


def test_lost_without_a_reason_is_refused_and_nothing_changes(rep, deal):
    with pytest.raises(ValidationError) as error:
        services.opportunity_move(
            actor=rep, opportunity=deal, stage=stage("Perdida"), lost_reason="   "
        )
    assert error.value.message_dict["lost_reason"] == [
        "Indica el motivo por el que se perdió la oportunidad."
    ]
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección")
    assert deal.closed_at is None
    assert not StageChange.objects.exists()


def test_lost_with_a_reason_closes_the_deal(rep, deal):
    services.opportunity_move(
        actor=rep, opportunity=deal, stage=stage("Perdida"), lost_reason="Competencia"
    )
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == (stage("Perdida"), "Competencia")
    assert deal.closed_at is not None
    # Reopening clears the closing date and the reason; the history keeps all three moves.
    services.opportunity_move(actor=rep, opportunity=deal, stage=stage("Propuesta"))
    deal.refresh_from_db()
    assert (deal.closed_at, deal.lost_reason) == (None, "")
    assert [c.to_stage.name for c in deal.stage_changes.order_by("id")] == ["Perdida", "Propuesta"]


def test_a_stage_of_another_pipeline_is_refused(rep, deal):
    other = Pipeline.objects.create(name="Licitaciones")
    foreign = Stage.objects.create(pipeline=other, name="Presentada", order=1, probability=30)
    with pytest.raises(ValidationError):
        services.opportunity_move(actor=rep, opportunity=deal, stage=foreign)
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección")


def test_moves_follow_visibility(rep, manager, other_rep, admin_user, support, deal):
    with pytest.raises(PermissionDenied):
        services.opportunity_move(actor=other_rep, opportunity=deal, stage=stage("Propuesta"))
    with pytest.raises(PermissionDenied):
        services.opportunity_move(actor=support, opportunity=deal, stage=stage("Propuesta"))
    services.opportunity_move(actor=manager, opportunity=deal, stage=stage("Propuesta"))
    services.opportunity_move(actor=admin_user, opportunity=deal, stage=stage("Negociación"))
    assert [c.by for c in deal.stage_changes.order_by("id")] == [manager, admin_user]


# Lines and the amount ---------------------------------------------------------------------


def test_the_amount_is_the_sum_of_the_lines_net_amounts(rep, deal):
    # 3 × 1,250.00 = 3,750.00, less 10 % = 3,375.00 (tax 540.00, not in the amount)
    services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={
            "description": "Licencia",
            "quantity": Decimal("3"),
            "unit_price": Decimal("1250.00"),
            "discount_pct": Decimal("10"),
            "tax_rate": Decimal("16"),
        },
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("3375.00")
    # 2 × 999.99 = 1,999.98 → 5,374.98
    line = services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={
            "description": "Soporte",
            "quantity": Decimal("2"),
            "unit_price": Decimal("999.99"),
            "tax_rate": Decimal("21"),
        },
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("5374.98")
    # 1 × 999.99 less 50 % = 499.995 → 500.00 (half up) → 3,875.00
    services.line_item_update(
        actor=rep,
        line=line,
        data={"quantity": Decimal("1"), "discount_pct": Decimal("50")},
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("3875.00")
    services.line_item_remove(actor=rep, line=line)
    deal.refresh_from_db()
    assert deal.amount == Decimal("3375.00")


def test_removing_the_last_line_keeps_the_last_amount(rep, deal):
    line = services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={"description": "A", "quantity": Decimal("1"), "unit_price": Decimal("700")},
    )
    services.line_item_remove(actor=rep, line=line)
    deal.refresh_from_db()
    assert deal.amount == Decimal("700.00")
    assert not deal.line_items.exists()


def test_a_product_fills_the_line_in_the_deals_currency(rep, deal):
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("20"), valid_from=date(2020, 1, 1))
    product = ProductFactory(
        name="Licencia España", price=Decimal("100.00"), currency="EUR", tax_rate=Decimal("21")
    )
    line = services.line_item_add(
        actor=rep, opportunity=deal, data={"product": product, "quantity": Decimal("2")}
    )
    assert line.description == "Licencia España"
    assert line.unit_price == Decimal("2000.00")  # 100 EUR × 20 MXN/EUR
    assert line.tax_rate == Decimal("21")
    deal.refresh_from_db()
    assert deal.amount == Decimal("4000.00")


def test_a_product_without_a_rate_is_refused_and_nothing_is_saved(rep, deal):
    product = ProductFactory(price=Decimal("100.00"), currency="ARS")
    with pytest.raises(ValidationError):
        services.line_item_add(actor=rep, opportunity=deal, data={"product": product})
    deal.refresh_from_db()
    assert deal.amount == Decimal("1000.00")
    assert not LineItem.objects.exists()


def test_an_invalid_line_saves_nothing(rep, deal):
    with pytest.raises(ValidationError):
        services.line_item_add(
            actor=rep,
            opportunity=deal,
            data={
                "description": "X",
                "quantity": Decimal("1"),
                "unit_price": Decimal("10"),
                "discount_pct": Decimal("150"),
            },
        )
    deal.refresh_from_db()
    assert deal.amount == Decimal("1000.00")
    assert not LineItem.objects.exists()


def test_with_lines_the_amount_is_not_typed_and_the_currency_is_fixed(rep, deal):
    services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={"description": "A", "quantity": Decimal("1"), "unit_price": Decimal("10")},
    )
    services.opportunity_update(actor=rep, opportunity=deal, data={"amount": Decimal("99999")})
    deal.refresh_from_db()
    assert deal.amount == Decimal("10.00")
    with pytest.raises(ValidationError):
        services.opportunity_update(actor=rep, opportunity=deal, data={"currency": "USD"})


def test_other_reps_cannot_touch_the_lines(rep, other_rep, deal):
    line = services.line_item_add(
        actor=rep,
        opportunity=deal,
        data={"description": "A", "quantity": Decimal("1"), "unit_price": Decimal("10")},
    )
    with pytest.raises(PermissionDenied):
        services.line_item_remove(actor=other_rep, line=line)
    with pytest.raises(PermissionDenied):
        services.line_item_add(actor=other_rep, opportunity=deal, data={"description": "B"})


# Products ---------------------------------------------------------------------------------


def test_administrators_manage_products(admin_user, rep):
    data = {
        "name": "Terminal",
        "sku": "HW-1",
        "price": Decimal("12800"),
        "currency": "MXN",
        "tax_rate": Decimal("16"),
        "is_active": True,
    }
    product = services.product_create(actor=admin_user, data=data)
    services.product_update(actor=admin_user, product=product, data={"is_active": False})
    product.refresh_from_db()
    assert not product.is_active
    with pytest.raises(PermissionDenied):
        services.product_create(actor=rep, data={**data, "sku": "HW-2"})
    assert Product.objects.count() == 1


def test_a_duplicate_sku_is_refused(admin_user):
    ProductFactory(sku="DUP")
    with pytest.raises(ValidationError):
        services.product_create(
            actor=admin_user, data={"name": "Otro", "sku": "DUP", "price": Decimal("1")}
        )
