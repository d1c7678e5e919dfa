"""Users, teams and roles, and the shared base every app builds on."""

import base64
import functools
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VENDEDOR = "vendedor", _("Vendedor")
    GERENTE = "gerente", _("Gerente de ventas")
    SOPORTE = "soporte", _("Soporte")
    MARKETING = "marketing", _("Marketing")
    ADMINISTRADOR = "administrador", _("Administrador")


@functools.lru_cache(maxsize=1024)
def _choice_labels(field: models.Field, language: str | None) -> dict:
    return {value: str(label) for value, label in field.flatchoices}


class ChoiceLabelsMixin:
    """`get_FOO_display()` from a dict built once per field and language.

    Django rebuilds the field's whole choices dict on every call (hashing every choice, so every
    lazy label is translated again): a list of 25 rows showing four such labels made some 600
    gettext calls. The labels are the same text, cached per language.
    """

    def _get_FIELD_display(self, field):
        value = getattr(self, field.attname)
        try:
            label = _choice_labels(field, translation.get_language()).get(value)
        except TypeError:  # an unhashable value (e.g. a JSON field's): Django's own way
            return super()._get_FIELD_display(field)
        return value if label is None else label


class Team(models.Model):
    name = models.CharField(_("nombre"), max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gerente"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
    )

    class Meta:
        verbose_name = _("equipo")
        verbose_name_plural = _("equipos")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(ChoiceLabelsMixin, AbstractUser):
    role = models.CharField(_("rol"), max_length=20, choices=Role.choices, default=Role.VENDEDOR)
    team = models.ForeignKey(
        Team,
        verbose_name=_("equipo"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    phone = models.CharField(_("teléfono"), max_length=32, blank=True)
    time_zone = models.CharField(_("zona horaria"), max_length=64, default="America/Mexico_City")

    class Meta:
        verbose_name = _("usuario")
        verbose_name_plural = _("usuarios")
        ordering = ["first_name", "last_name", "username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="crm_user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name_of(self.first_name, self.last_name, self.username)

    @staticmethod
    def name_of(first_name: str, last_name: str, username: str) -> str:
        """How a user is named (str(user)), from the columns alone: for rows read without
        the model."""
        return f"{first_name} {last_name}".strip() or username

    @property
    def is_admin_role(self) -> bool:
        return self.is_superuser or self.role == Role.ADMINISTRADOR

    @property
    def is_rep(self) -> bool:
        return self.role == Role.VENDEDOR

    @property
    def is_manager(self) -> bool:
        return self.role == Role.GERENTE

    @property
    def is_support(self) -> bool:
        return self.role == Role.SOPORTE

    @property
    def is_marketing(self) -> bool:
        return self.role == Role.MARKETING


class TimeStampedModel(ChoiceLabelsMixin, models.Model):
    """Creation and modification times that every business record carries."""

    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modificado"), auto_now=True)

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """An append-only record of the sensitive acts DESIGN.md §5 lists (login, export, consent…)."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Inicio de sesión")
        LOGIN_FAILED = "login_failed", _("Inicio de sesión fallido")
        LOGOUT = "logout", _("Cierre de sesión")
        EXPORT = "export", _("Exportación")
        IMPORT = "import", _("Importación")
        SEND = "send", _("Envío")
        CONSENT = "consent", _("Cambio de consentimiento")
        ROLE = "role", _("Cambio de rol")
        ARCHIVE = "archive", _("Archivo")
        CREATE = "create", _("Creación")
        UPDATE = "update", _("Modificación")
        DELETE = "delete", _("Eliminación")
        CANCEL = "cancel", _("Cancelación")
        MFA_ENABLE = "mfa_enable", _("Verificación en dos pasos activada")
        MFA_DISABLE = "mfa_disable", _("Verificación en dos pasos desactivada")
        MFA_CODES = "mfa_codes", _("Códigos de recuperación nuevos")
        MFA_RECOVERY = "mfa_recovery", _("Código de recuperación usado")

    at = models.DateTimeField(_("fecha"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("usuario"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(_("acción"), max_length=20, choices=Action.choices)
    target = models.CharField(_("objeto"), max_length=200, blank=True)
    detail = models.JSONField(_("detalle"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("evento de auditoría")
        verbose_name_plural = _("eventos de auditoría")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"

    def get_absolute_url(self) -> str:
        return reverse("admin:crm_auditevent_change", args=[self.pk])


class Country(models.TextChoices):
    MX = "MX", _("México")
    ES = "ES", _("España")
    AR = "AR", _("Argentina")
    CL = "CL", _("Chile")
    CO = "CO", _("Colombia")
    PE = "PE", _("Perú")
    EC = "EC", _("Ecuador")
    GT = "GT", _("Guatemala")
    US = "US", _("Estados Unidos")
    OTHER = "ZZ", _("Otro")


class AddressModel(models.Model):
    street = models.CharField(_("calle y número"), max_length=200, blank=True)
    city = models.CharField(_("ciudad"), max_length=100, blank=True)
    region = models.CharField(_("estado o provincia"), max_length=100, blank=True)
    postal_code = models.CharField(_("código postal"), max_length=12, blank=True)
    country = models.CharField(_("país"), max_length=2, choices=Country.choices, default=Country.MX)

    class Meta:
        abstract = True

    @property
    def address_line(self) -> str:
        region = self.region if self.region != self.city else ""  # "Ciudad de México" once
        parts = [self.street, self.postal_code, self.city, region]
        return ", ".join(p for p in parts if p)


class QueuedTask(models.Model):
    """A background task a service asked for, written in the same transaction as its change.

    The outbox of crm.core.queue: the row commits with the ticket reply or the quote it belongs
    to, the task is sent to the broker after the commit and the row deleted. When the broker
    cannot be reached the row stays, and `queued_tasks_dispatch` (a beat job) sends it once the
    broker is back: the page answered and saved, and the work is not lost.
    """

    name = models.CharField(_("tarea"), max_length=200)
    args = models.JSONField(_("argumentos"), default=list)
    copies = models.PositiveSmallIntegerField(_("copias"), default=1)
    not_before = models.DateTimeField(_("no antes de"), null=True, blank=True)
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    last_error = models.CharField(_("último error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("tarea pendiente de enviar")
        verbose_name_plural = _("tareas pendientes de enviar")
        indexes = [models.Index(fields=["created_at"], name="crm_queuedtask_created")]

    def __str__(self) -> str:
        return f"{self.name}{tuple(self.args)}"


class SubmittedForm(models.Model):
    """A form a signed-in user has submitted, by the one-time token the page put in it.

    crm.core.submit_once: the row is written in the same transaction as what the form saved, so
    a second submission of the same page (a double tap, a resent request, the back button) finds
    it and is answered with the first one's result instead of saving twice. Kept a day.
    """

    token = models.CharField(_("clave"), max_length=32, unique=True)
    user = models.ForeignKey(User, verbose_name=_("usuario"), on_delete=models.CASCADE)
    path = models.CharField(_("dirección"), max_length=300)
    location = models.CharField(_("resultado"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("enviado"), auto_now_add=True)

    class Meta:
        verbose_name = _("formulario enviado")
        verbose_name_plural = _("formularios enviados")
        indexes = [models.Index(fields=["created_at"], name="crm_submittedform_created")]

    def __str__(self) -> str:
        return f"{self.path} ({self.token})"


class ApiToken(models.Model):
    """A personal key for the REST API (issue 11), created by a user in their profile.

    Only a SHA-256 of the key is stored: the key itself is shown once, when it is created
    (crm.core.api.tokens). It acts as its user, with their role and visibility, narrowed to its
    scopes (crm.core.api.scopes), until it expires or is revoked.
    """

    user = models.ForeignKey(
        User, verbose_name=_("usuario"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("nombre"), max_length=100)
    # The key's first characters after "crm_", shown in the list so the user can tell keys apart.
    prefix = models.CharField(_("prefijo"), max_length=12)
    key_hash = models.CharField(_("huella"), max_length=64, unique=True)
    scopes = models.JSONField(_("permisos"), default=list)
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)
    expires_at = models.DateTimeField(_("caduca"))
    last_used_at = models.DateTimeField(_("último uso"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("última IP"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revocada"), null=True, blank=True)

    class Meta:
        verbose_name = _("clave de API")
        verbose_name_plural = _("claves de API")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (crm_{self.prefix}…)"


# Webhooks (issue 11; crm.core.webhooks) ------------------------------------------------------


def webhook_secret_new() -> str:
    """A signing secret as the Standard Webhooks specification writes it: "whsec_" + base64 of
    32 random bytes (the HMAC key is the decoded bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_event_id_new() -> str:
    return "evt_" + secrets.token_hex(16)


class WebhookEventType(models.TextChoices):
    CONTACT_CREATED = "contact.created", _("Contacto creado")
    CONTACT_UPDATED = "contact.updated", _("Contacto modificado")
    CONTACT_UNSUBSCRIBED = "contact.unsubscribed", _("Contacto dado de baja de los correos")
    OPPORTUNITY_STAGE_CHANGED = "opportunity.stage_changed", _("Oportunidad cambiada de etapa")
    OPPORTUNITY_WON = "opportunity.won", _("Oportunidad ganada")
    TICKET_CREATED = "ticket.created", _("Incidencia abierta")
    TICKET_RESOLVED = "ticket.resolved", _("Incidencia resuelta")
    FORM_SUBMITTED = "form.submitted", _("Formulario de alta enviado")
    # Sent from the endpoint's page to one endpoint only; nobody subscribes to it.
    TEST = "webhook.test", _("Evento de prueba")


class WebhookEndpoint(models.Model):
    """An address of another system (the shop, the ERP) that is told of changes, signed with its
    secret. Only administrators register them; one failing for a day is disabled."""

    url = models.URLField(_("dirección"), max_length=500)
    description = models.CharField(_("descripción"), max_length=200, blank=True)
    events = models.JSONField(_("eventos"), default=list)
    secret = models.CharField(_("secreto"), max_length=100, default=webhook_secret_new)
    # After a rotation the old secret still signs (a second signature) for a day, so that the
    # receiver can switch without losing a delivery.
    previous_secret = models.CharField(_("secreto anterior"), max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(
        _("secreto anterior válido hasta"), null=True, blank=True
    )
    active = models.BooleanField(_("activo"), default=True)
    disabled_at = models.DateTimeField(_("desactivado el"), null=True, blank=True)
    disabled_reason = models.CharField(_("motivo de la desactivación"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        User,
        verbose_name=_("creado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    # The first failure since the last success: a day of failures disables the endpoint.
    failing_since = models.DateTimeField(_("falla desde"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["-active", "url", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def get_absolute_url(self) -> str:
        return reverse("crm:webhook-detail", args=[self.pk])


class WebhookEvent(models.Model):
    """A change the other systems are told of, once, whatever the number of endpoints or of
    attempts: its id is the `webhook-id` header, by which a receiver drops a repeat."""

    id = models.CharField(
        _("identificador"), max_length=40, primary_key=True, default=webhook_event_id_new
    )
    type = models.CharField(_("tipo"), max_length=40, choices=WebhookEventType.choices)
    payload = models.JSONField(_("datos"), default=dict)
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("evento de webhook")
        verbose_name_plural = _("eventos de webhook")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the outbox row written with the change, and its log.

    Due when `next_attempt_at` has come; `locked_until` is the lease of the worker sending it
    (a worker that dies mid-request lets it go after that); `queued_at` says a task was asked
    for it, so that the reconciler (`webhooks_due`) only re-queues what a lost task left.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pendiente")
        DELIVERED = "delivered", _("Entregado")
        FAILED = "failed", _("Fallido, se reintentará")
        ABANDONED = "abandoned", _("Abandonado")

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.ForeignKey(
        WebhookEvent,
        verbose_name=_("evento"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    next_attempt_at = models.DateTimeField(_("próximo intento"), null=True, blank=True)
    locked_until = models.DateTimeField(_("enviándose hasta"), null=True, blank=True)
    queued_at = models.DateTimeField(_("encolado"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("código de respuesta"), null=True)
    last_error = models.CharField(_("último error"), max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(_("último intento"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("entregado el"), null=True, blank=True)

    class Meta:
        verbose_name = _("entrega de webhook")
        verbose_name_plural = _("entregas de webhook")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="crm_webhookdelivery_once_per_endpoint"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "delivered", "failed", "abandoned"]),
                name="crm_webhookdelivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="crm_webhookdelivery_due"),
            models.Index(fields=["endpoint", "-id"], name="crm_webhookdelivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"
