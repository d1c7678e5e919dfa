"""Soporte: incidencias (tickets) with SLA, comments and satisfaction surveys (DESIGN.md §2)."""

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Account
from contacts.models import Contact
from crm.core.formats import pk_url
from crm.core.models import ChoiceLabelsMixin, TimeStampedModel


class Priority(models.TextChoices):
    LOW = "baja", _("Baja")
    MEDIUM = "media", _("Media")
    HIGH = "alta", pgettext_lazy("prioridad", "Alta")
    URGENT = "urgente", _("Urgente")


# Most urgent first: the queues sort by it.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class SlaPolicy(ChoiceLabelsMixin, models.Model):
    """The targets of one priority, in business minutes (the calendar below)."""

    priority = models.CharField(
        _("prioridad"), max_length=10, choices=Priority.choices, unique=True
    )
    first_response_minutes = models.PositiveIntegerField(
        _("primera respuesta (minutos hábiles)"), validators=[MinValueValidator(1)]
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolución (minutos hábiles)"), validators=[MinValueValidator(1)]
    )
    # "Vence pronto": this share of the target left (e.g. 25 %: the last quarter of the time).
    warn_percent = models.PositiveSmallIntegerField(
        _("aviso con % restante"),
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )

    class Meta:
        verbose_name = _("política de SLA")
        verbose_name_plural = _("políticas de SLA")
        ordering = ["priority"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="sla_priority_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(first_response_minutes__gt=0, resolution_minutes__gt=0),
                name="sla_targets_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_priority_display())


class BusinessCalendar(models.Model):
    """The company's support calendar: one row (pk=1). Holidays come from `holidays`."""

    country = models.CharField(
        _("país"), max_length=2, default="MX", help_text=_("Código ISO: MX, ES, CO, AR…")
    )
    subdivision = models.CharField(
        _("estado o comunidad"),
        max_length=10,
        blank=True,
        help_text=_("Opcional, p. ej. MD (Madrid) para sus festivos propios."),
    )
    time_zone = models.CharField(_("zona horaria"), max_length=64, default="America/Mexico_City")

    class Meta:
        verbose_name = _("calendario laboral")
        verbose_name_plural = _("calendario laboral")

    def __str__(self) -> str:
        return f"{self.country} ({self.time_zone})"


class BusinessHours(models.Model):
    """Opening hours of one weekday (0 = Monday). A weekday without a row is closed."""

    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.CASCADE,
        related_name="hours",
        verbose_name=_("calendario"),
    )
    weekday = models.PositiveSmallIntegerField(
        _("día de la semana"),
        choices=[
            (0, _("Lunes")),
            (1, _("Martes")),
            (2, _("Miércoles")),
            (3, _("Jueves")),
            (4, _("Viernes")),
            (5, _("Sábado")),
            (6, _("Domingo")),
        ],
    )
    opens_at = models.TimeField(_("abre"), default=datetime.time(9))
    closes_at = models.TimeField(_("cierra"), default=datetime.time(18))

    class Meta:
        verbose_name = _("horario")
        verbose_name_plural = _("horarios")
        ordering = ["weekday"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "weekday"], name="hours_one_per_weekday"),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")), name="hours_close_after"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class CompanyHoliday(models.Model):
    """A day off of the company's own, beyond the country's public holidays."""

    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.CASCADE,
        related_name="extra_holidays",
        verbose_name=_("calendario"),
    )
    date = models.DateField(_("fecha"))
    name = models.CharField(_("motivo"), max_length=100)

    class Meta:
        verbose_name = _("día inhábil de la empresa")
        verbose_name_plural = _("días inhábiles de la empresa")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class TicketCounter(models.Model):
    """The last number given per year: INC-2026-000123 is year 2026, number 123."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Ticket(TimeStampedModel):
    """An incidencia: a customer's issue worked by support within its SLA."""

    class Category(models.TextChoices):
        INCIDENT = "incidencia", pgettext_lazy("categoría", "Incidencia")
        COMPLAINT = "queja", _("Queja")
        CLAIM = "reclamacion", _("Reclamación")
        QUESTION = "consulta", _("Consulta")
        WARRANTY = "garantia", _("Garantía")

    class Channel(models.TextChoices):
        PHONE = "telefono", _("Teléfono")
        EMAIL = "email", _("Correo electrónico")
        WEB = "web", _("Web")
        WHATSAPP = "whatsapp", _("WhatsApp")
        IN_PERSON = "presencial", _("Presencial")

    class Status(models.TextChoices):
        NEW = "nuevo", _("Nuevo")
        OPEN = "abierto", _("Abierto")
        WAITING = "en_espera", _("En espera del cliente")
        RESOLVED = "resuelto", _("Resuelto")
        CLOSED = "cerrado", _("Cerrado")

    number = models.CharField(_("número"), max_length=20, unique=True, editable=False)
    account = models.ForeignKey(
        Account, verbose_name=_("cuenta"), on_delete=models.PROTECT, related_name="tickets"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    subject = models.CharField(_("asunto"), max_length=200)
    description = models.TextField(_("descripción"), blank=True)
    category = models.CharField(
        _("categoría"), max_length=12, choices=Category.choices, default=Category.INCIDENT
    )
    channel = models.CharField(
        _("canal"), max_length=12, choices=Channel.choices, default=Channel.PHONE
    )
    priority = models.CharField(
        _("prioridad"), max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asignada a"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("abierta por"),
        on_delete=models.PROTECT,
        related_name="created_tickets",
    )
    resolution = models.TextField(_("resolución"), blank=True)

    first_response_at = models.DateTimeField(_("primera respuesta"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resuelta el"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cerrada el"), null=True, blank=True)

    # SLA: due times in UTC, computed in business time (support.sla); null while paused.
    first_response_due = models.DateTimeField(
        _("vence la primera respuesta"), null=True, blank=True
    )
    resolution_due = models.DateTimeField(_("vence la resolución"), null=True, blank=True)
    # "Vence pronto" from here on: the SLA policy's last warn_percent of each target.
    first_response_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    # While waiting for the customer the clock stops: the business minutes left are kept here.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_response_left = models.IntegerField(null=True, blank=True, editable=False)
    resolution_left = models.IntegerField(null=True, blank=True, editable=False)
    # Met or breached, frozen when the target is reached (compliance reports read these).
    first_response_breached = models.BooleanField(default=False, editable=False)
    resolution_breached = models.BooleanField(default=False, editable=False)
    # Business minutes (support.sla) from creation to the first response and to the
    # resolution, waiting time included, written when the target is reached
    # (support.services.sla), so the dashboard aggregates stored numbers instead of walking the
    # calendar for every ticket. A reopened ticket loses its resolution minutes; resolved again,
    # they are counted afresh from creation.
    first_response_business_minutes = models.PositiveIntegerField(
        _("minutos hábiles hasta la primera respuesta"), null=True, blank=True, editable=False
    )
    resolution_business_minutes = models.PositiveIntegerField(
        _("minutos hábiles hasta la resolución"), null=True, blank=True, editable=False
    )

    search_text = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = _("incidencia")
        verbose_name_plural = _("incidencias")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["nuevo", "abierto", "en_espera", "resuelto", "cerrado"]
                ),
                name="ticket_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="ticket_priority_valid"
            ),
            # Closing requires a resolution (DESIGN §2); the service says so first, kindly.
            models.CheckConstraint(
                condition=~models.Q(status="cerrado") | ~models.Q(resolution=""),
                name="ticket_closed_has_resolution",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="ticket_status_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["account", "status"], name="ticket_account_idx"),
            models.Index(fields=["contact", "status"], name="ticket_contact_idx"),
            models.Index(fields=["resolution_due"], name="ticket_resolution_due_idx"),
            models.Index(fields=["first_response_due"], name="ticket_first_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return pk_url("support:ticket-detail", self.pk)

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.NEW, self.Status.OPEN, self.Status.WAITING)


OPEN_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.WAITING)


