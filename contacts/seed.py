"""Demo contacts: people at the demo accounts (one to a handful per account, more at bigger
ones) and some without one, with unique e-mail addresses, valid phones, a lifecycle stage that
goes with their account's status, tags, and the consent ledger of who agreed to be written to.

`seed_demo` calls `seed_contacts` with the accounts just seeded; the apps above take the
contacts as `ContactRow`s, from the objects just built or from the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple

from taggit.models import TaggedItem

from accounts.models import Account, Size, Status
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from contacts.services import consent_latest_rebuild
from crm.core.seeding import Demo, bulk, tagged_items, timestamps_as_given
from crm.core.text import fold

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


def seed_contacts(
    demo: Demo, accounts: list[Account], *, count: int, owners: list[int]
) -> list[Contact]:
    """`count` contacts, saved: most at `accounts` (as `accounts.seed.seed_accounts` built
    them), owned mostly by their account's owner, the rest by one of `owners`."""
    maker = ContactMaker(demo)
    with timestamps_as_given(Contact):
        contacts = [maker.build(account, owners) for account in maker.assign(accounts, count)]
        bulk(Contact, contacts)
    demo.say(f"contactos: {len(contacts):,}")
    return contacts


def seed_contact_tags(demo: Demo, contacts: list[Contact]) -> int:
    """Tags on some of the contacts (up to two each); how many were assigned."""
    items = list(tagged_items(demo, contacts, CONTACT_TAGS, share=0.3, most=2))
    bulk(TaggedItem, items)
    return len(items)


def seed_consents(demo: Demo, contacts: list[Contact]) -> int:
    """The consent ledger of `contacts` (grants, some withdrawn later) and each contact's
    latest entry per channel; how many entries were written."""
    entries = [entry for contact in contacts for entry in _consents(demo, contact)]
    bulk(Consent, entries)
    consent_latest_rebuild()
    return len(entries)


class ContactMaker:
    """Builds one contact at a time; the e-mail addresses stay unique, also against the
    contacts already in the database."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))

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

    def build(self, account: Account | None, owners: list[int]) -> Contact:
        demo, rng = self.demo, self.rng
        if account is not None:
            country = account.country
            if rng.random() < 0.85:
                city, region, postal_code, area = (
                    account.city,
                    account.region,
                    account.postal_code,
                    account.seed_area,
                )
            else:
                city, region, area, (lo, hi), _w = demo.city(country)
                postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = demo.pick(LIFECYCLE_BY_STATUS[account.status])
            owner = account.owner_id if rng.random() < 0.9 else rng.choice(owners)
            created = demo.when(account.created_at)
        else:
            country = demo.country()
            city, region, area, (lo, hi), _w = demo.city(country)
            postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = demo.pick(LIFECYCLE_BY_STATUS[None])
            owner = rng.choice(owners)
            created = demo.when(demo.now - timedelta(days=4 * 365))
        first, last = demo.person_name(country)
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
                domain = account.seed_domain
            else:
                domain = rng.choice(ES_FREE_MAIL if country == "ES" else MX_FREE_MAIL)
            email = self.unique_email(local, domain)
        low, high = SCORE_RANGE[lifecycle]
        birthday = None
        if rng.random() < 0.6:
            birthday = date(demo.now.year - rng.randint(22, 66), 1, 1) + timedelta(
                days=rng.randrange(365)
            )
        contact = Contact(
            first_name=first,
            last_name=last,
            email=email,
            phone=demo.landline(country, area)
            if account is not None and rng.random() < 0.6
            else "",
            mobile=demo.mobile(country, area) if rng.random() < 0.85 else "",
            job_title=rng.choice(JOB_TITLES) if account is not None and rng.random() < 0.8 else "",
            account_id=account.pk if account is not None else None,
            owner_id=owner,
            lifecycle=lifecycle,
            lead_source=demo.pick(SOURCE_WEIGHTS),
            lead_score=rng.randint(low, high),
            birthday=birthday,
            archived_at=demo.when(created) if rng.random() < 0.01 else None,
            street=demo.street(country) if rng.random() < 0.5 else "",
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=demo.when(created),
        )
        contact.refresh_search_fields()
        return contact

    def unique_email(self, local: str, domain: str) -> str:
        local = "".join(ch for ch in fold(local) if ch.isalnum() or ch in "._") or "contacto"
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        return email


def _consents(demo: Demo, contact: Contact) -> list[Consent]:
    rng = demo.rng
    customer = contact.lifecycle in (Lifecycle.CUSTOMER, Lifecycle.INACTIVE)
    if not contact.email or rng.random() > (0.8 if customer else 0.6):
        return []
    entries = []
    channels = [Consent.Channel.EMAIL]
    if contact.mobile and rng.random() < 0.3:
        channels.append(Consent.Channel.WHATSAPP)
    for channel in channels:
        source = demo.pick(CONSENT_SOURCES)
        at = demo.when(contact.created_at, contact.created_at + timedelta(days=30))
        at = min(at, demo.now)
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
                ip_address=_ip(demo, contact.country) if form else None,
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
                    at=demo.when(at),
                    source=Consent.Source.UNSUBSCRIBE
                    if channel == Consent.Channel.EMAIL
                    else Consent.Source.STAFF,
                    legal_basis=Consent.LegalBasis.CONSENT,
                    note="Solicitó no recibir más comunicaciones.",
                )
            )
    return entries


def _ip(demo: Demo, country: str) -> str:
    rng = demo.rng
    first = rng.choice([83, 88, 90] if country == "ES" else [187, 189, 201])
    rest = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
    return ".".join(str(part) for part in (first, *rest))


class ContactRow(NamedTuple):
    """What the sales and support data need of a contact (from the objects just built, or the
    database)."""

    pk: int
    account_id: int | None
    owner_id: int
    created_at: datetime
    has_email: bool
    archived: bool


def contact_rows(contacts: list[Contact]) -> list[ContactRow]:
    return [
        ContactRow(
            c.pk, c.account_id, c.owner_id, c.created_at, bool(c.email), c.archived_at is not None
        )
        for c in contacts
    ]


def contact_rows_existing() -> list[ContactRow]:
    """Every contact in the database, in the order of their ids."""
    return [
        ContactRow(pk, account_id, owner_id, created_at, bool(email), archived is not None)
        for pk, account_id, owner_id, created_at, email, archived in Contact.objects.order_by(
            "pk"
        ).values_list("pk", "account_id", "owner_id", "created_at", "email", "archived_at")
    ]
