import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0009_import_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="merged_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="fusionado"),
        ),
        migrations.AddField(
            model_name="contact",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contacts.contact",
                verbose_name="fusionado en",
            ),
        ),
    ]
