"""The demo deals: opportunities in every stage of the default pipeline, their catalogue lines,
their stage history, and the sellers' monthly quotas that follow from what they won.

Opportunities belong to the account's owner; amounts are mostly in pesos, in euros for Spanish
accounts, a few in dollars. Deals whose expected close date has passed are mostly won or lost
(A accounts win more), the rest open and overdue.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Size, Status
from accounts.seed import AccountRow
from contacts.seed import SOURCE_WEIGHTS
from crm.core.models import Role, User
from crm.core.seeding import Demo
from opportunities.models import (
    Currency,
    ForecastCategory,
    LineItem,
    Opportunity,
    Product,
    Quota,
    Stage,
    StageChange,
)
from opportunities.money import CENT, line_totals
from opportunities.seed.catalogue import PRODUCT_TAX_ES, PRODUCT_TAX_MX, RATES_TO_MXN

OPPORTUNITY_THEMES = [
    "Suministro anual de {product}",
    "Renovación de {product}",
    "Pedido trimestral de {product}",
    "Proyecto de equipamiento {city}",
    "Ampliación de sucursal {city}",
    "Contrato marco de servicios",
    "Licitación de {product}",
    "Reposición de inventario",
    "Migración a facturación electrónica",
    "Programa de mantenimiento {year}",
    "Compra consolidada {year}",
    "Piloto de {product}",
]
WON_REASONS = [
    "Mejor precio que la competencia",
    "Relación de confianza con el cliente",
    "Tiempo de entrega más corto",
    "Calidad del producto comprobada en la prueba piloto",
    "Condiciones de crédito a 60 días",
    "Servicio posventa y soporte local",
    "Recomendación de otro cliente",
]
LOST_REASONS = [
    "Precio",
    "Eligió a la competencia",
    "Sin presupuesto este año",
    "Proyecto cancelado por el cliente",
    "Tiempo de entrega",
    "No respondió a la propuesta",
    "Condiciones de crédito",
    "Compra centralizada en el corporativo",
]
OPPORTUNITY_NOTES = [
    "El cliente compara con dos proveedores más.",
    "Decide el director de compras; el usuario final ya dio el visto bueno.",
    "Pide entregas parciales mensuales.",
    "Presupuesto aprobado para el segundo semestre.",
    "Requiere alta como proveedor antes de emitir la orden de compra.",
]
# Chances (by the account's effective tier) that a deal whose close date has passed was won,
# or lost; the rest are still open and overdue. A accounts win more, so the Pareto ranking of
# won revenue roughly matches the seeded tiers.
PAST_OUTCOME = {"A": (0.58, 0.27), "B": (0.48, 0.34), "C": (0.38, 0.42), "D": (0.22, 0.55)}
ACCOUNT_DEAL_WEIGHT = {"A": 8.0, "B": 4.0, "C": 2.0, "D": 1.0}
STATUS_DEAL_WEIGHT = {
    Status.ACTIVE: 3.0,
    Status.POTENTIAL: 2.0,
    Status.PROSPECT: 1.5,
    Status.INACTIVE: 0.5,
}
# Typical deal size in MXN by company size (median; log-normal spread).
DEAL_MEDIAN = {Size.LARGE: 420_000, Size.MEDIUM: 140_000, Size.SMALL: 45_000}
TIER_DEAL_FACTOR = {"A": 2.2, "B": 1.4, "C": 1.0, "D": 0.7}
OPEN_STAGE_WEIGHTS = {1: 30, 2: 25, 3: 25, 4: 20}  # stage order → weight, for open deals
OVERDUE_STAGE_WEIGHTS = {1: 20, 2: 25, 3: 30, 4: 25}
STAGE_HISTORY_SHARE = 0.6
LINE_ITEMS_SHARE = {1: 0.1, 2: 0.25, 3: 0.7, 4: 0.8, 5: 0.6, 6: 0.35}  # by stage order
QUOTA_OVER_RUN_RATE = Decimal("1.15")  # quotas a bit above the rep's monthly won average


class DealMaker:
    """Draws the deals of the default pipeline (its stages loaded once)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.now = demo.now
        self.today = demo.today
        stages = list(Stage.objects.filter(pipeline__is_default=True).order_by("order"))
        if not stages:
            raise CommandError(
                "No hay embudo de ventas predeterminado (lo crea la migración opportunities 0002)."
            )
        self.pipeline_id = stages[0].pipeline_id
        self.open_stages = [s for s in stages if not s.is_won and not s.is_lost]
        self.won = next(s for s in stages if s.is_won)
        self.lost = next(s for s in stages if s.is_lost)

    def opportunities(
        self,
        accounts: list[AccountRow],
        contacts_by_account: dict[int, list[int]],
        total: int,
        products: list[Product],
    ) -> tuple[list[Opportunity], dict[int, list], list[tuple[Opportunity, list[Stage]]]]:
        """The deals, their lines (by the deal's index) and the stage paths to write as history."""
        rng = self.rng
        weights = [
            ACCOUNT_DEAL_WEIGHT[a.tier] * STATUS_DEAL_WEIGHT[a.status] * (0.1 if a.archived else 1)
            for a in accounts
        ]
        chosen = rng.choices(accounts, weights=weights, k=total) if accounts and total else []
        opps, lines, paths = [], {}, []
        open_weights = [OPEN_STAGE_WEIGHTS.get(i + 1, 10) for i in range(len(self.open_stages))]
        overdue_weights = [
            OVERDUE_STAGE_WEIGHTS.get(i + 1, 10) for i in range(len(self.open_stages))
        ]
        for account in chosen:
            close = self.today + timedelta(days=rng.randint(-365, 182))
            roll = rng.random()
            if close < self.today:
                won_p, lost_p = PAST_OUTCOME[account.tier]
                if account.status == Status.PROSPECT:
                    won_p, lost_p = won_p * 0.3, lost_p + won_p * 0.7
            else:
                won_p, lost_p = 0.03, 0.03  # closed before the expected date
            if roll < won_p:
                stage = self.won
            elif roll < won_p + lost_p:
                stage = self.lost
            else:
                stage = rng.choices(
                    self.open_stages,
                    weights=overdue_weights if close < self.today else open_weights,
                )[0]
            closed = stage.is_won or stage.is_lost
            closed_at = None
            if closed:
                day = close if close < self.today else self.today - timedelta(rng.randint(0, 20))
                closed_at = self.demo.at_work(day, latest=self.now)
                close = timezone.localdate(closed_at)  # a closed deal's date is its close
            cycle = timedelta(days=min(400, max(3, round(rng.lognormvariate(math.log(60), 0.6)))))
            if closed:
                created = max(closed_at - cycle, account.created_at)
                if created >= closed_at:
                    created = closed_at - timedelta(hours=rng.randint(2, 72))
                updated = closed_at
            else:
                created = self.demo.at_work(close, latest=self.now) - cycle
                created = min(created, self.now - timedelta(days=rng.randint(0, 30), hours=1))
                updated = self.demo.when(created)
            currency = self.currency(account.country)
            product = rng.choice(products)
            name = rng.choice(OPPORTUNITY_THEMES).format(
                product=product.name[0].lower() + product.name[1:],
                city=account.city,
                year=close.year,
            )
            opp = Opportunity(
                name=name[:200],
                account_id=account.pk,
                contact_id=rng.choice(contacts_by_account[account.pk])
                if contacts_by_account.get(account.pk)
                else None,
                owner_id=account.owner_id,
                pipeline_id=self.pipeline_id,
                stage_id=stage.pk,
                currency=currency,
                expected_close_date=close,
                forecast_category=self.forecast_category(stage),
                lead_source=self.demo.pick(SOURCE_WEIGHTS),
                closed_at=closed_at,
                won_reason=rng.choice(WON_REASONS) if stage.is_won else "",
                lost_reason=rng.choice(LOST_REASONS) if stage.is_lost else "",
                description=rng.choice(OPPORTUNITY_NOTES) if rng.random() < 0.2 else "",
                created_at=created,
                updated_at=updated,
            )
            target = self.amount(account, currency)
            share = LINE_ITEMS_SHARE.get(
                6 if stage.is_lost else 5 if stage.is_won else self.open_stages.index(stage) + 1,
                0.3,
            )
            if rng.random() < share:
                lines[len(opps)] = self.line_items(opp, account, target, products)
                opp.amount = sum((line._net for line in lines[len(opps)]), Decimal("0"))
            else:
                opp.amount = target
            opps.append(opp)
            if rng.random() < STAGE_HISTORY_SHARE:
                paths.append((opp, self.stage_path(stage)))
        return opps, lines, paths

    def currency(self, country: str) -> str:
        roll = self.rng.random()
        if roll < 0.04:
            return Currency.USD
        return Currency.EUR if country == "ES" else Currency.MXN

    def amount(self, account: AccountRow, currency: str) -> Decimal:
        """A log-normal deal size by company size and tier, in `currency`, rounded."""
        pesos = DEAL_MEDIAN[account.size] * TIER_DEAL_FACTOR[account.tier]
        pesos = max(3000.0, pesos * self.rng.lognormvariate(0, 0.75))
        if currency == Currency.MXN:
            return Decimal(round(pesos, -2))
        return Decimal(max(100, round(pesos / float(RATES_TO_MXN[currency]), -1)))

    def forecast_category(self, stage: Stage) -> str:
        if stage.is_won or stage.is_lost:
            return ForecastCategory.CLOSED
        roll = self.rng.random()
        if stage.probability >= 75:
            return ForecastCategory.COMMIT if roll < 0.6 else ForecastCategory.BEST_CASE
        if stage.probability >= 50:
            if roll < 0.15:
                return ForecastCategory.COMMIT
            return ForecastCategory.BEST_CASE if roll < 0.6 else ForecastCategory.PIPELINE
        return ForecastCategory.BEST_CASE if roll < 0.1 else ForecastCategory.PIPELINE

    def line_items(
        self, opp: Opportunity, account: AccountRow, target: Decimal, products: list[Product]
    ) -> list[LineItem]:
        """One to five catalogue lines whose quantities add up to about `target`."""
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 5), weights=(30, 30, 20, 12, 8))[0]
        rate = Decimal("1") if opp.currency == Currency.MXN else RATES_TO_MXN[opp.currency]
        tax = PRODUCT_TAX_ES if account.country == "ES" else PRODUCT_TAX_MX
        parts = [rng.random() + 0.2 for _ in range(count)]
        lines = []
        for position, (product, part) in enumerate(
            zip(rng.sample(products, count), parts, strict=True), start=1
        ):
            unit_price = (product.price / rate).quantize(CENT)
            discount = Decimal(rng.choice((0, 0, 0, 5, 10, 15)))
            budget = target * Decimal(part / sum(parts))
            quantity = Decimal(max(1, round(budget / max(unit_price, CENT))))
            net, _tax = line_totals(
                quantity=quantity, unit_price=unit_price, discount_pct=discount, tax_rate=tax
            )
            line = LineItem(
                product_id=product.pk,
                description=product.name,
                quantity=quantity,
                unit_price=unit_price,
                discount_pct=discount,
                tax_rate=tax,
                position=position,
            )
            line._net = net
            lines.append(line)
        return lines

    def stage_path(self, stage: Stage) -> list[Stage]:
        """The stages a deal went through to reach `stage`, from the first."""
        if stage.is_won:
            return [*self.open_stages, stage]
        if stage.is_lost:
            return [*self.open_stages[: self.rng.randint(1, len(self.open_stages))], stage]
        return self.open_stages[: self.open_stages.index(stage) + 1]

    def stage_changes(self, paths: list[tuple[Opportunity, list[Stage]]]) -> list[StageChange]:
        changes = []
        for opp, path in paths:
            end = opp.closed_at or min(opp.updated_at, self.now)
            span = max((end - opp.created_at).total_seconds(), 60.0)
            times = sorted(
                opp.created_at + timedelta(seconds=span * self.rng.random())
                for _ in range(len(path) - 2)
            )
            times = [opp.created_at, *times, end] if len(path) > 1 else [opp.created_at]
            previous = None
            for to_stage, at in zip(path, times, strict=True):
                changes.append(
                    StageChange(
                        opportunity_id=opp.pk,
                        from_stage_id=previous,
                        to_stage_id=to_stage.pk,
                        at=at,
                        by_id=opp.owner_id,
                    )
                )
                previous = to_stage.pk
        return changes

    def quotas(self, opps: list[Opportunity]) -> int:
        """A monthly quota for every seller of the current year, a bit above their monthly won
        average of the last twelve months (in the company currency)."""
        sellers = list(
            User.objects.filter(role__in=[Role.VENDEDOR, Role.GERENTE], is_active=True)
            .filter(accounts__isnull=False)
            .distinct()
            .select_related("team")
        )
        year_ago = self.now - timedelta(days=365)
        won: dict[int, Decimal] = {}
        for opp in opps:
            if opp.stage_id == self.won.pk and opp.closed_at >= year_ago:
                rate = RATES_TO_MXN.get(opp.currency, Decimal("1"))
                won[opp.owner_id] = won.get(opp.owner_id, Decimal("0")) + opp.amount * rate
        existing = set(
            Quota.objects.filter(month__year=self.today.year).values_list("owner_id", "month")
        )
        season = [0.85, 0.9, 1.0, 1.0, 1.05, 1.0, 0.95, 0.95, 1.05, 1.1, 1.15, 1.2]
        new = []
        for seller in sellers:
            monthly = won.get(seller.pk, Decimal("0")) / 12 * QUOTA_OVER_RUN_RATE
            monthly = max(Decimal("150000"), monthly)
            manager_id = seller.team.manager_id if seller.team else None
            for month in range(1, 13):
                first = date(self.today.year, month, 1)
                if (seller.pk, first) in existing:
                    continue
                amount = (monthly * Decimal(str(season[month - 1])) / 10_000).quantize(1) * 10_000
                new.append(
                    Quota(
                        owner_id=seller.pk,
                        month=first,
                        amount=amount,
                        set_by_id=manager_id if manager_id != seller.pk else None,
                    )
                )
        Quota.objects.bulk_create(new)
        return len(new)
