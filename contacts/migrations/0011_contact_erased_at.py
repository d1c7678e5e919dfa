from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0010_contact_merged_into"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="erased_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="datos eliminados"),
        ),
        migrations.AddField(
            model_name="historicalcontact",
            name="erased_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="datos eliminados"),
        ),
    ]
