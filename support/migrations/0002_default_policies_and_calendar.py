"""Default SLA targets, a Monday-to-Friday calendar and a few canned responses in Spanish."""

import datetime

from django.db import migrations

# priority: (first response, resolution) in business minutes.
POLICIES = {
    "urgente": (60, 4 * 60),
    "alta": (2 * 60, 9 * 60),
    "media": (4 * 60, 3 * 9 * 60),
    "baja": (9 * 60, 5 * 9 * 60),
}
CANNED = [
    (
        "Acuse de recibo",
        "Hola, hemos recibido su solicitud y ya la estamos revisando. "
        "Le escribiremos en cuanto tengamos novedades.",
    ),
    (
        "Solicitud de información",
        "Hola, para poder ayudarle necesitamos el número de pedido o de factura y, si es posible, "
        "una foto o captura del problema. Quedamos atentos.",
    ),
    (
        "Resuelto",
        "Hola, le confirmamos que el problema quedó resuelto. Si vuelve a presentarse, responda a "
        "este correo y reabriremos la incidencia. Gracias por su paciencia.",
    ),
]


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("support", "SlaPolicy")
    BusinessCalendar = apps.get_model("support", "BusinessCalendar")
    BusinessHours = apps.get_model("support", "BusinessHours")
    CannedResponse = apps.get_model("support", "CannedResponse")
    for priority, (first, resolution) in POLICIES.items():
        SlaPolicy.objects.get_or_create(
            priority=priority,
            defaults={"first_response_minutes": first, "resolution_minutes": resolution},
        )
    calendar, created = BusinessCalendar.objects.get_or_create(pk=1)
    if created:
        for weekday in range(5):
            BusinessHours.objects.create(
                calendar=calendar,
                weekday=weekday,
                opens_at=datetime.time(9),
                closes_at=datetime.time(18),
            )
    for title, body in CANNED:
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
