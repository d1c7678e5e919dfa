"""Every write of the pipeline: opportunities, their stage moves, line items and products.

A stage change goes through `opportunity_move` only, so that the history, the forecast
category, the closing date and the won/lost reasons never disagree. The amount of a deal that
has lines is the sum of their net amounts, recomputed in the transaction that changes a line.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.concurrency import check_version
from crm.core.models import User
from crm.core.permissions import assignable_owners
from crm.core.webhooks import webhook_emit
from opportunities.models import (
    ForecastCategory,
    LineItem,
    Opportunity,
    Pipeline,
    Product,
    Stage,
    StageChange,
)
from opportunities.money import CENT, Rates, line_totals
from opportunities.permissions import can_sell, opportunity_editable_q

OPPORTUNITY_FIELDS = (
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "forecast_category",
    "lead_source",
    "description",
)
LINE_FIELDS = ("description", "quantity", "unit_price", "discount_pct", "tax_rate")
# What a line's version holds (its edit form, the API's ETag): its fields and its product.
LINE_VERSION_FIELDS = ("product", *LINE_FIELDS)
PRODUCT_FIELDS = ("name", "sku", "description", "price", "currency", "tax_rate", "is_active")


def _check_seller(actor: User) -> None:
    if not can_sell(actor):
        raise PermissionDenied(_("Tu rol no trabaja oportunidades."))


def _check_editable(*, actor: User, opportunity: Opportunity) -> None:
    if not Opportunity.objects.filter(opportunity_editable_q(actor), pk=opportunity.pk).exists():
        raise PermissionDenied(_("No puedes modificar esta oportunidad."))


def _check_owner(*, actor: User, owner: User) -> None:
    if not assignable_owners(actor).filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": _("No puedes asignar oportunidades a %(user)s.") % {"user": owner}}
        )


def _check_contact(*, account: Account, contact: Contact | None) -> None:
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError(
            {
                "contact": _("%(contact)s no es un contacto de %(account)s.")
                % {"contact": contact, "account": account}
            }
        )


def _check_category(*, stage: Stage, category: str) -> None:
    if category == ForecastCategory.CLOSED and not stage.is_won:
        raise ValidationError(
            {"forecast_category": _("Solo una oportunidad ganada tiene la categoría «Cerrada».")}
        )


def _locked(opportunity: Opportunity) -> Opportunity:
    return (
        Opportunity.objects.select_for_update(of=("self",))
        .select_related("stage", "pipeline", "account")
        .get(pk=opportunity.pk)
    )


@transaction.atomic
def opportunity_create(
    *,
    actor: User,
    account: Account,
    data: dict,
    stage: Stage | None = None,
    contact: Contact | None = None,
    owner: User | None = None,
) -> Opportunity:
    """A new open deal; it enters the history at its first stage."""
    _check_seller(actor)
    owner = owner or actor
    _check_owner(actor=actor, owner=owner)
    if account.archived_at is not None:
        raise ValidationError({"account": _("La cuenta está archivada.")})
    _check_contact(account=account, contact=contact)
    if stage is None:
        pipeline = Pipeline.objects.get(is_default=True)
        stage = pipeline.stages.filter(is_won=False, is_lost=False).order_by("order").first()
    if stage.is_closed:
        raise ValidationError(
            {"stage": _("Una oportunidad nueva empieza en una etapa abierta; después se cierra.")}
        )
    opportunity = Opportunity(
        account=account,
        contact=contact,
        owner=owner,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        **{k: v for k, v in data.items() if k in OPPORTUNITY_FIELDS and v is not None},
    )
    _check_category(stage=stage, category=opportunity.forecast_category)
    opportunity.full_clean()
    opportunity.save()
    StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, by=actor)
    return opportunity


@transaction.atomic
def opportunity_update(
    *,
    actor: User,
    opportunity: Opportunity,
    data: dict,
    account: Account | None = None,
    contact: Contact | None = None,
    owner: User | None = None,
    version: str | None = None,
) -> Opportunity:
    """Change the deal's data; the stage changes only through `opportunity_move`.

    `version`: what the edit form was loaded with; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_editable(actor=actor, opportunity=opportunity)
    opportunity = _locked(opportunity)
    check_version(opportunity, version, fields=(*OPPORTUNITY_FIELDS, "account", "contact", "owner"))
    has_lines = opportunity.line_items.exists()
    for field, value in data.items():
        if field not in OPPORTUNITY_FIELDS or value is None:
            continue
        if field == "amount" and has_lines:
            continue  # the sum of the lines
        if field == "currency" and has_lines and value != opportunity.currency:
            raise ValidationError(
                {
                    "currency": _(
                        "Las líneas tienen precios en %(currency)s: quítalas antes de cambiar "
                        "la moneda."
                    )
                    % {"currency": opportunity.currency}
                }
            )
        setattr(opportunity, field, value)
    if account is not None and account.pk != opportunity.account_id:
        if account.archived_at is not None:
            raise ValidationError({"account": _("La cuenta está archivada.")})
        opportunity.account = account
    opportunity.contact = contact
    _check_contact(account=opportunity.account, contact=contact)
    if owner is not None and owner.pk != opportunity.owner_id:
        _check_owner(actor=actor, owner=owner)
        opportunity.owner = owner
    _check_category(stage=opportunity.stage, category=opportunity.forecast_category)
    opportunity.full_clean()
    opportunity.save()
    return opportunity


