"""Who is measured and on which pages: a sales rep, their manager and a support agent, and each
page's (label, URL name, args, query, target) with real rows of theirs."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()  # idempotent: a no-op when bench/__main__.py has set Django up

import phonenumbers  # noqa: E402
from django.apps import apps  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account  # noqa: E402
from bench.measure import CALLER_TARGET, FORECAST_TARGET, PAGE_TARGET, SEARCH_TARGET, Target  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm.core.models import Role, User  # noqa: E402


def _rep() -> User | None:
    rep = User.objects.filter(username="vendedor1", role=Role.VENDEDOR).first()
    if rep is None or not Account.objects.filter(owner=rep).exists():
        rep = User.objects.filter(role=Role.VENDEDOR, accounts__isnull=False).order_by("pk").first()
    return rep


def _manager(rep: User) -> User | None:
    """The manager who sees the forecast: gerente1 if it leads a team, else the rep's manager,
    else any manager who leads a team."""
    managers = User.objects.filter(role=Role.GERENTE, managed_teams__isnull=False).distinct()
    return (
        managers.filter(username="gerente1").first()
        or managers.filter(managed_teams__members=rep).order_by("pk").first()
        or managers.order_by("pk").first()
    )


def _pages(rep: User) -> list[tuple[str, str, tuple, dict, Target]]:
    """(label, URL name, args, query, target) for every measured page, with real rows of `rep`."""
    account = (
        Account.objects.filter(owner=rep, archived_at=None, contacts__isnull=False)
        .exclude(tax_id="")
        .order_by("pk")
        .first()
        or Account.objects.filter(owner=rep).order_by("pk").first()
    )
    contact = (
        Contact.objects.filter(owner=rep, archived_at=None, account__isnull=False)
        .exclude(mobile="")
        .exclude(email="")
        .order_by("pk")
        .first()
        or Contact.objects.filter(owner=rep).order_by("pk").first()
    )
    account_pk = account.pk if account else 0
    contact_pk = contact.pk if contact else 0
    name = _accentless_name(rep)
    email_fragment = contact.email.split("@")[0] if contact and contact.email else "gmail"
    phone = _reformatted_phone(contact.mobile or contact.phone) if contact else "55 1234"
    tax_id = account.tax_id if account and account.tax_id else "XAX010101000"
    return [
        ("cuentas: lista", "accounts:account-list", (), {}, PAGE_TARGET),
        (
            "cuentas: filtrada",
            "accounts:account-list",
            (),
            {"status": "activo", "tier": "A"},
            PAGE_TARGET,
        ),
        ("cuentas: página 400", "accounts:account-list", (), {"page": 400}, PAGE_TARGET),
        ("contactos: lista", "contacts:contact-list", (), {}, PAGE_TARGET),
        (
            "contactos: filtrada",
            "contacts:contact-list",
            (),
            {"lifecycle": "mql", "consent": "grant"},
            PAGE_TARGET,
        ),
        ("contactos: página 2000", "contacts:contact-list", (), {"page": 2000}, PAGE_TARGET),
        # The lists' totals load after the page, by their own request (crm.core.forms_utils).
        ("cuentas: total", "accounts:account-count", (), {}, PAGE_TARGET),
        ("contactos: total", "contacts:contact-count", (), {}, PAGE_TARGET),
        (
            "contactos: total filtrado",
            "contacts:contact-count",
            (),
            {"lifecycle": "mql", "consent": "grant"},
            PAGE_TARGET,
        ),
        ("cuenta: ficha", "accounts:account-detail", (account_pk,), {}, PAGE_TARGET),
        (
            "cuenta: panel contactos",
            "contacts:account-contacts-panel",
            (account_pk,),
            {},
            PAGE_TARGET,
        ),
        ("contacto: ficha", "contacts:contact-detail", (contact_pk,), {}, PAGE_TARGET),
        (f"buscar nombre «{name}»", "crm:search", (), {"q": name}, SEARCH_TARGET),
        (
            f"buscar correo «{email_fragment}»",
            "crm:search",
            (),
            {"q": email_fragment},
            SEARCH_TARGET,
        ),
        (f"buscar teléfono «{phone}»", "crm:search", (), {"q": phone}, SEARCH_TARGET),
        (f"buscar RFC/CIF «{tax_id}»", "crm:search", (), {"q": tax_id}, SEARCH_TARGET),
    ]


def _sales_pages(rep: User, manager: User | None) -> list[tuple]:
    """The pages of the sales module (issue #3): (label, URL name, args, query, target, who)."""
    Opportunity = apps.get_model("opportunities", "Opportunity")
    Stage = apps.get_model("opportunities", "Stage")
    proposal = Stage.objects.filter(pipeline__is_default=True, name="Propuesta").first()
    mine = Opportunity.objects.filter(owner=rep)
    opportunity = (
        mine.filter(line_items__isnull=False, activities__isnull=False).order_by("pk").first()
        or mine.order_by("pk").first()
    )
    today = timezone.localdate()
    period = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return [
        ("oportunidades: tablero", "opportunities:board", (), {}, PAGE_TARGET, "rep"),
        ("oportunidades: lista", "opportunities:opportunity-list", (), {}, PAGE_TARGET, "rep"),
        (
            "oportunidades: en Propuesta",
            "opportunities:opportunity-list",
            (),
            {"stage": proposal.pk if proposal else 0},
            PAGE_TARGET,
            "rep",
        ),
        (
            "oportunidades: página 400",
            "opportunities:opportunity-list",
            (),
            {"page": 400},
            PAGE_TARGET,
            "rep",
        ),
        (
            "oportunidad: ficha",
            "opportunities:opportunity-detail",
            (opportunity.pk if opportunity else 0,),
            {},
            PAGE_TARGET,
            "rep",
        ),
        ("agenda", "opportunities:agenda", (), {}, PAGE_TARGET, "rep"),
        (
            f"previsión {period} (gerente)",
            "opportunities:forecast",
            (),
            {"period": period},
            FORECAST_TARGET,
            "manager",
        ),
    ]


def _agent() -> User | None:
    """The support agent measured: soporte1 if it has tickets, else whoever has the most."""
    Ticket = apps.get_model("support", "Ticket")
    agent = User.objects.filter(username="soporte1", role=Role.SOPORTE).first()
    if agent is not None and Ticket.objects.filter(assignee=agent).exists():
        return agent
    return (
        User.objects.filter(role=Role.SOPORTE, is_active=True).order_by("pk").first()
        if not Ticket.objects.exists()
        else User.objects.filter(role=Role.SOPORTE, assigned_tickets__isnull=False)
        .order_by("pk")
        .first()
    )


def _support_pages(agent: User, rep: User) -> list[tuple]:
    """The pages of the support module (issue #4): (label, URL name, args, query, target, who)."""
    Ticket = apps.get_model("support", "Ticket")
    Comment = apps.get_model("support", "Comment")
    ticket = (
        Ticket.objects.filter(assignee=agent, pk__in=Comment.objects.values("ticket"))
        .order_by("-pk")
        .first()
        or Ticket.objects.order_by("-pk").first()
    )
    rep_account = (
        Account.objects.filter(owner=rep, tickets__isnull=False).order_by("pk").first()
        or Account.objects.filter(owner=rep).order_by("pk").first()
    )
    caller = (
        Contact.objects.filter(tickets__isnull=False, archived_at=None)
        .exclude(mobile="")
        .order_by("pk")
        .first()
    )
    national = _national(caller.mobile) if caller else "5512345678"
    spaced = f"{national[:2]} {national[2:6]} {national[6:]}"
    ticket_pk = ticket.pk if ticket else 0
    # A customer's name as an agent types it: the last name of a ticket's contact, with its
    # first name, matched in the contact's own search text (support.selectors.tickets).
    customer = ticket.contact.full_name if ticket and ticket.contact_id else "García López"
    return [
        ("incidencias: abiertas", "support:ticket-list", (), {}, PAGE_TARGET, "support"),
        ("incidencias: mías", "support:ticket-list", (), {"queue": "mine"}, PAGE_TARGET, "support"),
        (
            "incidencias: vencidas",
            "support:ticket-list",
            (),
            {"queue": "breached"},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: vencen pronto",
            "support:ticket-list",
            (),
            {"queue": "soon"},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: todas, página 200",
            "support:ticket-list",
            (),
            {"queue": "all", "page": 200},
            PAGE_TARGET,
            "support",
        ),
        (
            "incidencias: texto «pedido»",
            "support:ticket-list",
            (),
            {"queue": "all", "q": "pedido"},
            PAGE_TARGET,
            "support",
        ),
        (
            f"incidencias: cliente «{customer}»",
            "support:ticket-list",
            (),
            {"queue": "all", "q": customer},
            PAGE_TARGET,
            "support",
        ),
        ("incidencias: total", "support:ticket-list-count", (), {}, PAGE_TARGET, "support"),
        ("incidencia: ficha", "support:ticket-detail", (ticket_pk,), {}, PAGE_TARGET, "support"),
        (
            "incidencia: conversación",
            "support:ticket-comments",
            (ticket_pk,),
            {},
            PAGE_TARGET,
            "support",
        ),
        (
            "cuenta: panel incidencias (vendedor)",
            "support:account-tickets-panel",
            (rep_account.pk if rep_account else 0,),
            {},
            PAGE_TARGET,
            "rep",
        ),
        (
            f"¿quién llama? «+52 1 {spaced}»",
            "crm:caller",
            (),
            {"q": f"+52 1 {spaced}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? «044 {spaced}»",
            "crm:caller",
            (),
            {"q": f"044 {spaced}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? «{national[2:6]} {national[6:]}»",
            "crm:caller",
            (),
            {"q": f"{national[2:6]} {national[6:]}"},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? 3 dígitos «{national[-3:]}»",
            "crm:caller",
            (),
            {"q": national[-3:]},
            CALLER_TARGET,
            "support",
        ),
        (
            f"¿quién llama? vendedor «{spaced}»",
            "crm:caller",
            (),
            {"q": spaced},
            CALLER_TARGET,
            "rep",
        ),
        ("panel de soporte (30 días)", "support:dashboard", (), {}, FORECAST_TARGET, "support"),
    ]


def _national(e164: str) -> str:
    """The national significant number of a stored phone: "+525512345678" → "5512345678"."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164
        ).removeprefix("+")[-10:]
    except phonenumbers.NumberParseException:
        return "5512345678"


def _accentless_name(rep: User) -> str:
    """A common surname that people write with an accent, typed without it ("perez")."""
    for surname in ("Pérez", "Hernández", "Martínez", "González", "Rodríguez", "López"):
        if Contact.objects.filter(owner=rep, last_name__startswith=surname).exists():
            return (
                surname.lower()
                .replace("é", "e")
                .replace("á", "a")
                .replace("í", "i")
                .replace("ó", "o")
            )
    contact = Contact.objects.filter(owner=rep).order_by("pk").first()
    return contact.last_name.split()[0].lower() if contact else "perez"


def _reformatted_phone(e164: str) -> str:
    """The stored "+525512345678" as a person types it: " 55 1234 5678"."""
    if not e164:
        return "55 1234"
    number = phonenumbers.parse(e164, None)
    return " " + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
