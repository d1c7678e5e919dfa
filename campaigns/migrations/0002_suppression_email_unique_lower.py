# The model stores suppressed addresses lower-case with a plain unique index (sends compare
# with =); 0001 had been written with a unique index on lower(email) instead.

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Lower


def lower_emails(apps, schema_editor):
    """The old constraint was unique on lower(email), so lower-casing cannot collide."""
    Suppression = apps.get_model("campaigns", "Suppression")
    Suppression.objects.exclude(email=Lower("email")).update(email=Lower("email"))


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(lower_emails, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="suppression",
            name="suppression_email_ci",
        ),
        migrations.AlterField(
            model_name="suppression",
            name="email",
            field=models.EmailField(max_length=254, unique=True, verbose_name="correo"),
        ),
        migrations.AddConstraint(
            model_name="suppression",
            constraint=models.CheckConstraint(
                condition=models.Q(("email", django.db.models.functions.text.Lower("email"))),
                name="suppression_email_lower",
            ),
        ),
    ]
