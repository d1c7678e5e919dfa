"""The Spanish sales pipeline and the visit plan of the source documents, as defaults."""

from django.db import migrations

STAGES = [
    ("Prospección", 10, False, False),
    ("Calificación", 20, False, False),
    ("Propuesta", 50, False, False),
    ("Negociación", 75, False, False),
    ("Ganada", 100, True, False),
    ("Perdida", 0, False, True),
]
CADENCE = {"A": 14, "B": 30, "C": 90, "D": None}


def seed(apps, schema_editor):
    Pipeline = apps.get_model("opportunities", "Pipeline")
    Stage = apps.get_model("opportunities", "Stage")
    VisitCadence = apps.get_model("opportunities", "VisitCadence")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Ventas", is_default=True)
        for order, (name, probability, won, lost) in enumerate(STAGES, start=1):
            Stage.objects.create(
                pipeline=pipeline,
                name=name,
                order=order,
                probability=probability,
                is_won=won,
                is_lost=lost,
            )
    for tier, days in CADENCE.items():
        VisitCadence.objects.get_or_create(tier=tier, defaults={"days": days})


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