@transaction.atomic
def opportunity_move(
    *,
    actor: User,
    opportunity: Opportunity,
    stage: Stage,
    lost_reason: str = "",
    won_reason: str = "",
) -> Opportunity:
    """Move the deal to `stage`, with its consequences, and record who moved it and when.

    Won: forecast category «closed», closing time, optional reason. Lost: a reason is required.
    Back to an open stage (reopening): the closing time and the reasons are cleared, and a
    «closed» category falls back to «pipeline». Moving to the current stage changes nothing.
    """
    _check_editable(actor=actor, opportunity=opportunity)
    opportunity = _locked(opportunity)
    if stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError(
            {
                "stage": _("La etapa «%(stage)s» no es del embudo «%(pipeline)s».")
                % {"stage": stage.name, "pipeline": opportunity.pipeline.name}
            }
        )
    lost_reason, won_reason = lost_reason.strip(), won_reason.strip()
    if stage.pk == opportunity.stage_id:
        return opportunity
    if stage.is_lost and not lost_reason:
        raise ValidationError(
            {"lost_reason": _("Indica el motivo por el que se perdió la oportunidad.")},
            code="lost_reason_required",
        )
    from_stage = opportunity.stage
    opportunity.stage = stage
    if stage.is_won:
        opportunity.forecast_category = ForecastCategory.CLOSED
        opportunity.won_reason = won_reason
        opportunity.lost_reason = ""
        opportunity.closed_at = timezone.now()
    elif stage.is_lost:
        if opportunity.forecast_category == ForecastCategory.CLOSED:
            opportunity.forecast_category = ForecastCategory.PIPELINE
        opportunity.lost_reason = lost_reason
        opportunity.won_reason = ""
        opportunity.closed_at = timezone.now()
    else:
        if opportunity.forecast_category == ForecastCategory.CLOSED:
            opportunity.forecast_category = ForecastCategory.PIPELINE
        opportunity.closed_at = None
        opportunity.lost_reason = ""
        opportunity.won_reason = ""
    opportunity.full_clean()
    opportunity.save()
    StageChange.objects.create(
        opportunity=opportunity, from_stage=from_stage, to_stage=stage, by=actor
    )
    webhook_emit(
        "opportunity.stage_changed",
        {
            "opportunity_id": opportunity.pk,
            "account_id": opportunity.account_id,
            "owner_id": opportunity.owner_id,
            "from_stage_id": from_stage.pk,
            "to_stage_id": stage.pk,
            "to_stage": stage.name,
            "is_won": stage.is_won,
            "is_lost": stage.is_lost,
        },
    )
    if stage.is_won:
        webhook_emit(
            "opportunity.won",
            {
                "opportunity_id": opportunity.pk,
                "account_id": opportunity.account_id,
                "owner_id": opportunity.owner_id,
                "amount": str(opportunity.amount),
                "currency": opportunity.currency,
                "closed_at": opportunity.closed_at,
            },
        )
    return opportunity


