"""The demo catalogue: the products a typical B2B supplier in Mexico sells (services,
licences, equipment, consumables; prices in pesos before IVA), and two years of monthly exchange
rates to the peso for the other currencies.

Both are reference data: seeding again adds only what is missing.
"""

from datetime import date
from decimal import Decimal

from crm.core.seeding import Demo
from opportunities.models import Currency, ExchangeRate, Product

# sku, name, price in MXN (before IVA), quantity range of a typical order
PRODUCTS = [
    ("SRV-001", "Póliza de mantenimiento preventivo anual", "48500.00", (1, 3)),
    ("SRV-002", "Póliza de mantenimiento correctivo (bolsa de 20 horas)", "18900.00", (1, 4)),
    ("SRV-003", "Instalación y puesta en marcha", "12500.00", (1, 3)),
    ("SRV-004", "Capacitación en sitio (jornada de 8 horas)", "9800.00", (1, 5)),
    ("SRV-005", "Consultoría de procesos (hora)", "1650.00", (8, 80)),
    ("SRV-006", "Soporte técnico remoto mensual", "3900.00", (3, 12)),
    ("SRV-007", "Levantamiento y diagnóstico inicial", "7500.00", (1, 2)),
    ("SRV-008", "Flete local Ciudad de México y zona metropolitana", "2800.00", (1, 10)),
    ("SRV-009", "Flete foráneo (por tarima)", "1450.00", (2, 40)),
    ("SRV-010", "Almacenaje mensual (por posición de tarima)", "650.00", (10, 200)),
    ("SRV-011", "Calibración de equipo de medición", "2350.00", (1, 20)),
    ("SRV-012", "Auditoría de seguridad e higiene", "22000.00", (1, 2)),
    ("LIC-001", "Licencia de software de inventarios (usuario/año)", "4200.00", (3, 50)),
    ("LIC-002", "Licencia de punto de venta (caja/año)", "3600.00", (2, 30)),
    ("LIC-003", "Módulo de facturación electrónica CFDI 4.0 (año)", "8900.00", (1, 3)),
    ("LIC-004", "Hospedaje en la nube (plan empresarial, mes)", "2450.00", (6, 12)),
    ("EQP-001", 'Terminal punto de venta táctil 15"', "18700.00", (1, 12)),
    ("EQP-002", "Impresora térmica de tickets", "3450.00", (1, 15)),
    ("EQP-003", "Lector de código de barras inalámbrico", "2150.00", (2, 25)),
    ("EQP-004", "Báscula electrónica 150 kg", "6800.00", (1, 8)),
    ("EQP-005", "Regulador y no-break 1500 VA", "4100.00", (1, 20)),
    ("EQP-006", 'Computadora portátil empresarial 14"', "21500.00", (1, 20)),
    ("EQP-007", "Montacargas eléctrico (renta mensual)", "14500.00", (1, 6)),
    ("EQP-008", "Rack de almacenaje industrial (módulo)", "9200.00", (2, 40)),
    ("EQP-009", "Patín hidráulico 2.5 t", "7300.00", (1, 10)),
    ("EQP-010", "Cámara de seguridad IP con instalación", "3850.00", (4, 32)),
    ("MAT-001", "Caja de cartón corrugado doble (paquete de 100)", "1890.00", (5, 200)),
    ("MAT-002", "Película estirable para emplaye (rollo)", "385.00", (20, 400)),
    ("MAT-003", "Tarima de madera estándar 1.20 × 1.00 m", "295.00", (20, 500)),
    ("MAT-004", 'Etiqueta térmica 4 × 6" (rollo de 500)', "245.00", (10, 300)),
    ("MAT-005", "Guantes de nitrilo (caja de 100)", "189.00", (10, 400)),
    ("MAT-006", "Casco de seguridad con suspensión", "165.00", (10, 200)),
    ("MAT-007", "Chaleco reflejante de alta visibilidad", "120.00", (10, 300)),
    ("MAT-008", "Botas de seguridad con casquillo (par)", "890.00", (5, 150)),
    ("MAT-009", "Papel bond carta (caja de 10 paquetes)", "1120.00", (5, 100)),
    ("MAT-010", "Tóner láser de alto rendimiento", "1890.00", (2, 60)),
    ("MAT-011", "Desengrasante industrial (garrafa de 20 l)", "1350.00", (2, 80)),
    ("MAT-012", "Aceite hidráulico ISO 68 (cubeta de 19 l)", "1780.00", (2, 60)),
    ("MAT-013", "Bolsa de polietileno para empaque (millar)", "640.00", (5, 200)),
    ("MAT-014", "Cinta canela para embalaje (caja de 36)", "720.00", (5, 120)),
]
PRODUCT_TAX_MX = Decimal("16.00")
PRODUCT_TAX_ES = Decimal("21.00")
# Units of MXN per unit of the currency, around mid-2025; each month drifts a little.
RATES_TO_MXN = {
    "EUR": Decimal("21.40"),
    "USD": Decimal("18.90"),
    "COP": Decimal("0.0046"),
    "ARS": Decimal("0.0160"),
    "CLP": Decimal("0.0198"),
    "PEN": Decimal("5.20"),
}
RATE_MONTHS = 24
RATE_PLACES = Decimal("0.00000001")


def products() -> tuple[list[Product], int]:
    """The catalogue in the order of PRODUCTS, and how many products were added to it."""
    existing = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
    new = [
        Product(
            sku=sku,
            name=name,
            price=Decimal(price),
            currency=Currency.MXN,
            tax_rate=PRODUCT_TAX_MX,
            description="",
        )
        for sku, name, price, _q in PRODUCTS
        if sku not in existing
    ]
    Product.objects.bulk_create(new)
    catalogue = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
    return [catalogue[sku] for sku, *_ in PRODUCTS], len(new)


def rates(demo: Demo) -> int:
    """A rate per currency and month for the last two years, drifting back from today's; how
    many were added."""
    existing = set(ExchangeRate.objects.values_list("currency", "valid_from"))
    first = demo.today.replace(day=1)
    new = []
    for currency, base in RATES_TO_MXN.items():
        rate = base
        for months_ago in range(RATE_MONTHS):
            year, month = divmod(first.year * 12 + first.month - 1 - months_ago, 12)
            valid_from = date(year, month + 1, 1)
            if (currency, valid_from) not in existing:
                new.append(
                    ExchangeRate(
                        currency=currency,
                        rate=rate.quantize(RATE_PLACES),
                        valid_from=valid_from,
                    )
                )
            # Older months: a random walk, the peso a little stronger or weaker.
            rate = rate * Decimal(str(round(1 + demo.rng.gauss(0, 0.015), 4)))
    ExchangeRate.objects.bulk_create(new)
    return len(new)
