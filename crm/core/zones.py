"""Time zones of the people a CRM for Mexico, Spain and Latin America talks to.

A contact may name their zone; most never do, so the zone a message waits for is the contact's
own, else the one of their country when the country has a single zone (Colombia, Spain's
mainland), else the company's (settings.TIME_ZONE). `zone_q` selects, in SQL, the contacts
whose effective zone is a given one, so that a job over 100,000 contacts runs one query per
zone in use rather than one per contact.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The zones offered on the contact form, grouped as people know them.
ZONE_CHOICES: list[tuple[str, object]] = [
    ("America/Mexico_City", _("México: centro (Ciudad de México, Guadalajara, Monterrey)")),
    ("America/Cancun", _("México: Quintana Roo (Cancún)")),
    ("America/Chihuahua", _("México: Chihuahua")),
    ("America/Ciudad_Juarez", _("México: Ciudad Juárez")),
    ("America/Mazatlan", _("México: Pacífico (Sinaloa, Nayarit, Baja California Sur)")),
    ("America/Hermosillo", _("México: Sonora")),
    ("America/Tijuana", _("México: Baja California (Tijuana)")),
    ("Europe/Madrid", _("España: península y Baleares")),
    ("Atlantic/Canary", _("España: Canarias")),
    ("America/Guatemala", _("Guatemala")),
    ("America/El_Salvador", _("El Salvador")),
    ("America/Tegucigalpa", _("Honduras")),
    ("America/Managua", _("Nicaragua")),
    ("America/Costa_Rica", _("Costa Rica")),
    ("America/Panama", _("Panamá")),
    ("America/Havana", _("Cuba")),
    ("America/Santo_Domingo", _("República Dominicana")),
    ("America/Puerto_Rico", _("Puerto Rico")),
    ("America/Bogota", _("Colombia")),
    ("America/Caracas", _("Venezuela")),
    ("America/Guayaquil", _("Ecuador (continental)")),
    ("America/Lima", _("Perú")),
    ("America/La_Paz", _("Bolivia")),
    ("America/Santiago", _("Chile (continental)")),
    ("America/Argentina/Buenos_Aires", _("Argentina")),
    ("America/Montevideo", _("Uruguay")),
    ("America/Asuncion", _("Paraguay")),
    ("America/New_York", _("Estados Unidos: este")),
    ("America/Chicago", _("Estados Unidos: centro")),
    ("America/Denver", _("Estados Unidos: montaña")),
    ("America/Los_Angeles", _("Estados Unidos: Pacífico")),
    ("UTC", _("UTC")),
]
ZONE_NAMES = frozenset(name for name, _label in ZONE_CHOICES)

# The zone of a country (crm.core.models.Country) where nearly everyone lives in one: a
# contact of that country without a zone of their own is taken to be there. Mexico and the
# United States have several and keep the company's.
COUNTRY_ZONES: dict[str, str] = {
    "ES": "Europe/Madrid",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "CO": "America/Bogota",
    "PE": "America/Lima",
    "EC": "America/Guayaquil",
    "GT": "America/Guatemala",
}


def company_zone_name() -> str:
    return settings.TIME_ZONE


def effective_zone_name(time_zone: str, country: str) -> str:
    """The zone a contact lives in: their own, else their country's, else the company's."""
    if time_zone:
        return time_zone
    return COUNTRY_ZONES.get(country or "", company_zone_name())


def zone_label(name: str) -> str:
    """How the contact form names a zone ("España: península y Baleares"); else its name."""
    return str(dict(ZONE_CHOICES).get(name, name))


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo of a stored name; the company's when the name is unknown to this system."""
    try:
        return zoneinfo.ZoneInfo(name or company_zone_name())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(company_zone_name())


def zones_q(names, prefix: str = "") -> Q:
    """Contacts (or rows reaching a contact through `prefix`, such as "contact__") whose
    effective zone is one of `names`: one condition, whatever the number of zones."""
    names = set(names)
    own = f"{prefix}time_zone"
    country = f"{prefix}country"
    q = Q(**{f"{own}__in": sorted(names)})
    countries = sorted(code for code, zone_name in COUNTRY_ZONES.items() if zone_name in names)
    if countries:
        q |= Q(**{own: "", f"{country}__in": countries})
    if company_zone_name() in names:
        q |= Q(**{own: ""}) & ~Q(**{f"{country}__in": sorted(COUNTRY_ZONES)})
    return q


def zone_q(name: str, prefix: str = "") -> Q:
    return zones_q({name}, prefix)


def known_zone_names() -> set[str]:
    """Every zone a contact can be in: the offered ones and the company's."""
    return set(ZONE_NAMES) | {company_zone_name()}


def zones_in_use(contacts) -> set[str]:
    """The effective zones of a queryset of contacts: one query over (zone, country) pairs."""
    pairs = contacts.order_by().values_list("time_zone", "country").distinct()
    return {effective_zone_name(tz, country) for tz, country in pairs}
