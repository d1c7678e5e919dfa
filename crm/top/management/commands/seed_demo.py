"""`manage.py seed_demo`: the demo data of every app, in one transaction, in the order each
needs the one before.

The users and teams (crm.core.seed), the accounts (accounts.seed), their contacts (contacts.seed),
the tags of both and the consent ledger, the sales data (opportunities.seed), the support data
(support.seed); then, once committed, the A/B/C/D ranking and the campaigns (campaigns.seed).
All of them draw from one `Demo` (crm.core.seeding): one random sequence, one clock, so the same
seed gives the same rows.

`make run` loads it once (`--if-empty`) so a new user logs in to a living CRM, and `make bench`
uses it to build the 100,000 contacts of DESIGN.md §4. `--only-sales` adds just the sales data
to the accounts and contacts already there (what `make bench` does to a database built before
the sales module); `--only-support`, just the support data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.seed import account_rows, account_rows_existing, seed_account_tags, seed_accounts
from campaigns.models import Send, Suppression, TrackingEvent
from campaigns.seed import CampaignSeed, seed_campaigns
from contacts.models import Consent, ConsentLatest, Contact
from contacts.seed import (
    contact_rows,
    contact_rows_existing,
    seed_consents,
    seed_contact_tags,
    seed_contacts,
)
from crm.core.seed import DEMO_PASSWORD, DEMO_USERS, portfolio_owners, seed_users
from crm.core.seeding import Demo, analyze, indexes_built_after
from opportunities.models import Opportunity
from opportunities.seed import MODELS as SALES_MODELS
from opportunities.seed import SalesSeed, seed_sales, tiers_recompute
from support.models import Ticket
from support.seed import MODELS as SUPPORT_MODELS
from support.seed import SupportSeed, seed_support

TICKETS_PER_CONTACT = 5  # one ticket per five contacts: 20,000 per 100,000 (DESIGN.md §4)


@dataclass
class SeedResult:
    users: int = 0
    accounts: int = 0
    contacts: int = 0
    tagged_items: int = 0
    consents: int = 0
    sales: SalesSeed = field(default_factory=SalesSeed)
    support: SupportSeed = field(default_factory=SupportSeed)
    campaigns: CampaignSeed | None = None
    seconds: float = 0.0


def seed_demo(
    *,
    contacts: int,
    accounts: int | None = None,
    opportunities: int | None = None,
    activities: int | None = None,
    tickets: int | None = None,
    only_sales: bool = False,
    only_support: bool = False,
    seed: int = 42,
    stdout,
) -> SeedResult:
    """Build the demo data in one transaction: all of it, or nothing.

    With `only_sales`, add only products, rates, opportunities, activities and quotas to the
    accounts and contacts already there (`contacts` and `accounts` are then ignored); with
    `only_support`, only tickets and surveys.
    """
    demo = Demo(seed=seed, stdout=stdout)
    if only_sales:
        existing = Contact.objects.count()
        opportunities = _default_opportunities(existing) if opportunities is None else opportunities
        activities = _default_activities(existing) if activities is None else activities
        # The "last contacted" update rewrites most accounts and contacts: cheaper with their
        # secondary indexes rebuilt once than updated row by row.
        tables = (*SALES_MODELS, Account, Contact)
        rows = opportunities + activities
    elif only_support:
        tickets = _default_tickets(Contact.objects.count()) if tickets is None else tickets
        tables = SUPPORT_MODELS
        rows = tickets * 8  # with their history, conversation and surveys
    else:
        if accounts is None:
            accounts = max(10, contacts // 5) if contacts else 0
        opportunities = _default_opportunities(contacts) if opportunities is None else opportunities
        activities = _default_activities(contacts) if activities is None else activities
        tickets = _default_tickets(contacts) if tickets is None else tickets
        tables = (
            Account,
            Contact,
            TaggedItem,
            Consent,
            *SALES_MODELS,
            *SUPPORT_MODELS,
        )
        rows = contacts + accounts + opportunities + activities + tickets * 8
    result = SeedResult()
    with transaction.atomic():
        with indexes_built_after(*tables, rows=rows) as rebuilt:
            if only_sales or only_support:
                account_list, contact_list = account_rows_existing(), contact_rows_existing()
                demo.say(
                    f"existentes: {len(account_list):,} cuentas, {len(contact_list):,} contactos"
                )
            else:
                users = seed_users()
                owners = portfolio_owners(users)
                account_objs = seed_accounts(demo, count=accounts, owners=owners)
                contact_objs = seed_contacts(demo, account_objs, count=contacts, owners=owners)
                # Tags and consents after both accounts and contacts: that is their place in the
                # random sequence, so a seed keeps giving the rows it always gave.
                result.tagged_items = seed_account_tags(demo, account_objs)
                result.tagged_items += seed_contact_tags(demo, contact_objs)
                result.consents = seed_consents(demo, contact_objs)
                demo.say(
                    f"etiquetas: {result.tagged_items:,}, consentimientos: {result.consents:,}"
                )
                result.users = len(users)
                result.accounts, result.contacts = len(account_objs), len(contact_objs)
                account_list, contact_list = account_rows(account_objs), contact_rows(contact_objs)
            if not only_support:
                result.sales = seed_sales(
                    demo,
                    account_list,
                    contact_list,
                    opportunities=opportunities,
                    activities=activities,
                )
            if not only_sales:
                result.support = seed_support(demo, account_list, contact_list, tickets=tickets)
        if rebuilt:
            demo.say("índices reconstruidos")
    if not only_support:
        tiers_recompute(demo)
    # consent_latest_rebuild fills ConsentLatest: without statistics the consent filter of the
    # contact list plans badly (130 ms instead of 20 on the benchmark data).
    analyze(*tables, *(() if only_sales or only_support else (ConsentLatest,)))
    if connection.vendor == "postgresql":
        demo.say("estadísticas actualizadas")
    if not only_sales and not only_support:
        # After the tiers (the demo segments select by tier) and the statistics (the segments'
        # queries plan on them). campaigns.seed builds its own data, then its tables' statistics.
        result.campaigns = seed_campaigns(demo)
        analyze(Send, TrackingEvent, Suppression, Consent, ConsentLatest)
        demo.say("campañas")
    result.seconds = time.perf_counter() - demo.started
    return result


def _default_opportunities(contacts: int) -> int:
    return contacts // 2  # 50,000 per 100,000 contacts (DESIGN.md §4)


def _default_activities(contacts: int) -> int:
    return contacts * 3  # 300,000 per 100,000 contacts


def _default_tickets(contacts: int) -> int:
    return contacts // TICKETS_PER_CONTACT  # 20,000 per 100,000 contacts


class Command(BaseCommand):
    help = (
        "Carga datos de demostración: usuarios de cada rol, equipos, cuentas, contactos, "
        "oportunidades, actividades, cuotas, incidencias y encuestas de satisfacción."
    )

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
            "--opportunities",
            type=int,
            default=None,
            help="Oportunidades a crear (por omisión, la mitad de los contactos).",
        )
        parser.add_argument(
            "--activities",
            type=int,
            default=None,
            help="Actividades a crear (por omisión, 3 por contacto).",
        )
        parser.add_argument(
            "--tickets",
            type=int,
            default=None,
            help="Incidencias a crear (por omisión, una por cada 5 contactos).",
        )
        parser.add_argument(
            "--only-sales",
            action="store_true",
            help="Solo datos de ventas (productos, tipos de cambio, oportunidades, actividades y "
            "cuotas) para las cuentas y contactos que ya existen.",
        )
        parser.add_argument(
            "--only-support",
            action="store_true",
            help="Solo datos de soporte (incidencias con su historial y conversación, encuestas "
            "de satisfacción) para las cuentas y contactos que ya existen.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="No hacer nada si ya existe alguna cuenta (con --only-sales: alguna "
            "oportunidad; con --only-support: alguna incidencia) (para `make run`).",
        )

    def handle(
        self,
        *args,
        contacts: int,
        accounts: int | None,
        opportunities: int | None,
        activities: int | None,
        tickets: int | None,
        only_sales: bool,
        only_support: bool,
        seed: int,
        if_empty: bool,
        **options,
    ):
        for name, value in (
            ("--contacts", contacts),
            ("--accounts", accounts),
            ("--opportunities", opportunities),
            ("--activities", activities),
            ("--tickets", tickets),
        ):
            if value is not None and value < 0:
                raise CommandError(f"{name} no puede ser negativo.")
        if only_sales and only_support:
            raise CommandError("Elige --only-sales o --only-support, no los dos.")
        if only_sales:
            already = Opportunity.objects.exists()
        elif only_support:
            already = Ticket.objects.exists()
        else:
            already = Account.objects.exists()
        if if_empty and already:
            self.stdout.write("Ya hay datos: no se cargan los datos de demostración.")
            self.print_users()
            return
        what = (
            "datos de ventas"
            if only_sales
            else "datos de soporte"
            if only_support
            else "datos de demostración"
        )
        self.stdout.write(f"Cargando {what} (semilla {seed})…")
        result = seed_demo(
            contacts=contacts,
            accounts=accounts,
            opportunities=opportunities,
            activities=activities,
            tickets=tickets,
            only_sales=only_sales,
            only_support=only_support,
            seed=seed,
            stdout=self.stdout,
        )
        parts = (
            []
            if only_sales or only_support
            else [
                f"{result.accounts:,} cuentas",
                f"{result.contacts:,} contactos",
                f"{result.tagged_items:,} etiquetas asignadas",
                f"{result.consents:,} registros de consentimiento",
            ]
        )
        if not only_support:
            parts += [
                f"{result.sales.opportunities:,} oportunidades",
                f"{result.sales.activities:,} actividades",
                f"{result.sales.quotas:,} cuotas",
                f"{result.sales.products:,} productos",
                f"{result.sales.rates:,} tipos de cambio",
            ]
        if not only_sales:
            parts += [
                f"{result.support.tickets:,} incidencias",
                f"{result.support.surveys:,} encuestas de satisfacción",
            ]
        if result.campaigns is not None:
            parts += [
                f"{result.campaigns.campaigns:,} campañas",
                f"{result.campaigns.sends:,} envíos",
                f"{result.campaigns.events:,} eventos de seguimiento",
            ]
        self.stdout.write(
            self.style.SUCCESS(f"Listo en {result.seconds:.1f} s: " + ", ".join(parts) + ".")
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
        # Administrators must use two-factor sign-in (settings.MFA_REQUIRED_ROLES).
        self.stdout.write(
            "\nLos administradores configuran la verificación en dos pasos (una aplicación de"
            " autenticación del teléfono) la primera vez que entran."
        )
