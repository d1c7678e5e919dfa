"""The import job, its saved column mappings and what each run did (for the exact undo)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportMapping(models.Model):
    """A column → field mapping saved by a user under a name, offered for the next import."""

    name = models.CharField(_("nombre"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("usuario"),
        on_delete=models.CASCADE,
        related_name="import_mappings",
    )
    # {"column name in the file": "field" (see contacts.imports.mapping.FIELDS)}
    columns = models.JSONField(_("columnas"), default=dict)
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modificada"), auto_now=True)

    class Meta:
        verbose_name = _("asignación de columnas")
        verbose_name_plural = _("asignaciones de columnas")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="import_mapping_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """One import of a file: who, when, what file, with which options, and what came of it."""

    class Status(models.TextChoices):
        PENDING = "pendiente", _("Pendiente")
        RUNNING = "en_curso", _("En curso")
        DONE = "terminada", _("Terminada")
        CANCELLED = "cancelada", _("Cancelada")
        FAILED = "fallida", _("Fallida")
        UNDONE = "deshecha", _("Deshecha")

    class Kind(models.TextChoices):
        CSV = "csv", _("CSV")
        XLSX = "xlsx", _("Excel (XLSX)")
        VCARD = "vcard", _("vCard")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("importado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)
    file = models.FileField(_("archivo"), upload_to="imports/%Y/%m/", max_length=300)
    file_name = models.CharField(_("nombre del archivo"), max_length=255)
    kind = models.CharField(_("tipo"), max_length=5, choices=Kind.choices)
    # contacts.imports.rows.ImportOptions as JSON (country, owner, duplicates, consent…).
    options = models.JSONField(_("opciones"), default=dict)
    mapping = models.JSONField(_("asignación de columnas"), default=dict)
    mapping_name = models.CharField(_("asignación guardada"), max_length=100, blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    cancel_requested = models.BooleanField(_("cancelación pedida"), default=False)
    rows_total = models.PositiveIntegerField(_("filas"), default=0)
    rows_done = models.PositiveIntegerField(_("filas procesadas"), default=0)
    created = models.PositiveIntegerField(_("creados"), default=0)
    updated = models.PositiveIntegerField(_("actualizados"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicados"), default=0)
    errors = models.PositiveIntegerField(_("errores"), default=0)
    accounts_created = models.PositiveIntegerField(_("cuentas creadas"), default=0)
    rejected_file = models.FileField(
        _("filas rechazadas"), upload_to="imports/rechazadas/%Y/%m/", blank=True, max_length=300
    )
    error_message = models.TextField(_("error"), blank=True)
    # The last batch written (or the claim): a run "en curso" whose progress stands still for
    # runner.STALE_AFTER lost its worker, and is resumed from rows_done by another.
    progress_at = models.DateTimeField(_("último avance"), null=True, blank=True)
    # How many times a worker claimed it (1, or more when it was resumed); a batch is written
    # only by the worker holding the latest claim.
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    started_at = models.DateTimeField(_("inicio"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    undone_at = models.DateTimeField(_("deshecha"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deshecha por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    undo_report = models.JSONField(_("resultado del deshacer"), default=dict, blank=True)

    class Meta:
        verbose_name = _("importación")
        verbose_name_plural = _("importaciones")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="import_run_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rows_done__lte=models.F("rows_total")),
                name="import_run_progress_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def progress_percent(self) -> int:
        return 100 if not self.rows_total else int(100 * self.rows_done / self.rows_total)

    @property
    def counts_line(self) -> str:
        return format_counts(self.created, self.updated, self.duplicates, self.errors)


def format_counts(created: int, updated: int, duplicates: int, errors: int) -> str:
    """The summary line of an import (the command's last line; a fixed, parseable form)."""
    return f"creados {created}, actualizados {updated}, duplicados {duplicates}, errores {errors}"


class ImportedRecord(models.Model):
    """What a run did: created records, or changed these fields of one from these values.

    The contacts a batch created are one record (`object_ids`, with the consent entries and tag
    links it wrote for them); an updated contact is one record with its `changes` (and the tag
    links it added); the accounts and tags a run created, one record each kind and batch. The
    undo reads only this: a created record is removed (or archived if touched since), an
    updated one gets back `before` for each field still holding the run's `after`.
    """

    class Action(models.TextChoices):
        CREATED = "creado", _("Creado")
        UPDATED = "actualizado", _("Actualizado")

    class Model(models.TextChoices):
        CONTACT = "contacto", _("Contacto")
        ACCOUNT = "cuenta", _("Cuenta")
        TAG = "etiqueta", _("Etiqueta")

    run = models.ForeignKey(
        ImportRun, verbose_name=_("importación"), on_delete=models.CASCADE, related_name="records"
    )
    model = models.CharField(_("modelo"), max_length=8, choices=Model.choices)
    # One record (`object_id`), or the records of a whole batch (`object_ids`, then object_id
    # is the first of them).
    object_id = models.BigIntegerField(_("id"))
    object_ids = models.JSONField(_("ids"), default=list, blank=True)
    action = models.CharField(_("acción"), max_length=11, choices=Action.choices)
    # For an update: {"field": [before, after]} in JSON form (dates as ISO text).
    changes = models.JSONField(_("cambios"), default=dict, blank=True)
    # The consent entry the run appended for this contact, if any (undone by a new entry).
    consent_id = models.BigIntegerField(_("consentimiento"), null=True, blank=True)
    # Of a batch: the consent entries it appended for the contacts it created.
    consent_ids = models.JSONField(_("consentimientos"), default=list, blank=True)
    # The tag links (taggit's TaggedItem) the run added to these contacts.
    tagged_ids = models.JSONField(_("etiquetas añadidas"), default=list, blank=True)

    class Meta:
        verbose_name = _("registro importado")
        verbose_name_plural = _("registros importados")
        indexes = [models.Index(fields=["run", "model", "action"], name="imported_record_idx")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.model}:{self.object_id} {self.action}"

    @property
    def ids(self) -> list[int]:
        return self.object_ids or [self.object_id]
