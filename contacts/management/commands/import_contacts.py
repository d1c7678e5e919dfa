"""`python manage.py import_contacts FILE [--dry-run] [--owner USER] [--country MX]
[--mapping NAME]`: the web import, for administrators, through the same runner.

The last line printed is always the counts, in a fixed form scripts may parse:
`creados N, actualizados N, duplicados N, errores N` (with --dry-run: what the import would do).
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from contacts.imports import mapping as mappings
from contacts.imports import runner
from contacts.imports.readers import read_table
from contacts.imports.rows import POLICIES, ImportOptions
from contacts.models import Consent
from crm.core.models import Role, User


class Command(BaseCommand):
    help = "Importa contactos de un archivo CSV, XLSX o vCard."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV, XLSX o vCard (.vcf)")
        parser.add_argument("--dry-run", action="store_true", help="Solo la vista previa.")
        parser.add_argument("--owner", help="Usuario responsable de los contactos nuevos.")
        parser.add_argument("--country", default="MX", help="País de los teléfonos sin prefijo.")
        parser.add_argument("--mapping", help="Asignación de columnas guardada (por nombre).")
        parser.add_argument("--duplicates", choices=POLICIES, default="skip")
        parser.add_argument("--create-accounts", action="store_true")
        parser.add_argument(
            "--consent-basis",
            choices=Consent.LegalBasis.values,
            default="",
            help="Base legal del consentimiento de la columna asignada a «consent».",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No existe el archivo {path}.")
        owner = self._owner(options["owner"])
        data = path.read_bytes()
        try:
            table = read_table(path.name, data)
            columns = mappings.mapping_for(table.header, name=options["mapping"])
            choices = ImportOptions(
                owner_id=owner.pk,
                country=options["country"].upper(),
                duplicates=options["duplicates"],
                create_accounts=options["create_accounts"],
                consent_basis=options["consent_basis"],
            )
            for column, field in columns.items():
                self.stdout.write(f"{column} → {field}")
            if options["dry_run"]:
                preview = runner.import_preview(
                    actor=None, table=table, mapping=columns, options=choices, limit=20
                )
                for row in preview.rows:
                    if row.reasons:
                        self.stdout.write(f"fila {row.line}: {row.status}: {row.reason_text}")
                self.stdout.write(preview.counts_line)
                return
            run = runner.import_create(
                actor=None,
                file_name=path.name,
                data=data,
                options=choices,
                mapping=columns,
                mapping_name=options["mapping"] or "",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        run = runner.import_execute(run.pk)
        self.stdout.write(f"importación #{run.pk}: {run.get_status_display()}")
        if run.error_message:
            self.stderr.write(run.error_message)
        if run.rejected_file:
            self.stdout.write(f"filas rechazadas: {run.rejected_file.path}")
        self.stdout.write(run.counts_line)

    def _owner(self, username: str | None) -> User:
        if username:
            owner = User.objects.filter(username=username, is_active=True).first()
            if owner is None:
                raise CommandError(f"No hay un usuario activo «{username}».")
            return owner
        owner = (
            User.objects.filter(is_active=True)
            .filter(Q(role=Role.ADMINISTRADOR) | Q(is_superuser=True))
            .order_by("pk")
            .first()
        )
        if owner is None:
            raise CommandError("Indica el responsable con --owner USUARIO.")
        return owner