class StatusChange(ChoiceLabelsMixin, models.Model):
    """Every status a ticket went through, who moved it and when."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, choices=Ticket.Status.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=Ticket.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_status_change_idx")]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class Comment(ChoiceLabelsMixin, models.Model):
    """A public reply (emailed to the contact), an internal note, or the customer's own reply."""

    class Kind(models.TextChoices):
        REPLY = "respuesta", _("Respuesta al cliente")
        NOTE = "nota", _("Nota interna")
        CUSTOMER = "cliente", _("Mensaje del cliente")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("incidencia"), on_delete=models.CASCADE, related_name="comments"
    )
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.REPLY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket_comments",
    )
    body = models.TextField(_("texto"))
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)
    # Public replies only: when the email left (a task sends it once).
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("comentario")
        verbose_name_plural = _("comentarios")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.ticket.number}: {self.get_kind_display()}"

    @property
    def is_public(self) -> bool:
        return self.kind != self.Kind.NOTE


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"tickets/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("incidencia"), on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(_("archivo"), upload_to=attachment_path, max_length=255)
    filename = models.CharField(_("nombre"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("tamaño (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("adjunto")
        verbose_name_plural = _("adjuntos")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.filename


class CannedResponse(models.Model):
    title = models.CharField(_("título"), max_length=100, unique=True)
    body = models.TextField(_("texto"))
    category = models.CharField(
        _("categoría"), max_length=12, choices=Ticket.Category.choices, blank=True
    )
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        verbose_name = _("respuesta predefinida")
        verbose_name_plural = _("respuestas predefinidas")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class SlaNotice(models.Model):
    """One warning or escalation sent per ticket, target and kind: never twice."""

    class Target(models.TextChoices):
        FIRST_RESPONSE = "primera_respuesta", _("Primera respuesta")
        RESOLUTION = "resolucion", _("Resolución")

    class Kind(models.TextChoices):
        WARNING = "aviso", _("Vence pronto")
        BREACH = "vencido", _("Vencido")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_notices")
    target = models.CharField(max_length=20, choices=Target.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sent_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "target", "kind"], name="sla_notice_once_per_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.target} {self.kind}"


class SurveyRound(models.Model):
    """An NPS question sent to a segment of contacts (the contact list's filters)."""

    name = models.CharField(_("nombre"), max_length=120)
    filters = models.JSONField(_("filtros"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("encuesta NPS")
        verbose_name_plural = _("encuestas NPS")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Survey(ChoiceLabelsMixin, models.Model):
    """One question sent to one contact: CSAT (1-5) after a ticket, or NPS (0-10)."""

    class Kind(models.TextChoices):
        CSAT = "csat", _("Satisfacción (1-5)")
        NPS = "nps", _("Recomendación (NPS 0-10)")

    kind = models.CharField(_("tipo"), max_length=4, choices=Kind.choices)
    contact = models.ForeignKey(
        Contact, verbose_name=_("contacto"), on_delete=models.CASCADE, related_name="surveys"
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="surveys"
    )
    round = models.ForeignKey(
        SurveyRound, on_delete=models.CASCADE, null=True, blank=True, related_name="surveys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("puntuación"), null=True, blank=True)
    comment = models.TextField(_("comentario"), blank=True)

    class Meta:
        verbose_name = _("encuesta")
        verbose_name_plural = _("encuestas")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(kind="csat"),
                name="survey_one_csat_per_ticket",
            ),
            models.UniqueConstraint(
                fields=["round", "contact"], name="survey_once_per_round_contact"
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True)
                | models.Q(kind="csat", score__gte=1, score__lte=5)
                | models.Q(kind="nps", score__gte=0, score__lte=10),
                name="survey_score_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "-answered_at"], name="survey_contact_idx"),
            models.Index(fields=["kind", "answered_at"], name="survey_answered_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.contact_id}"


class Satisfaction(models.TextChoices):
    VERY_SATISFIED = "muy_satisfecho", _("Muy satisfecho")
    SATISFIED = "satisfecho", _("Satisfecho")
    INDIFFERENT = "indiferente", _("Indiferente")
    DISSATISFIED = "insatisfecho", _("Insatisfecho")


class ContactSatisfaction(ChoiceLabelsMixin, models.Model):
    """A contact's satisfaction class, derived from their answers by the survey service."""

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, primary_key=True, related_name="satisfaction"
    )
    level = models.CharField(_("satisfacción"), max_length=15, choices=Satisfaction.choices)
    answers = models.PositiveIntegerField(_("respuestas"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("satisfacción del contacto")
        verbose_name_plural = _("satisfacción de los contactos")

    def __str__(self) -> str:
        return str(self.get_level_display())