# Line items ---------------------------------------------------------------------------------


def _recompute_amount(opportunity: Opportunity) -> None:
    lines = list(
        opportunity.line_items.values_list("quantity", "unit_price", "discount_pct", "tax_rate")
    )
    if not lines:
        return  # the last amount stays, and can be edited by hand again
    total = sum(
        (
            line_totals(quantity=q, unit_price=p, discount_pct=d, tax_rate=t)[0]
            for q, p, d, t in lines
        ),
        Decimal("0"),
    )
    opportunity.amount = total
    opportunity.save(update_fields=["amount", "updated_at"])


def _product_price_in(product: Product, currency: str) -> Decimal:
    """The catalogue price in the deal's currency, through the company currency."""
    if product.currency == currency:
        return product.price
    rates = Rates()
    in_company = product.price * rates.rate(product.currency)
    return (in_company / rates.rate(currency)).quantize(CENT)


def _fill_line(line: LineItem, data: dict, currency: str) -> None:
    product = data.get("product", line.product if line.pk else None)
    line.product = product
    for field in LINE_FIELDS:
        value = data.get(field)
        if value not in (None, ""):
            setattr(line, field, value)
    if product is not None:
        if not line.description:
            line.description = product.name
        if data.get("unit_price") in (None, "") and not line.pk:
            line.unit_price = _product_price_in(product, currency)
        if data.get("tax_rate") in (None, "") and not line.pk:
            line.tax_rate = product.tax_rate
    if not line.description:
        raise ValidationError({"description": _("Describe la línea o elige un producto.")})
    if line.unit_price is None:
        raise ValidationError({"unit_price": _("Indica el precio unitario.")})


@transaction.atomic
def line_item_add(*, actor: User, opportunity: Opportunity, data: dict) -> LineItem:
    _check_editable(actor=actor, opportunity=opportunity)
    opportunity = _locked(opportunity)
    line = LineItem(opportunity=opportunity)
    _fill_line(line, data, opportunity.currency)
    line.position = (opportunity.line_items.aggregate(m=Max("position"))["m"] or 0) + 1
    line.full_clean()
    line.save()
    _recompute_amount(opportunity)
    return line


@transaction.atomic
def line_item_update(
    *, actor: User, line: LineItem, data: dict, version: str | None = None
) -> LineItem:
    """Change a line; the deal's amount follows.

    `version`: the line as the caller read it; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_editable(actor=actor, opportunity=line.opportunity)
    opportunity = _locked(line.opportunity)
    line = LineItem.objects.select_for_update().get(pk=line.pk)
    check_version(line, version, fields=LINE_VERSION_FIELDS)
    _fill_line(line, data, opportunity.currency)
    line.full_clean()
    line.save()
    _recompute_amount(opportunity)
    return line


@transaction.atomic
def line_item_remove(*, actor: User, line: LineItem) -> Opportunity:
    _check_editable(actor=actor, opportunity=line.opportunity)
    opportunity = _locked(line.opportunity)
    LineItem.objects.filter(pk=line.pk).delete()
    _recompute_amount(opportunity)
    return opportunity


# Products -----------------------------------------------------------------------------------


def _check_admin(actor: User) -> None:
    if not actor.is_admin_role:
        raise PermissionDenied(_("Solo un administrador gestiona el catálogo de productos."))


@transaction.atomic
def product_create(*, actor: User, data: dict) -> Product:
    _check_admin(actor)
    product = Product(**{k: v for k, v in data.items() if k in PRODUCT_FIELDS})
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_update(
    *, actor: User, product: Product, data: dict, version: str | None = None
) -> Product:
    """Change a product; a product in use is retired (is_active=False), never deleted.

    `version`: the product as the caller read it; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written.
    """
    _check_admin(actor)
    product = Product.objects.select_for_update().get(pk=product.pk)
    check_version(product, version, fields=PRODUCT_FIELDS)
    for field, value in data.items():
        if field in PRODUCT_FIELDS:
            setattr(product, field, value)
    product.full_clean()
    product.save()
    return product
