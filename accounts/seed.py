"""Demo accounts: companies of Mexico and Spain with valid tax ids (RFC, CIF) and phones, a
status, a seeded tier (few A, many D), a size that goes with it, and some tags.

`seed_demo` calls `seed_accounts` first; the contacts are then generated per account
(contacts.seed), and the apps above take the accounts as `AccountRow`s, from the objects just
built or from the database.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

from stdnum.es import cif as es_cif
from stdnum.mx import rfc as mx_rfc
from taggit.models import TaggedItem

from accounts.models import Account, Industry, Relationship, Size, Status, Tier
from crm.core.seeding import Demo, bulk, tagged_items, timestamps_as_given
from crm.core.text import fold

INDUSTRY_WEIGHTS = {
    Industry.RETAIL: 15,
    Industry.MANUFACTURING: 14,
    Industry.SERVICES: 12,
    Industry.FOOD: 10,
    Industry.CONSTRUCTION: 8,
    Industry.TECHNOLOGY: 8,
    Industry.TRANSPORT: 7,
    Industry.HEALTH: 6,
    Industry.HOSPITALITY: 5,
    Industry.AGRO: 4,
    Industry.EDUCATION: 3,
    Industry.FINANCE: 3,
    Industry.ENERGY: 2,
    Industry.PUBLIC: 2,
    Industry.OTHER: 1,
}
NAME_PREFIXES = {
    Industry.AGRO: ["Agrícola", "Agroindustrias", "Granjas", "Invernaderos", "Productores"],
    Industry.CONSTRUCTION: ["Constructora", "Edificaciones", "Materiales", "Ingeniería Civil"],
    Industry.EDUCATION: ["Colegio", "Instituto", "Centro Educativo", "Academia"],
    Industry.ENERGY: ["Energía Solar", "Gas", "Soluciones Energéticas", "Eléctrica"],
    Industry.FINANCE: ["Financiera", "Arrendadora", "Asesores Financieros", "Caja"],
    Industry.FOOD: ["Alimentos", "Panificadora", "Lácteos", "Embotelladora", "Cafés"],
    Industry.HEALTH: ["Laboratorios", "Clínica", "Farmacias", "Hospital", "Equipo Médico"],
    Industry.HOSPITALITY: ["Hotel", "Hoteles", "Viajes", "Restaurante"],
    Industry.MANUFACTURING: ["Manufacturas", "Industrias", "Plásticos", "Textiles", "Empaques"],
    Industry.PUBLIC: [],  # named after their city
    Industry.RETAIL: ["Comercializadora", "Distribuidora", "Tiendas", "Ferretería", "Papelería"],
    Industry.SERVICES: ["Consultores", "Despacho", "Asesoría", "Servicios Integrales"],
    Industry.TECHNOLOGY: ["Tecnologías", "Sistemas", "Software", "Soluciones Digitales"],
    Industry.TRANSPORT: ["Transportes", "Logística", "Fletes", "Mensajería", "Almacenes"],
    Industry.OTHER: ["Grupo", "Corporativo", "Empresas"],
}
BRANDS = ["Nova", "Alfa", "Delta", "Omega", "Vértice", "Cima", "Áurea", "Atlas", "Sol", "Faro"]
MX_BRANDS = ["Azteca", "Maya", "Tenochtitlan", "Huasteca", "Anáhuac"]
MX_REGIONAL = ["del Norte", "del Bajío", "del Pacífico", "del Golfo", "Peninsular", "del Centro"]
ES_REGIONAL = ["del Mediterráneo", "Ibérica", "del Cantábrico", "Levantina", "del Sur"]
MX_LEGAL = ["S.A. de C.V.", "S.A. de C.V.", "S. de R.L. de C.V.", "S.A.P.I. de C.V.", "S.C."]
ES_LEGAL = [("S.L.", "B"), ("S.L.", "B"), ("S.L.U.", "B"), ("S.A.", "A")]
# Words a company's RFC skips when it takes its initials.
RFC_SKIP = {"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y", "E", "SA", "CV", "SC", "RL", "SAPI"}

STATUS_WEIGHTS = {Status.ACTIVE: 45, Status.PROSPECT: 25, Status.POTENTIAL: 15, Status.INACTIVE: 15}
TIER_BY_STATUS = {  # Pareto-like overall: few A, many D
    Status.ACTIVE: {Tier.A: 12, Tier.B: 25, Tier.C: 35, Tier.D: 28},
    Status.INACTIVE: {Tier.B: 5, Tier.C: 30, Tier.D: 65},
    Status.PROSPECT: {Tier.C: 3, Tier.D: 97},
    Status.POTENTIAL: {Tier.C: 8, Tier.D: 92},
}
SIZE_BY_TIER = {
    Tier.A: {Size.LARGE: 50, Size.MEDIUM: 40, Size.SMALL: 10},
    Tier.B: {Size.LARGE: 25, Size.MEDIUM: 50, Size.SMALL: 25},
    Tier.C: {Size.LARGE: 8, Size.MEDIUM: 37, Size.SMALL: 55},
    Tier.D: {Size.LARGE: 4, Size.MEDIUM: 26, Size.SMALL: 70},
}
RELATIONSHIP_WEIGHTS = {
    Relationship.CUSTOMER: 60,
    Relationship.DISTRIBUTOR: 12,
    Relationship.RETAILER: 12,
    Relationship.WHOLESALER: 8,
    Relationship.PARTNER: 8,
}
ACCOUNT_TAGS = [
    "VIP",
    "Exportador",
    "Licitaciones",
    "Crédito 30 días",
    "Crédito 60 días",
    "Pago puntual",
    "Distribuidor autorizado",
    "Cliente nuevo",
    "Zona norte",
    "Zona centro",
    "Zona bajío",
    "Renovación anual",
]
ACCOUNT_NOTES = [
    "Prefiere que lo visiten los martes por la mañana.",
    "Pide factura con complemento de pago.",
    "Compra fuerte en temporada navideña.",
    "Solicitó catálogo actualizado y lista de precios.",
    "Condiciones de pago: 30 días fecha factura.",
    "Interesados en ampliar la línea de productos el próximo trimestre.",
]


def seed_accounts(demo: Demo, *, count: int, owners: list[int]) -> list[Account]:
    """`count` accounts owned by `owners` (drawn at random), saved; each keeps the e-mail
    domain and phone area its contacts share in `seed_domain` and `seed_area`."""
    maker = AccountMaker(demo)
    with timestamps_as_given(Account):
        accounts = [maker.build(owners) for _ in range(count)]
        bulk(Account, accounts)
    demo.say(f"cuentas: {len(accounts):,}")
    return accounts


def seed_account_tags(demo: Demo, accounts: list[Account]) -> int:
    """Tags on some of the accounts (up to three each); how many were assigned."""
    items = list(tagged_items(demo, accounts, ACCOUNT_TAGS, share=0.45, most=3))
    bulk(TaggedItem, items)
    return len(items)


class AccountMaker:
    """Builds one account at a time; the tax ids stay unique, also against the accounts
    already in the database."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.tax_ids = set(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))

    def build(self, owners: list[int]) -> Account:
        demo, rng = self.demo, self.rng
        country = demo.country()
        city, region, area, (pc_lo, pc_hi), _w = demo.city(country)
        postal_code = f"{rng.randint(pc_lo, pc_hi):05d}"
        industry = demo.pick(INDUSTRY_WEIGHTS)
        status = demo.pick(STATUS_WEIGHTS)
        tier = demo.pick(TIER_BY_STATUS[status])
        name = self.name(industry, country, city)
        founded = date(1975, 1, 1) + timedelta(days=rng.randrange(17500))
        if country == "MX":
            legal_name = name if industry == Industry.PUBLIC else f"{name}, {rng.choice(MX_LEGAL)}"
            tax_id = self.rfc(legal_name, founded)
            tld = "gob.mx" if industry == Industry.PUBLIC else "com.mx"
        else:
            suffix, letter = ("", "P") if industry == Industry.PUBLIC else rng.choice(ES_LEGAL)
            legal_name = f"{name}, {suffix}" if suffix else name
            tax_id = self.cif(letter, postal_code)
            tld = "es"
        if status == Status.PROSPECT and rng.random() < 0.2:
            tax_id = ""  # prospects often have no tax data yet
        slug = "".join(ch for ch in fold(name) if ch.isalnum())[:40]
        domain = f"{slug}.{tld}"
        created = demo.when(demo.now - timedelta(days=5 * 365))
        account = Account(
            name=name,
            legal_name=legal_name,
            tax_id=tax_id,
            industry=industry,
            size=demo.pick(SIZE_BY_TIER[tier]),
            relationship=demo.pick(RELATIONSHIP_WEIGHTS),
            status=status,
            phone=demo.landline(country, area) if rng.random() < 0.9 else "",
            website=f"https://www.{domain}" if rng.random() < 0.7 else "",
            email=f"{rng.choice(['contacto', 'ventas', 'compras', 'info'])}@{domain}"
            if rng.random() < 0.6
            else "",
            notes=rng.choice(ACCOUNT_NOTES) if rng.random() < 0.15 else "",
            owner_id=rng.choice(owners),
            tier_auto=tier,
            tier_override=rng.choice(Tier.values) if rng.random() < 0.02 else "",
            archived_at=demo.when(created) if rng.random() < 0.01 else None,
            street=demo.street(country),
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=demo.when(created),
        )
        account.seed_domain = domain  # for its contacts' e-mail addresses
        account.seed_area = area  # and phones
        account.refresh_search_fields()
        return account

    def name(self, industry: str, country: str, city: str) -> str:
        if industry == Industry.PUBLIC:
            return f"{'Ayuntamiento' if country == 'ES' else 'Municipio'} de {city}"
        rng = self.rng
        prefix = rng.choice(NAME_PREFIXES[industry])
        last = rng.choice(self.demo.pools.by_country[country]["last"])
        roll = rng.random()
        if roll < 0.5:
            return f"{prefix} {last}"
        if roll < 0.65:
            return f"{prefix} {last} {'Hermanos' if rng.random() < 0.5 else 'e Hijos'}"
        if roll < 0.8:
            regional = MX_REGIONAL if country == "MX" else ES_REGIONAL
            return f"{prefix} {rng.choice(regional)}"
        brands = BRANDS + (MX_BRANDS if country == "MX" else [])
        return f"{prefix} {rng.choice(brands)}"

    def rfc(self, name: str, founded: date) -> str:
        words = [w for w in fold(name).upper().replace(",", " ").split() if w not in RFC_SKIP]
        words = ["".join(ch for ch in w if "A" <= ch <= "Z") for w in words]
        words = [w for w in words if w] or ["XAX"]
        letters = "".join(w[0] for w in words[:3])
        letters = (letters + words[0][1:] + "XXX")[:3]
        while True:
            base = (
                letters
                + founded.strftime("%y%m%d")
                + self.rng.choice("123456789ABCDEFGHIJKLMNOPQRSTUV")
                + self.rng.choice("123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            )
            rfc = base + mx_rfc.calc_check_digit(base)
            if rfc not in self.tax_ids:
                self.tax_ids.add(rfc)
                return rfc

    def cif(self, letter: str, postal_code: str) -> str:
        while True:
            base = letter + postal_code[:2] + self.demo.digits(5)
            digit, control_letter = es_cif.calc_check_digits(base)
            # Public bodies (P, Q, S…) carry a letter; companies (A, B) a digit.
            cif = base + (control_letter if letter in "PQS" else digit)
            if cif not in self.tax_ids:
                self.tax_ids.add(cif)
                return cif


class AccountRow(NamedTuple):
    """What the sales and support data need of an account (from the objects just built, or
    the database)."""

    pk: int
    owner_id: int
    country: str
    status: str
    size: str
    tier: str
    name: str
    city: str
    created_at: datetime
    archived: bool


def account_rows(accounts: list[Account]) -> list[AccountRow]:
    return [
        AccountRow(
            a.pk,
            a.owner_id,
            a.country,
            a.status,
            a.size,
            a.effective_tier,
            a.name,
            a.city,
            a.created_at,
            a.archived_at is not None,
        )
        for a in accounts
    ]


def account_rows_existing() -> list[AccountRow]:
    """Every account in the database, in the order of their ids."""
    return [
        AccountRow(*row[:-1], row[-1] is not None)
        for row in Account.objects.order_by("pk").values_list(
            "pk",
            "owner_id",
            "country",
            "status",
            "size",
            "tier",
            "name",
            "city",
            "created_at",
            "archived_at",
        )
    ]
