"""Campañas: segments, campaigns, the send ledger, tracking and the suppression list.

The database is the source of truth for the work to do (DESIGN.md §3): a campaign's recipients
are rows of the send ledger (`Send`, one per campaign and contact), and Celery only wakes the
workers that claim them. Every state a message can be in is a value of `Send.Status`, and the
services move it along one way only (campaigns.services.sending).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from contacts.models import Contact, Topic
from crm.core.formats import pk_url
from crm.core.models import ChoiceLabelsMixin, TimeStampedModel


class Segment(TimeStampedModel):
    """A saved, named set of contacts: a validated definition (dynamic) or a list (static).

    The definition is data checked against the allow-list of campaigns.segments; it is never
    turned into SQL or ORM lookups by name. A static segment lists its members instead.
    """

    class Kind(models.TextChoices):
        DYNAMIC = "dinamico", _("Dinámico (por condiciones)")
        STATIC = "estatico", _("Lista estática")

    name = models.CharField(pgettext_lazy("nombre de un registro", "nombre"), max_length=150)
    description = models.CharField(_("descripción"), max_length=300, blank=True)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    definition = models.JSONField(
        pgettext_lazy("segmento", "condiciones"), default=dict, blank=True
    )
    members = models.ManyToManyField(
        Contact, through="SegmentMember", related_name="static_segments", blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creado por"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    archived_at = models.DateTimeField(_("archivado"), null=True, blank=True)

    class Meta:
        verbose_name = _("segmento")
        verbose_name_plural = _("segmentos")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["dinamico", "estatico"]), name="segment_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("campaigns:segment-detail", self.pk)

    @property
    def is_static(self) -> bool:
        return self.kind == self.Kind.STATIC


class SegmentMember(models.Model):
    """A contact on a static segment (added from a list page's selection)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(_("añadido"), auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("miembro del segmento")
        verbose_name_plural = _("miembros del segmento")
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"


class Campaign(TimeStampedModel):
    """An email to a segment, on a topic, sent once to each consenting contact."""

    class Status(models.TextChoices):
        DRAFT = "borrador", _("Borrador")
        SCHEDULED = "programada", _("Programada")
        SENDING = "enviando", _("Enviando")
        PAUSED = "pausada", _("Pausada")
        SENT = "enviada", _("Enviada")
        CANCELLED = "cancelada", _("Cancelada")

    class AbMetric(models.TextChoices):
        OPENS = "aperturas", _("Aperturas")
        CLICKS = "clics", _("Clics")

    name = models.CharField(pgettext_lazy("nombre de un registro", "nombre"), max_length=150)
    topic = models.ForeignKey(
        Topic, verbose_name=_("tema"), on_delete=models.PROTECT, related_name="campaigns"
    )
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segmento"),
        on_delete=models.PROTECT,
        related_name="campaigns",
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )

    subject = models.CharField(_("asunto"), max_length=200)
    # A/B: the B subject goes to half of a sample; the winner (by opens or clicks after
    # `ab_wait_hours`) goes to the rest. No B subject: no test.
    subject_b = models.CharField(_("asunto B"), max_length=200, blank=True)
    ab_sample_pct = models.PositiveSmallIntegerField(_("muestra de la prueba A/B (%)"), default=20)
    ab_metric = models.CharField(
        _("ganador por"), max_length=10, choices=AbMetric.choices, default=AbMetric.OPENS
    )
    ab_wait_hours = models.PositiveSmallIntegerField(_("esperar (horas)"), default=4)
    ab_winner = models.CharField(_("asunto ganador"), max_length=1, blank=True)
    ab_decided_at = models.DateTimeField(_("ganador decidido"), null=True, blank=True)

    preheader = models.CharField(_("preencabezado"), max_length=200, blank=True)
    from_name = models.CharField(_("nombre del remitente"), max_length=100, blank=True)
    from_email = models.EmailField(_("correo del remitente"), blank=True)
    reply_to = models.EmailField(_("responder a"), blank=True)
    # The body as marketing wrote it (sanitised by campaigns.content on save) and the text part.
    html_body = models.TextField(_("contenido HTML"), blank=True)
    text_body = models.TextField(_("versión de texto"), blank=True)
    # False: the text part is regenerated from the HTML on every save; True: a person edited it.
    text_body_edited = models.BooleanField(_("texto editado a mano"), default=False)

    cost = models.DecimalField(_("costo"), max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("moneda"), max_length=3, default="MXN")
    # Opportunities won at the recipients' accounts within this many days count as conversions.
    conversion_window_days = models.PositiveSmallIntegerField(
        _("ventana de conversión (días)"), default=30
    )
    # Messages per minute for this campaign; 0: as fast as the workers go.
    rate_per_minute = models.PositiveIntegerField(_("mensajes por minuto"), default=0)

    scheduled_at = models.DateTimeField(_("programada para"), null=True, blank=True)
    started_at = models.DateTimeField(_("envío iniciado"), null=True, blank=True)
    finished_at = models.DateTimeField(_("envío terminado"), null=True, blank=True)
    # Set once, by the one transaction that writes the ledger (the Send button pressed twice
    # finds it set and adds nothing).
    materialized_at = models.DateTimeField(_("destinatarios calculados"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creada por"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enviada por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The results' rollup (CampaignStat): when it was last computed, and when a background
    # refresh was queued (set by one conditional UPDATE, cleared by the refresh: never two).
    stats_computed_at = models.DateTimeField(_("cifras calculadas"), null=True, blank=True)
    stats_refresh_queued_at = models.DateTimeField(
        _("actualización de cifras en cola"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("campaña")
        verbose_name_plural = _("campañas")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="campaign_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "borrador",
                        "programada",
                        "enviando",
                        "pausada",
                        "enviada",
                        "cancelada",
                    ]
                ),
                name="campaign_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ab_sample_pct__gte=2, ab_sample_pct__lte=50),
                name="campaign_ab_sample_range",
            ),
            models.CheckConstraint(
                condition=models.Q(ab_winner__in=["", "a", "b"]), name="campaign_ab_winner_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(cost__gte=0), name="campaign_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("campaigns:campaign-detail", self.pk)

    @property
    def has_ab_test(self) -> bool:
        return bool(self.subject_b)

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)


class CampaignLink(models.Model):
    """A link of the campaign's body: the only places its tracking redirect may send to."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    url = models.URLField(_("dirección"), max_length=2000)

    class Meta:
        verbose_name = _("enlace de campaña")
        verbose_name_plural = _("enlaces de campaña")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "url"], name="campaign_link_unique"),
        ]

    def __str__(self) -> str:
        return self.url


class Send(ChoiceLabelsMixin, models.Model):
    """One row of the send ledger: the message of one campaign to one contact.

    pending → sending (claimed by a worker, inside its transaction) → sent | failed | skipped;
    pending → retry (a temporary failure, with `next_attempt_at`) → sending …;
    sending whose worker died → doubt ("en duda": maybe delivered, never resent by itself);
    pending | retry → cancelled (the campaign was cancelled).
    """

    class Status(models.TextChoices):
        PENDING = "pendiente", _("Pendiente")
        SENDING = "enviando", _("Enviando")
        RETRY = "reintento", _("Reintento pendiente")
        SENT = "enviado", _("Enviado")
        FAILED = "fallido", _("Fallido")
        SKIPPED = "omitido", _("Omitido (baja o supresión)")
        DOUBT = "en_duda", _("En duda")
        CANCELLED = "cancelado", _("Cancelado")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="campaign_sends")
    # The address as materialised (lower-case): the ledger is unique per campaign and address.
    email = models.EmailField(_("correo"))
    variant = models.CharField(_("variante"), max_length=1, blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    next_attempt_at = models.DateTimeField(_("próximo intento"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("tomado"), null=True, blank=True)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=250, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Read by the results (bounces come back through the ESP's webhooks).
    bounced_at = models.DateTimeField(_("rebotado"), null=True, blank=True)
    first_opened_at = models.DateTimeField(_("primera apertura"), null=True, blank=True)
    first_clicked_at = models.DateTimeField(_("primer clic"), null=True, blank=True)

    class Meta:
        verbose_name = _("envío")
        verbose_name_plural = _("envíos")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="send_campaign_contact"),
            # Stored lower-case by the materialiser: one message per address, too.
            models.UniqueConstraint(fields=["campaign", "email"], name="send_campaign_email"),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "pendiente",
                        "enviando",
                        "reintento",
                        "enviado",
                        "fallido",
                        "omitido",
                        "en_duda",
                        "cancelado",
                    ]
                ),
                name="send_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(variant__in=["", "a", "b"]), name="send_variant_valid"
            ),
        ]
        indexes = [
            # The workers' claim: the next pending rows of a campaign, in id order.
            models.Index(fields=["campaign", "status", "id"], name="send_claim_idx"),
            models.Index(fields=["contact", "-sent_at"], name="send_contact_idx"),
            models.Index(fields=["message_id"], name="send_message_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.email} ({self.status})"


class TrackingEvent(models.Model):
    """What happened to a sent message: delivered, opened, clicked, bounced, complained, left."""

    class Kind(models.TextChoices):
        DELIVERED = "entregado", _("Entregado")
        OPEN = "apertura", _("Apertura")
        CLICK = "clic", _("Clic")
        BOUNCE = "rebote", _("Rebote")
        COMPLAINT = "queja", _("Queja de spam")
        UNSUBSCRIBE = "baja", pgettext_lazy("darse de baja", "Baja")

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="events")
    # Copied from the send so the results count per campaign and the timeline reads per
    # contact without a join.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_events")
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices)
    link = models.ForeignKey(
        CampaignLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="clicks"
    )
    at = models.DateTimeField(_("fecha"))
    # An open by a privacy proxy or a prefetcher (Apple Mail, scanners): counted apart.
    is_machine = models.BooleanField(_("automática"), default=False)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    user_agent = models.CharField(_("navegador"), max_length=300, blank=True)
    # The ESP's id of a webhook event: the same event delivered twice is stored once.
    esp_event_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    detail = models.CharField(_("detalle"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("evento de seguimiento")
        verbose_name_plural = _("eventos de seguimiento")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["campaign", "kind", "send"], name="event_campaign_kind_idx"),
            models.Index(fields=["contact", "-at"], name="event_contact_idx"),
            models.Index(fields=["kind", "-at"], name="event_kind_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind} {self.contact_id}"


class CampaignStat(models.Model):
    """The stored results of a campaign for one group of one dimension (listmonk's approach).

    Counting 100,000 ledger rows takes longer than a page may; campaigns.services.stats
    computes every group with the results' own queries and replaces the campaign's rows at
    once. Dimensions: "campaign" (the total, key ""), "variant", the segment DIMENSIONS and
    "link" (key: the CampaignLink id). Conversions are kept per currency, unconverted
    ({"MXN": [count, "amount"]}), so the page converts them with the current rates.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stats")
    dimension = models.CharField(_("dimensión"), max_length=12)
    key = models.CharField(_("grupo"), max_length=100, blank=True)
    recipients = models.PositiveIntegerField(_("destinatarios"), default=0)
    sent = models.PositiveIntegerField(_("enviados"), default=0)
    doubt = models.PositiveIntegerField(_("en duda"), default=0)
    failed = models.PositiveIntegerField(_("fallidos"), default=0)
    skipped = models.PositiveIntegerField(_("omitidos"), default=0)
    bounced = models.PositiveIntegerField(_("rebotados"), default=0)
    opened = models.PositiveIntegerField(_("abiertos"), default=0)
    clicked = models.PositiveIntegerField(_("con clic"), default=0)
    machine_opened = models.PositiveIntegerField(_("aperturas automáticas"), default=0)
    clicks = models.PositiveIntegerField(_("clics"), default=0)
    unsubscribed = models.PositiveIntegerField(_("bajas"), default=0)
    complaints = models.PositiveIntegerField(_("quejas"), default=0)
    conversions = models.PositiveIntegerField(_("conversiones"), default=0)
    conversions_by_currency = models.JSONField(
        _("conversiones por moneda"), default=dict, blank=True
    )
    first_sent = models.DateTimeField(_("primer envío"), null=True, blank=True)
    last_sent = models.DateTimeField(_("último envío"), null=True, blank=True)

    class Meta:
        verbose_name = _("cifra de campaña")
        verbose_name_plural = _("cifras de campaña")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "dimension", "key"], name="campaign_stat_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.dimension}:{self.key}"


class Suppression(models.Model):
    """An address no campaign writes to, whatever its consent: bounces, complaints, by hand."""

    class Reason(models.TextChoices):
        MANUAL = "manual", _("Manual")
        BOUNCE = "rebote", _("Rebote permanente")
        COMPLAINT = "queja", _("Queja de spam")
        IMPORT = "importacion", _("Importada")

    # Lower-case, as campaigns.services.suppression stores it (sends compare it with = ).
    email = models.EmailField(_("correo"), unique=True)
    reason = models.CharField(_("motivo"), max_length=12, choices=Reason.choices)
    note = models.CharField(_("nota"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("supresión")
        verbose_name_plural = _("lista de supresión")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="suppression_email_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.email


# --- Sign-up forms (web-to-lead) ----------------------------------------------------------------

# The fields a sign-up form may ask for: name -> (the label a visitor sees by default, the
# longest value kept). Each is a contact's field but "company", the name of the contact's
# account (matched, never created: campaigns.services.signup). The email is always asked, and
# required; a form never names a field outside this list (SignupForm.clean).
SIGNUP_FIELDS: dict[str, tuple] = {
    "first_name": (_("Nombre"), 100),
    "last_name": (_("Apellidos"), 150),
    "email": (_("Correo electrónico"), 254),
    "phone": (_("Teléfono"), 30),
    "mobile": (_("Móvil"), 30),
    "job_title": (_("Puesto"), 100),
    "company": (_("Empresa"), 200),
    "city": (_("Ciudad"), 100),
    "region": (_("Estado o provincia"), 100),
    "country": (_("País"), 2),
}
SIGNUP_LABEL_MAX = 100


class SignupForm(TimeStampedModel):
    """A sign-up form marketing designs: served at /f/<slug>/ and as a snippet for a website.

    `fields` lists what it asks, in order: [{"name": "first_name", "required": true, "label":
    "Tu nombre"}, ...], names from SIGNUP_FIELDS only. A submission is recorded as a
    FormSubmission; the consent it gives counts from the click on the confirmation email
    (double opt-in, the default) or from the submission itself (single opt-in).
    """

    name = models.CharField(pgettext_lazy("nombre de un registro", "nombre"), max_length=150)
    slug = models.SlugField(
        _("dirección"),
        max_length=60,
        unique=True,
        help_text=_("La parte final de la dirección pública: /f/<dirección>/."),
    )
    title = models.CharField(_("título"), max_length=200)
    intro = models.TextField(_("presentación"), max_length=2000, blank=True)
    fields = models.JSONField(_("campos"), default=list)
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("boletín"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signup_forms",
    )
    consent_text = models.TextField(_("texto del consentimiento"), max_length=2000)
    consent_version = models.CharField(_("versión del texto"), max_length=50)
    double_opt_in = models.BooleanField(_("doble confirmación por correo"), default=True)
    thank_you = models.TextField(_("mensaje de agradecimiento"), max_length=2000, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable de los contactos nuevos"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creado por"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("formulario de suscripción")
        verbose_name_plural = _("formularios de suscripción")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(consent_version=""), name="signup_form_consent_version"
            ),
            models.CheckConstraint(
                condition=~models.Q(consent_text=""), name="signup_form_consent_text"
            ),
            models.CheckConstraint(
                condition=models.Q(slug=Lower("slug")), name="signup_form_slug_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("campaigns:signup-detail", self.pk)

    @property
    def field_specs(self) -> list[dict]:
        """The fields asked, each with its label (the default one if marketing left it blank)."""
        specs = []
        for item in self.fields or []:
            name = item.get("name")
            if name not in SIGNUP_FIELDS:
                continue
            default_label, max_length = SIGNUP_FIELDS[name]
            specs.append(
                {
                    "name": name,
                    "required": bool(item.get("required")) or name == "email",
                    "label": item.get("label") or str(default_label),
                    "max_length": max_length,
                }
            )
        return specs


class FormSubmission(ChoiceLabelsMixin, models.Model):
    """One sending of a sign-up form: who, from where, what they typed, and its confirmation.

    pending (double opt-in: the confirmation email is out) → confirmed (the link was clicked, or
    at once for single opt-in). The consent given is in the contacts ledger; this row keeps the
    source (UTM parameters, referrer, IP, user agent) and the text version shown.
    """

    class Status(models.TextChoices):
        PENDING = "pendiente", _("Pendiente de confirmar")
        CONFIRMED = "confirmada", _("Confirmada")

    form = models.ForeignKey(
        SignupForm,
        verbose_name=_("formulario"),
        on_delete=models.PROTECT,
        related_name="submissions",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.CASCADE,
        related_name="form_submissions",
    )
    status = models.CharField(
        _("estado"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(_("fecha"), default=timezone_now)
    confirmed_at = models.DateTimeField(_("confirmada"), null=True, blank=True)
    # What the visitor was shown and asked for (the form may change afterwards).
    double_opt_in = models.BooleanField(_("doble confirmación"), default=True)
    consent_version = models.CharField(_("versión del texto"), max_length=50)
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("boletín"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    email = models.EmailField(_("correo"))
    values = models.JSONField(_("datos enviados"), default=dict, blank=True)
    utm_source = models.CharField("utm_source", max_length=200, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=200, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    utm_term = models.CharField("utm_term", max_length=200, blank=True)
    utm_content = models.CharField("utm_content", max_length=200, blank=True)
    referrer = models.CharField(_("página de origen"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    user_agent = models.CharField(_("navegador"), max_length=300, blank=True)
    created_contact = models.BooleanField(_("contacto nuevo"), default=False)
    # The address was on the suppression list when the visitor signed up (double opt-in forced).
    was_suppressed = models.BooleanField(_("estaba suprimida"), default=False)
    confirmation_sent_at = models.DateTimeField(_("confirmación enviada"), null=True, blank=True)

    class Meta:
        verbose_name = _("envío de formulario")
        verbose_name_plural = _("envíos de formulario")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["form", "-created_at"], name="submission_form_idx"),
            models.Index(fields=["contact", "-created_at"], name="submission_contact_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pendiente", "confirmada"]),
                name="submission_status_valid",
            ),
            # Confirmed exactly when it has its confirmation time.
            models.CheckConstraint(
                condition=(
                    models.Q(status="confirmada", confirmed_at__isnull=False)
                    | models.Q(status="pendiente", confirmed_at__isnull=True)
                ),
                name="submission_confirmed_at",
            ),
            models.CheckConstraint(
                condition=~models.Q(consent_version=""), name="submission_consent_version"
            ),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="submission_email_lower"
            ),
            # Single opt-in is never forced on an address that was suppressed.
            models.CheckConstraint(
                condition=~models.Q(was_suppressed=True, double_opt_in=False),
                name="submission_suppressed_double",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}:{self.email} ({self.status})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED


# --- Automations (welcome series, birthdays, holidays, re-engagement) --------------------------


class Automation(TimeStampedModel):
    """A triggered message built on the campaigns engine, sent at most once per contact, step
    and occurrence (AutomationDelivery's UNIQUE key): campaigns.services.automations.

    Birthdays and holidays go out on the contact's day at `send_hour` in the contact's zone, and
    the quiet hours are the contact's (crm.core.zones: their own zone, else their country's,
    else the company's).
    """

    class Kind(models.TextChoices):
        WELCOME = "bienvenida", _("Serie de bienvenida")
        BIRTHDAY = "cumpleanos", _("Cumpleaños")
        HOLIDAY = "festivo", _("Días festivos")
        REENGAGEMENT = "reactivacion", _("Reactivación de inactivos")

    class Status(models.TextChoices):
        ACTIVE = "activa", _("Activa")
        PAUSED = "pausada", _("Pausada")

    class Country(models.TextChoices):
        MX = "MX", _("México")
        ES = "ES", _("España")

    name = models.CharField(pgettext_lazy("nombre de un registro", "nombre"), max_length=150)
    kind = models.CharField(_("tipo"), max_length=12, choices=Kind.choices)
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("tema"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="automations",
        help_text=_("Sin tema basta el consentimiento general para recibir correo."),
    )
    status = models.CharField(
        _("estado"), max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    paused_at = models.DateTimeField(_("pausada desde"), null=True, blank=True)
    # Birthdays and holidays go out on the day at this local hour (the company's time zone).
    send_hour = models.PositiveSmallIntegerField(_("hora de envío"), default=9)
    # Birthdays: the contact's owner also gets a call in their agenda on the working day
    # before (a Monday birthday on the Friday), whatever the contact's email consent.
    remind_owner = models.BooleanField(
        _("avisar al responsable el día hábil anterior"),
        default=False,
        help_text=_(
            "Crea una llamada en la agenda del responsable del contacto para que le felicite "
            "en persona, aunque el contacto no reciba correos."
        ),
    )
    holiday_country = models.CharField(
        _("calendario de festivos"), max_length=2, choices=Country.choices, blank=True
    )
    # The names of the chosen holidays as `holidays.country_holidays(country, language="es")`
    # gives them: the same name every year, whatever its date.
    holiday_names = models.JSONField(_("festivos elegidos"), default=list, blank=True)
    inactive_days = models.PositiveSmallIntegerField(_("días sin actividad"), null=True, blank=True)
    suppress_after_days = models.PositiveSmallIntegerField(
        _("suprimir si sigue sin actividad tras (días)"), null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creada por"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("automatización")
        verbose_name_plural = _("automatizaciones")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=["bienvenida", "cumpleanos", "festivo", "reactivacion"]
                ),
                name="automation_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status="activa", paused_at__isnull=True)
                | models.Q(status="pausada", paused_at__isnull=False),
                name="automation_paused_at",
            ),
            models.CheckConstraint(
                condition=models.Q(send_hour__lte=23), name="automation_send_hour_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="festivo") | models.Q(holiday_country__in=["MX", "ES"]),
                name="automation_holiday_country",
                violation_error_message=_("Elige el calendario de festivos (México o España)."),
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="reactivacion")
                | models.Q(inactive_days__gte=1, suppress_after_days__gte=1),
                name="automation_reengagement_days",
                violation_error_message=_(
                    "Indica los días sin actividad y los días de silencio antes de suprimir."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("campaigns:automation-detail", self.pk)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class AutomationStep(models.Model):
    """One message of an automation (1 to 3), sent `delay` after the trigger, with the same
    merge fields as a campaign (campaigns.content)."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("paso"), default=1)
    delay_days = models.PositiveSmallIntegerField(_("días después"), default=0)
    delay_hours = models.PositiveSmallIntegerField(_("horas después"), default=0)
    subject = models.CharField(_("asunto"), max_length=200)
    preheader = models.CharField(_("preencabezado"), max_length=200, blank=True)
    # Sanitised by campaigns.content on save (the service), the text part made from it.
    html_body = models.TextField(_("contenido HTML"))
    text_body = models.TextField(_("versión de texto"), blank=True)

    class Meta:
        verbose_name = _("paso de automatización")
        verbose_name_plural = _("pasos de automatización")
        ordering = ["automation", "order"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "order"], name="automation_step_order"),
            models.CheckConstraint(
                condition=models.Q(order__gte=1, order__lte=3), name="automation_step_order_range"
            ),
            models.CheckConstraint(
                condition=models.Q(delay_hours__lte=23), name="automation_step_hours_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.automation_id}#{self.order}"


class AutomationDelivery(ChoiceLabelsMixin, models.Model):
    """The "exactly once" ledger of automations: one row per contact, step and occurrence.

    `occurrence` names the trigger: the year of a birthday ("2026"), the date of a holiday
    ("2026-12-25"), the subscription date of a welcome series, the start of the inactivity
    window of a re-engagement. Materialising the same occurrence twice inserts nothing
    (UNIQUE, ON CONFLICT DO NOTHING). A row without a step is no email: the re-engagement's
    last word (the contact stayed silent and their address went on the suppression list), or
    a birthday's reminder to the contact's owner (a call in their agenda, or why not).

    pending → sending (claimed) → sent | failed | skipped (with its reason) | pending again
    (a temporary failure, later `due_at`); sending whose worker died → doubt (never resent).
    """

    class Status(models.TextChoices):
        PENDING = "pendiente", _("Pendiente")
        SENDING = "enviando", _("Enviando")
        SENT = "enviado", _("Enviado")
        SKIPPED = "omitido", _("Omitido")
        FAILED = "fallido", _("Fallido")
        DOUBT = "en_duda", _("En duda")
        SUPPRESSED = "suprimido", _("Pasado a supresión")
        REMINDED = "aviso", _("Aviso al responsable")

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="deliveries")
    step = models.ForeignKey(
        AutomationStep,
        verbose_name=_("paso"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="automation_deliveries"
    )
    occurrence = models.CharField(_("ocasión"), max_length=20)
    email = models.EmailField(_("correo"))
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("motivo"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("programado para"))
    claimed_at = models.DateTimeField(_("tomado"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=250, blank=True)
    created_at = models.DateTimeField(_("creado"), default=timezone_now)

    class Meta:
        verbose_name = _("entrega de automatización")
        verbose_name_plural = _("entregas de automatización")
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "contact", "occurrence"],
                condition=models.Q(step__isnull=False),
                name="automation_delivery_once",
            ),
            models.UniqueConstraint(
                fields=["automation", "contact", "occurrence"],
                condition=models.Q(step__isnull=True),
                name="automation_suppression_once",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "pendiente",
                        "enviando",
                        "enviado",
                        "omitido",
                        "fallido",
                        "en_duda",
                        "suprimido",
                        "aviso",
                    ]
                ),
                name="automation_delivery_status_valid",
            ),
        ]
        indexes = [
            # The workers' claim: due pending rows in due order.
            models.Index(fields=["status", "due_at"], name="autodelivery_claim_idx"),
            models.Index(fields=["automation", "status", "-due_at"], name="autodelivery_list_idx"),
            models.Index(fields=["contact", "automation"], name="autodelivery_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.automation_id}:{self.step_id}:{self.contact_id}:{self.occurrence}"
