"""Amounts in several currencies, shown and summed in the company currency (settings)."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from opportunities.models import ExchangeRate

CENT = Decimal("0.01")


def company_currency() -> str:
    return settings.COMPANY_CURRENCY


class Rates:
    """The rates table loaded once, for converting many amounts without a query each.

    `Rates().convert(amount, "EUR", on=date)` uses the latest rate valid on that date.
    """

    def __init__(self) -> None:
        self._rates: dict[str, list[tuple[date, Decimal]]] = {}
        for currency, valid_from, rate in ExchangeRate.objects.order_by(
            "currency", "-valid_from"
        ).values_list("currency", "valid_from", "rate"):
            self._rates.setdefault(currency, []).append((valid_from, rate))

    def rate(self, currency: str, on: date | None = None) -> Decimal:
        if currency == company_currency():
            return Decimal("1")
        on = on or timezone.localdate()
        for valid_from, rate in self._rates.get(currency, []):
            if valid_from <= on:
                return rate
        raise ValidationError(
            _("No hay tipo de cambio de %(currency)s a %(company)s para el %(date)s."),
            code="no_rate",
            params={"currency": currency, "company": company_currency(), "date": on},
        )

    def convert(self, amount: Decimal, currency: str, on: date | None = None) -> Decimal:
        return (amount * self.rate(currency, on)).quantize(CENT, rounding=ROUND_HALF_UP)


def line_totals(
    *, quantity: Decimal, unit_price: Decimal, discount_pct: Decimal, tax_rate: Decimal
) -> tuple[Decimal, Decimal]:
    """(net, tax) of one line: the discount applies before the tax, both rounded to cents."""
    gross = quantity * unit_price
    net = (gross * (Decimal("100") - discount_pct) / Decimal("100")).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    tax = (net * tax_rate / Decimal("100")).quantize(CENT, rounding=ROUND_HALF_UP)
    return net, tax
