"""What each role may use: one table read by the navigation and by the views' guards."""

from crm.core.models import Role

# The sections of the interface, and the roles that see them in the navigation.
SECTIONS: dict[str, set[str]] = {
    "accounts": {Role.VENDEDOR, Role.GERENTE, Role.SOPORTE, Role.MARKETING, Role.ADMINISTRADOR},
    "contacts": {Role.VENDEDOR, Role.GERENTE, Role.SOPORTE, Role.MARKETING, Role.ADMINISTRADOR},
    "agenda": {Role.VENDEDOR, Role.GERENTE, Role.ADMINISTRADOR},
    "sales": {Role.VENDEDOR, Role.GERENTE, Role.ADMINISTRADOR},
    # Tickets: support works them; reps and managers read (and open) their customers' ones.
    "support": {Role.VENDEDOR, Role.GERENTE, Role.SOPORTE, Role.ADMINISTRADOR},
    # ¿Quién llama?: whoever answers a customer's phone.
    "caller": {Role.VENDEDOR, Role.GERENTE, Role.SOPORTE, Role.ADMINISTRADOR},
    # The support dashboard (SLA, CSAT, NPS).
    "support_dashboard": {Role.SOPORTE, Role.ADMINISTRADOR},
    # NPS questions to a segment of contacts: support, and marketing (it is campaign work).
    "surveys": {Role.SOPORTE, Role.MARKETING, Role.ADMINISTRADOR},
    # Campaigns: marketing builds segments, writes and sends; managers read the results.
    "campaigns": {Role.MARKETING, Role.ADMINISTRADOR},
    "campaign_results": {Role.MARKETING, Role.GERENTE, Role.ADMINISTRADOR},
    "team": {Role.GERENTE, Role.ADMINISTRADOR},
    "admin": {Role.ADMINISTRADOR},
}


def can_use(user, section: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.role in SECTIONS.get(section, set())
