"""Demo data: users of every role, teams, accounts, contacts, tags and the consent ledger.

`make run` loads it once (`--if-empty`) so a new user logs in to a living CRM, and `make bench`
uses it to build the 100,000 contacts of DESIGN.md §4. Speed matters for the latter, so Faker
is only used to fill small pools of names and streets, which are then combined with one seeded
`random.Random`. Rows are written in batches of 5,000: `bulk_create` on SQLite, COPY on
PostgreSQL, where a big load also rebuilds the secondary indexes once at the end instead of
updating them row by row. Historical records are not written for seeded rows.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone
from faker import Faker
from stdnum.es import cif as es_cif
from stdnum.mx import rfc as mx_rfc
from taggit.models import Tag, TaggedItem

from accounts.models import Account, Industry, Relationship, Size, Status, Tier
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from contacts.services import consent_latest_rebuild
from crm.models import Role, Team
from crm.text import fold

DEMO_PASSWORD = "demo1234"
BATCH_SIZE = 5000
BIG_LOAD = 10_000  # rows from which indexes are rebuilt rather than updated (PostgreSQL)

# username, first name, last name, role, team (None: no team), superuser
DEMO_USERS = [
    ("admin", "Adriana", "Torres Villalobos", Role.ADMINISTRADOR, None, True),
    ("gerente1", "Ricardo", "Fuentes Garza", Role.GERENTE, "Ventas Norte", False),
    ("gerente2", "Patricia", "Ibarra Solís", Role.GERENTE, "Ventas Centro", False),
    ("vendedor1", "Laura", "Méndez Ríos", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor2", "Jorge", "Castillo Peña", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor3", "Sofía", "Ramírez Olvera", Role.VENDEDOR, "Ventas Centro", False),
    ("soporte1", "Daniel", "Ortega Lara", Role.SOPORTE, None, False),
    ("marketing1", "Valeria", "Cruz Navarro", Role.MARKETING, None, False),
]

# city, region, phone area code, postal code range, weight
MX_CITIES = [
    ("Ciudad de México", "Ciudad de México", "55", (1000, 16999), 30),
    ("Naucalpan de Juárez", "Estado de México", "55", (53000, 53990), 4),
    ("Tlalnepantla de Baz", "Estado de México", "55", (54000, 54199), 3),
    ("Guadalajara", "Jalisco", "33", (44100, 44990), 14),
    ("Zapopan", "Jalisco", "33", (45010, 45239), 5),
    ("Monterrey", "Nuevo León", "81", (64000, 64990), 14),
    ("San Pedro Garza García", "Nuevo León", "81", (66200, 66299), 4),
    ("Puebla", "Puebla", "222", (72000, 72599), 4),
    ("Querétaro", "Querétaro", "442", (76000, 76249), 4),
    ("León", "Guanajuato", "477", (37000, 37699), 3),
    ("Mérida", "Yucatán", "999", (97000, 97399), 3),
    ("Tijuana", "Baja California", "664", (22000, 22699), 3),
    ("Chihuahua", "Chihuahua", "614", (31000, 31459), 2),
    ("Cancún", "Quintana Roo", "998", (77500, 77599), 2),
]
# city, province, landline prefix, postal code range, weight; the CIF's province code is the
# first two digits of the postal code.
ES_CITIES = [
    ("Madrid", "Madrid", "91", (28001, 28055), 30),
    ("Barcelona", "Barcelona", "93", (8001, 8042), 22),
    ("Valencia", "Valencia", "96", (46001, 46026), 10),
    ("Sevilla", "Sevilla", "95", (41001, 41020), 8),
    ("Bilbao", "Bizkaia", "944", (48001, 48015), 6),
    ("Zaragoza", "Zaragoza", "976", (50001, 50021), 5),
    ("Málaga", "Málaga", "952", (29001, 29018), 5),
]
SPAIN_SHARE = 0.1

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
LIFECYCLE_BY_STATUS = {
    Status.ACTIVE: {Lifecycle.CUSTOMER: 80, Lifecycle.SQL: 10, Lifecycle.MQL: 5, Lifecycle.LEAD: 5},
    Status.INACTIVE: {Lifecycle.INACTIVE: 85, Lifecycle.CUSTOMER: 10, Lifecycle.LEAD: 5},
    Status.PROSPECT: {
        Lifecycle.LEAD: 55,
        Lifecycle.MQL: 25,
        Lifecycle.SUBSCRIBER: 15,
        Lifecycle.SQL: 5,
    },
    Status.POTENTIAL: {Lifecycle.SQL: 40, Lifecycle.MQL: 35, Lifecycle.LEAD: 25},
    None: {Lifecycle.SUBSCRIBER: 45, Lifecycle.LEAD: 35, Lifecycle.MQL: 15, Lifecycle.SQL: 5},
}
SCORE_RANGE = {
    Lifecycle.SUBSCRIBER: (0, 30),
    Lifecycle.LEAD: (10, 55),
    Lifecycle.MQL: (50, 85),
    Lifecycle.SQL: (60, 95),
    Lifecycle.CUSTOMER: (40, 100),
    Lifecycle.INACTIVE: (0, 40),
}
SOURCE_WEIGHTS = {
    LeadSource.WEB: 25,
    LeadSource.REFERRAL: 18,
    LeadSource.EVENT: 12,
    LeadSource.COLD_CALL: 10,
    LeadSource.SOCIAL: 10,
    LeadSource.EMAIL: 8,
    LeadSource.ADS: 7,
    LeadSource.PARTNER: 6,
    LeadSource.OTHER: 4,
}
JOB_TITLES = [
    "Director General",
    "Directora de Compras",
    "Gerente de Compras",
    "Jefe de Almacén",
    "Contador",
    "Contadora General",
    "Director de Operaciones",
    "Coordinadora de Logística",
    "Asistente de Dirección",
    "Gerente de Ventas",
    "Responsable de TI",
    "Director Financiero",
    "Encargado de Mantenimiento",
    "Gerente de Planta",
    "Jefa de Recursos Humanos",
    "Comprador",
    "Analista de Compras",
    "Propietario",
    "Socia Directora",
    "Gerente Regional",
]
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
CONTACT_TAGS = [
    "Decisor",
    "Influenciador",
    "Usuario final",
    "Boletín",
    "Webinar",
    "Expo 2025",
    "Recomendado",
    "Técnico",
    "Compras",
]
ACCOUNT_NOTES = [
    "Prefiere que lo visiten los martes por la mañana.",
    "Pide factura con complemento de pago.",
    "Compra fuerte en temporada navideña.",
    "Solicitó catálogo actualizado y lista de precios.",
    "Condiciones de pago: 30 días fecha factura.",
    "Interesados en ampliar la línea de productos el próximo trimestre.",
]
MX_FREE_MAIL = ["gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx", "prodigy.net.mx"]
ES_FREE_MAIL = ["gmail.com", "hotmail.es", "outlook.es", "yahoo.es", "telefonica.net"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
]
CONSENT_TEXT_VERSIONS = ["aviso-privacidad-2023-v1", "aviso-privacidad-2024-v2"]
CONSENT_SOURCES = {
    Consent.Source.FORM: 40,
    Consent.Source.IMPORT: 20,
    Consent.Source.IN_PERSON: 15,
    Consent.Source.PHONE: 10,
    Consent.Source.EMAIL: 15,
}


@dataclass
class SeedResult:
    users: int = 0
    accounts: int = 0
    contacts: int = 0
    tagged_items: int = 0
    consents: int = 0
    seconds: float = 0.0


class Pools:
    """Names and streets drawn once from Faker, then combined at random (Faker is slow)."""

    def __init__(self, seed: int) -> None:
        mx, es = Faker("es_MX"), Faker("es_ES")
        mx.seed_instance(seed)
        es.seed_instance(seed + 1)
        self.by_country = {}
        for country, fake in (("MX", mx), ("ES", es)):
            self.by_country[country] = {
                "female": sorted({fake.first_name_female() for _ in range(600)}),
                "male": sorted({fake.first_name_male() for _ in range(600)}),
                "last": sorted({fake.last_name() for _ in range(1500)}),
                "street": sorted({fake.street_name() for _ in range(2000)}),
            }


class Seeder:
    def __init__(self, *, seed: int, stdout, started: float) -> None:
        self.started = started
        self._weights: dict[int, tuple[list, list]] = {}
        self.rng = random.Random(seed)
        self.pools = Pools(seed)
        self.stdout = stdout
        self.now = timezone.now()
        self.emails: set[str] = set()
        self.tax_ids: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------

    def pick(self, weights: dict):
        keys, cumulative = self._cumulative(id(weights), list(weights), weights.values())
        return self.rng.choices(keys, cum_weights=cumulative)[0]

    def city(self, country: str) -> tuple:
        table = ES_CITIES if country == "ES" else MX_CITIES
        rows, cumulative = self._cumulative(id(table), table, (row[-1] for row in table))
        return self.rng.choices(rows, cum_weights=cumulative)[0]

    def _cumulative(self, key: int, items: list, weights) -> tuple[list, list]:
        if key not in self._weights:
            self._weights[key] = (items, list(itertools.accumulate(weights)))
        return self._weights[key]

    def landline(self, country: str, area: str) -> str:
        return f"+{'34' if country == 'ES' else '52'}{area}" + self.digits(
            (9 if country == "ES" else 10) - len(area)
        )

    def mobile(self, country: str, area: str) -> str:
        if country == "ES":
            return "+346" + self.digits(8)
        return f"+52{area}" + self.digits(10 - len(area))

    def digits(self, n: int) -> str:
        return str(self.rng.randrange(10**n)).zfill(n)

    def street(self, country: str) -> str:
        name = self.rng.choice(self.pools.by_country[country]["street"])
        number = self.rng.randint(1, 2500 if country == "MX" else 180)
        if country == "ES":
            return f"{name}, {number}"
        if self.rng.random() < 0.3:
            return f"{name} {number} Int. {self.rng.randint(1, 40)}"
        return f"{name} {number}"

    def when(self, start: datetime, end: datetime | None = None) -> datetime:
        end = end or self.now
        span = max((end - start).total_seconds(), 1.0)
        # Skewed towards the recent past, as real CRMs grow.
        return start + timedelta(seconds=span * (self.rng.random() ** 0.6))

    def person_name(self, country: str) -> tuple[str, str]:
        pool = self.pools.by_country[country]
        first = self.rng.choice(pool["female" if self.rng.random() < 0.5 else "male"])
        last = self.rng.choice(pool["last"])
        if self.rng.random() < 0.75:  # two surnames, as people in Mexico and Spain write them
            last = f"{last} {self.rng.choice(pool['last'])}"
        return first, last

    def unique_email(self, local: str, domain: str) -> str:
        local = "".join(ch for ch in fold(local) if ch.isalnum() or ch in "._") or "contacto"
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        return email

    # -- tax ids ---------------------------------------------------------------------------

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
            base = letter + postal_code[:2] + self.digits(5)
            digit, control_letter = es_cif.calc_check_digits(base)
            # Public bodies (P, Q, S…) carry a letter; companies (A, B) a digit.
            cif = base + (control_letter if letter in "PQS" else digit)
            if cif not in self.tax_ids:
                self.tax_ids.add(cif)
                return cif

    # -- users -----------------------------------------------------------------------------

    def users(self) -> dict[str, object]:
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in self._team_names()}
        users = {}
        for username, first, last, role, team, superuser in DEMO_USERS:
            user, _created = User.objects.update_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.example.com",
                    "role": role,
                    "team": teams.get(team),
                    "is_superuser": superuser,
                    "is_staff": superuser,
                    "is_active": True,
                    "password": password,
                },
            )
            users[username] = user
        for name, team in teams.items():
            manager = next(
                users[u]
                for u, _f, _l, role, t, _s in DEMO_USERS
                if t == name and role == Role.GERENTE
            )
            if team.manager_id != manager.pk:
                team.manager = manager
                team.save(update_fields=["manager"])
        return users

    @staticmethod
    def _team_names() -> list[str]:
        return sorted({team for *_, team, _s in DEMO_USERS if team})

    # -- accounts --------------------------------------------------------------------------

    def account_name(self, industry: str, country: str, city: str) -> str:
        if industry == Industry.PUBLIC:
            return f"{'Ayuntamiento' if country == 'ES' else 'Municipio'} de {city}"
        prefix = self.rng.choice(NAME_PREFIXES[industry])
        last = self.rng.choice(self.pools.by_country[country]["last"])
        roll = self.rng.random()
        if roll < 0.5:
            return f"{prefix} {last}"
        if roll < 0.65:
            return f"{prefix} {last} {'Hermanos' if self.rng.random() < 0.5 else 'e Hijos'}"
        if roll < 0.8:
            regional = MX_REGIONAL if country == "MX" else ES_REGIONAL
            return f"{prefix} {self.rng.choice(regional)}"
        brands = BRANDS + (MX_BRANDS if country == "MX" else [])
        return f"{prefix} {self.rng.choice(brands)}"

    def build_account(self, owners: list[int]) -> Account:
        rng = self.rng
        country = "ES" if rng.random() < SPAIN_SHARE else "MX"
        city, region, area, (pc_lo, pc_hi), _w = self.city(country)
        postal_code = f"{rng.randint(pc_lo, pc_hi):05d}"
        industry = self.pick(INDUSTRY_WEIGHTS)
        status = self.pick(STATUS_WEIGHTS)
        tier = self.pick(TIER_BY_STATUS[status])
        name = self.account_name(industry, country, city)
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
        created = self.when(self.now - timedelta(days=5 * 365))
        account = Account(
            name=name,
            legal_name=legal_name,
            tax_id=tax_id,
            industry=industry,
            size=self.pick(SIZE_BY_TIER[tier]),
            relationship=self.pick(RELATIONSHIP_WEIGHTS),
            status=status,
            phone=self.landline(country, area) if rng.random() < 0.9 else "",
            website=f"https://www.{domain}" if rng.random() < 0.7 else "",
            email=f"{rng.choice(['contacto', 'ventas', 'compras', 'info'])}@{domain}"
            if rng.random() < 0.6
            else "",
            notes=rng.choice(ACCOUNT_NOTES) if rng.random() < 0.15 else "",
            owner_id=rng.choice(owners),
            tier_auto=tier,
            tier_override=rng.choice(Tier.values) if rng.random() < 0.02 else "",
            archived_at=self.when(created) if rng.random() < 0.01 else None,
            street=self.street(country),
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=self.when(created),
        )
        account._domain = domain  # for its contacts' e-mail addresses
        account._area = area
        account.refresh_search_fields()
        return account

    # -- contacts --------------------------------------------------------------------------

    def build_contact(self, account: Account | None, owners: list[int]) -> Contact:
        rng = self.rng
        if account is not None:
            country = account.country
            if rng.random() < 0.85:
                city, region, postal_code, area = (
                    account.city,
                    account.region,
                    account.postal_code,
                    account._area,
                )
            else:
                city, region, area, (lo, hi), _w = self.city(country)
                postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = self.pick(LIFECYCLE_BY_STATUS[account.status])
            owner = account.owner_id if rng.random() < 0.9 else rng.choice(owners)
            created = self.when(account.created_at)
        else:
            country = "ES" if rng.random() < SPAIN_SHARE else "MX"
            city, region, area, (lo, hi), _w = self.city(country)
            postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = self.pick(LIFECYCLE_BY_STATUS[None])
            owner = rng.choice(owners)
            created = self.when(self.now - timedelta(days=4 * 365))
        first, last = self.person_name(country)
        email = ""
        if rng.random() < 0.97:
            surname = last.split()[0]
            local = rng.choice(
                [
                    f"{first}.{surname}",
                    f"{first[0]}{surname}",
                    f"{first}{surname[0]}",
                    f"{first}_{surname}",
                ]
            ).replace(" ", "")
            if account is not None and rng.random() < 0.75:
                domain = account._domain
            else:
                domain = rng.choice(ES_FREE_MAIL if country == "ES" else MX_FREE_MAIL)
            email = self.unique_email(local, domain)
        low, high = SCORE_RANGE[lifecycle]
        birthday = None
        if rng.random() < 0.6:
            birthday = date(self.now.year - rng.randint(22, 66), 1, 1) + timedelta(
                days=rng.randrange(365)
            )
        contact = Contact(
            first_name=first,
            last_name=last,
            email=email,
            phone=self.landline(country, area)
            if account is not None and rng.random() < 0.6
            else "",
            mobile=self.mobile(country, area) if rng.random() < 0.85 else "",
            job_title=rng.choice(JOB_TITLES) if account is not None and rng.random() < 0.8 else "",
            account_id=account.pk if account is not None else None,
            owner_id=owner,
            lifecycle=lifecycle,
            lead_source=self.pick(SOURCE_WEIGHTS),
            lead_score=rng.randint(low, high),
            birthday=birthday,
            archived_at=self.when(created) if rng.random() < 0.01 else None,
            street=self.street(country) if rng.random() < 0.5 else "",
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=self.when(created),
        )
        contact.refresh_search_fields()
        return contact

    def build_consents(self, contact: Contact) -> list[Consent]:
        rng = self.rng
        customer = contact.lifecycle in (Lifecycle.CUSTOMER, Lifecycle.INACTIVE)
        if not contact.email or rng.random() > (0.8 if customer else 0.6):
            return []
        entries = []
        channels = [Consent.Channel.EMAIL]
        if contact.mobile and rng.random() < 0.3:
            channels.append(Consent.Channel.WHATSAPP)
        for channel in channels:
            source = self.pick(CONSENT_SOURCES)
            at = self.when(contact.created_at, contact.created_at + timedelta(days=30))
            at = min(at, self.now)
            form = source == Consent.Source.FORM
            entries.append(
                Consent(
                    contact_id=contact.pk,
                    channel=channel,
                    action=Consent.Action.GRANT,
                    at=at,
                    source=source,
                    legal_basis=Consent.LegalBasis.CONTRACT
                    if customer and rng.random() < 0.3
                    else Consent.LegalBasis.CONSENT,
                    text_version=rng.choice(CONSENT_TEXT_VERSIONS),
                    ip_address=self.ip(contact.country) if form else None,
                    user_agent=rng.choice(USER_AGENTS) if form else "",
                    recorded_by_id=contact.owner_id
                    if source in (Consent.Source.IN_PERSON, Consent.Source.PHONE)
                    else None,
                )
            )
            if rng.random() < 0.12:
                entries.append(
                    Consent(
                        contact_id=contact.pk,
                        channel=channel,
                        action=Consent.Action.WITHDRAW,
                        at=self.when(at),
                        source=Consent.Source.UNSUBSCRIBE
                        if channel == Consent.Channel.EMAIL
                        else Consent.Source.STAFF,
                        legal_basis=Consent.LegalBasis.CONSENT,
                        note="Solicitó no recibir más comunicaciones.",
                    )
                )
        return entries

    def ip(self, country: str) -> str:
        first = self.rng.choice([83, 88, 90] if country == "ES" else [187, 189, 201])
        rest = (self.rng.randint(0, 255), self.rng.randint(0, 255), self.rng.randint(1, 254))
        return ".".join(str(part) for part in (first, *rest))

    # -- tags ------------------------------------------------------------------------------

    def tags(self) -> dict[str, Tag]:
        found = {}
        for name in dict.fromkeys(ACCOUNT_TAGS + CONTACT_TAGS):
            tag = Tag.objects.filter(name__iexact=name).first()
            if tag is None:
                tag = Tag(name=name)
                tag.save()  # taggit makes the slug unique
            found[name] = tag
        return found

    def tagged_items(self, objs, names: list[str], tags: dict, share: float, most: int):
        content_type = ContentType.objects.get_for_model(type(objs[0])) if objs else None
        for obj in objs:
            if self.rng.random() < share:
                for name in self.rng.sample(names, self.rng.randint(1, most)):
                    yield TaggedItem(content_type=content_type, object_id=obj.pk, tag=tags[name])

    # -- the whole ---------------------------------------------------------------------------

    def run(self, *, contacts: int, accounts: int) -> SeedResult:
        started = self.started
        result = SeedResult()
        self.emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))
        self.tax_ids = set(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
        users = self.users()
        result.users = len(users)
        # Reps own most of the portfolio; managers keep a few key accounts.
        owners = [u.pk for u in users.values() if u.role == Role.VENDEDOR] * 4 + [
            u.pk for u in users.values() if u.role == Role.GERENTE
        ]
        tags = self.tags()

        with _timestamps_as_given(Account, Contact):
            account_objs = [self.build_account(owners) for _ in range(accounts)]
            _bulk(Account, account_objs)
            result.accounts = len(account_objs)
            self.stdout.write(f"  cuentas: {result.accounts:,} ({_since(started)})")

            contact_objs = [
                self.build_contact(account, owners)
                for account in self.assign(account_objs, contacts)
            ]
            _bulk(Contact, contact_objs)
            result.contacts = len(contact_objs)
            self.stdout.write(f"  contactos: {result.contacts:,} ({_since(started)})")

        items = list(self.tagged_items(account_objs, ACCOUNT_TAGS, tags, 0.45, 3))
        items += list(self.tagged_items(contact_objs, CONTACT_TAGS, tags, 0.3, 2))
        _bulk(TaggedItem, items)
        result.tagged_items = len(items)

        consents = [e for c in contact_objs for e in self.build_consents(c)]
        _bulk(Consent, consents)
        consent_latest_rebuild()
        result.consents = len(consents)
        self.stdout.write(
            f"  etiquetas: {result.tagged_items:,}, consentimientos: {result.consents:,} "
            f"({_since(started)})"
        )
        return result

    def assign(self, accounts: list[Account], total: int) -> Iterator[Account | None]:
        """One to a handful of contacts per account (more at bigger ones); about one in nine
        contacts has no account."""
        if not accounts:
            yield from [None] * total
            return
        attached = min(total, max(len(accounts), round(total * 0.89)))
        weight = {Size.LARGE: 4, Size.MEDIUM: 2, Size.SMALL: 1}
        cap = {Size.LARGE: 8, Size.MEDIUM: 6, Size.SMALL: 4}
        counts = [1] * min(attached, len(accounts))
        capacity = sum(cap[a.size] for a in accounts)
        left = attached - len(counts)
        while left > 0:
            for i in self.rng.choices(
                range(len(accounts)), weights=[weight[a.size] for a in accounts], k=left
            ):
                # Caps keep it realistic; without room (a tiny --accounts) anything goes.
                if left and (counts[i] < cap[accounts[i].size] or attached > capacity):
                    counts[i] += 1
                    left -= 1
        # An account's contacts get neighbouring ids; with fewer contacts, the last get none.
        for account, n in zip(accounts, counts, strict=False):
            yield from [account] * n
        yield from [None] * (total - attached)


@contextlib.contextmanager
def _timestamps_as_given(*model_classes: type[models.Model]):
    """Let bulk_create keep our spread-out created/updated times instead of "now".

    Demo data all created in the same second makes "new this month" and recency sorting
    meaningless. The flags are restored even if the seeding fails.
    """
    saved = []
    for model in model_classes:
        for name in ("created_at", "updated_at"):
            field = model._meta.get_field(name)
            saved.append((field, field.auto_now, field.auto_now_add))
            field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _bulk(model: type[models.Model], objs: list) -> None:
    """Insert `objs` and set their primary keys: COPY on PostgreSQL, else bulk_create.

    bulk_create spends most of its time preparing each value in Python; COPY makes the 100,000
    contacts of the benchmark load in a fraction of the time, with the same rows.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(objs), BATCH_SIZE):
            model.objects.bulk_create(objs[start : start + BATCH_SIZE])
        return
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated and not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in [opts.pk.column, *(f.column for f in fields)])
    attnames = [f.attname for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BATCH_SIZE):
            batch = objs[start : start + BATCH_SIZE]
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, len(batch)],
            )
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
            with cursor.cursor.copy(f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                for obj in batch:
                    copy.write_row([obj.pk, *(getattr(obj, name) for name in attnames)])


@contextlib.contextmanager
def _indexes_built_after(*model_classes: type[models.Model], rows: int):
    """On PostgreSQL, drop the secondary indexes of a big load and build them again after it.

    Keeping the trigram GIN indexes up to date row by row costs far more than building them
    once over 100,000 rows. Unique and primary-key indexes stay, so the database still guards
    its invariants; each index comes back from its own definition (pg_get_indexdef), inside the
    same transaction, so a failure leaves everything as it was.
    """
    if connection.vendor != "postgresql" or rows < BIG_LOAD:
        yield False
        return
    definitions = []
    with connection.cursor() as cursor:
        for model in model_classes:
            cursor.execute(
                """
                SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid)
                FROM pg_index x
                WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [connection.ops.quote_name(model._meta.db_table)],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {name}")
                definitions.append(definition)
    yield True
    with connection.cursor() as cursor:
        # Deferred foreign-key checks must run before a table can be indexed again.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for definition in definitions:
            cursor.execute(definition)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _analyze(*model_classes: type[models.Model]) -> None:
    """Fresh planner statistics, so the first pages after a big load use the indexes."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in model_classes:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def seed_demo(*, contacts: int, accounts: int | None = None, seed: int = 42, stdout) -> SeedResult:
    """Build the demo data in one transaction: all of it, or nothing."""
    started = time.perf_counter()
    if accounts is None:
        accounts = max(10, contacts // 5) if contacts else 0
    tables = (Account, Contact, TaggedItem, Consent)
    with transaction.atomic():
        with _indexes_built_after(*tables, rows=contacts + accounts) as rebuilt:
            result = Seeder(seed=seed, stdout=stdout, started=started).run(
                contacts=contacts, accounts=accounts
            )
        if rebuilt:
            stdout.write(f"  índices reconstruidos ({_since(started)})")
    _analyze(*tables)
    result.seconds = time.perf_counter() - started
    return result


class Command(BaseCommand):
    help = "Carga datos de demostración: usuarios de cada rol, equipos, cuentas y contactos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=2000, help="Contactos a crear.")
        parser.add_argument(
            "--accounts",
            type=int,
            default=None,
            help="Cuentas a crear (por omisión, 20 %% de los contactos, mínimo 10).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Semilla del generador aleatorio.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="No hacer nada si ya existe alguna cuenta (para `make run`).",
        )

    def handle(
        self, *args, contacts: int, accounts: int | None, seed: int, if_empty: bool, **options
    ):
        if if_empty and Account.objects.exists():
            self.stdout.write("Ya hay datos: no se cargan los datos de demostración.")
            self.print_users()
            return
        self.stdout.write(f"Cargando datos de demostración (semilla {seed})…")
        result = seed_demo(contacts=contacts, accounts=accounts, seed=seed, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Listo en {result.seconds:.1f} s: {result.accounts:,} cuentas, "
                f"{result.contacts:,} contactos, {result.tagged_items:,} etiquetas asignadas, "
                f"{result.consents:,} registros de consentimiento."
            )
        )
        self.print_users()

    def print_users(self) -> None:
        User = get_user_model()
        rows = [("Usuario", "Nombre", "Rol", "Equipo", "Contraseña")]
        users = User.objects.filter(username__in=[u[0] for u in DEMO_USERS]).select_related("team")
        order = [u[0] for u in DEMO_USERS]
        for user in sorted(users, key=lambda u: order.index(u.username)):
            rows.append(
                (
                    user.username,
                    user.get_full_name(),
                    str(user.get_role_display()) + (" (superusuario)" if user.is_superuser else ""),
                    user.team.name if user.team else "—",
                    DEMO_PASSWORD,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        self.stdout.write("")
        for n, row in enumerate(rows):
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
            if n == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
