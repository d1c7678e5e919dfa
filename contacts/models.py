from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from taggit.managers import TaggableManager
from taggit.models import TaggedItem

from accounts.models import Account
from crm.core.formats import pk_url
from crm.core.models import AddressModel, TimeStampedModel
from crm.core.text import digits, format_phone, normalize_phone, search_text
from crm.core.zones import ZONE_CHOICES, effective_zone_name, zone_label


class Lifecycle(models.TextChoices):
    SUBSCRIBER = "suscriptor", _("Suscriptor")
    LEAD = "lead", _("Lead")
    MQL = "mql", _("MQL (calificado por marketing)")
    SQL = "sql", _("SQL (calificado por ventas)")
    CUSTOMER = "cliente", _("Cliente activo")
    INACTIVE = "inactivo", _("Cliente inactivo")


class LeadSource(models.TextChoices):
    WEB = "web", _("Sitio web")
    REFERRAL = "referido", _("Referido")
    EVENT = "evento", _("Evento o feria")
    COLD_CALL = "llamada", _("Llamada en frío")
    SOCIAL = "redes", _("Redes sociales")
    EMAIL = "email", _("Campaña de correo")
    ADS = "publicidad", _("Publicidad")
    PARTNER = "socio", _("Socio comercial")
    OTHER = "otro", _("Otro")


class Contact(TimeStampedModel, AddressModel):
    """A person (contacto), usually at an Account, moving through the lead lifecycle."""

    first_name = models.CharField(_("nombre"), max_length=100)
    last_name = models.CharField(_("apellidos"), max_length=150, blank=True)
    email = models.EmailField(_("correo electrónico"), blank=True)
    phone = models.CharField(_("teléfono"), max_length=20, blank=True)
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)
    mobile = models.CharField(_("móvil"), max_length=20, blank=True)
    mobile_digits = models.CharField(max_length=20, blank=True, editable=False)
    job_title = models.CharField(_("puesto"), max_length=100, blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("cuenta"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable"),
        on_delete=models.PROTECT,
        related_name="contacts",
    )
    lifecycle = models.CharField(
        _("etapa"), max_length=12, choices=Lifecycle.choices, default=Lifecycle.LEAD
    )
    lead_source = models.CharField(
        _("origen"), max_length=12, choices=LeadSource.choices, default=LeadSource.OTHER
    )
    lead_score = models.PositiveSmallIntegerField(_("puntuación"), default=0)
    birthday = models.DateField(_("cumpleaños"), null=True, blank=True)
    # Blank: their country's zone when it has one, else the company's (crm.core.zones).
    time_zone = models.CharField(
        _("zona horaria"),
        max_length=40,
        blank=True,
        choices=ZONE_CHOICES,
        help_text=_("Vacía: la de su país si tiene una sola; si no, la de la empresa."),
    )
    notes = models.TextField(_("notas"), blank=True)
    archived_at = models.DateTimeField(_("archivado"), null=True, blank=True)
    # Kept by the service that logs an activity (opportunities.services.activities).
    last_contacted_at = models.DateTimeField(_("último contacto"), null=True, blank=True)
    # Set by the merge (crm.top.merge): this record was folded into that one and is archived.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("fusionado en"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("fusionado"), null=True, blank=True)
    # Set by the erasure (crm.top.privacy): the person's data were anonymised at this time.
    erased_at = models.DateTimeField(_("datos eliminados"), null=True, blank=True)
    search_text = models.TextField(blank=True, editable=False)

    tags = TaggableManager(_("etiquetas"), blank=True)
    # The same tags seen from the through table: lists prefetch them in one cheap query
    # (taggit's manager builds a queryset per row even when prefetched).
    tagged_items = GenericRelation(TaggedItem)
    history = HistoricalRecords(
        excluded_fields=[
            "search_text",
            "phone_digits",
            "mobile_digits",
            "updated_at",
            "last_contacted_at",
            # The merge's pointer: its history row says it in the change reason instead.
            "merged_into",
            "merged_at",
        ]
    )

    class Meta:
        verbose_name = _("contacto")
        verbose_name_plural = _("contactos")
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="contact_name_idx"),
            # The default list (not archived, by name): counted and paged from the index alone.
            models.Index(
                fields=["last_name", "first_name", "id"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_live_name_idx",
            ),
            models.Index(fields=["owner", "last_name"], name="contact_owner_idx"),
            models.Index(fields=["lifecycle", "last_name"], name="contact_lifecycle_idx"),
            # The live contacts of a stage in id order, from the index alone: counted, and
            # merged with the consent ledger's index (consent_latest_filter_idx) by id.
            models.Index(
                fields=["lifecycle", "id"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_live_lifecycle_idx",
            ),
            # The API's list, newest first (its default order): an index of the live contacts
            # alone, or every page walks past the archived ones among the newest ids.
            models.Index(
                fields=["id"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_live_id_idx",
            ),
            models.Index(fields=["lead_source"], name="contact_source_idx"),
            models.Index(fields=["city"], name="contact_city_idx"),
            models.Index(fields=["region"], name="contact_region_idx"),
            models.Index(fields=["phone_digits"], name="contact_phone_idx"),
            models.Index(fields=["mobile_digits"], name="contact_mobile_idx"),
            models.Index(fields=["-lead_score"], name="contact_score_idx"),
            models.Index(fields=["-updated_at"], name="contact_updated_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="contact_email_unique_ci",
                violation_error_code="email_taken",
                violation_error_message=_("Ya existe un contacto con este correo electrónico."),
            ),
            models.CheckConstraint(
                condition=models.Q(lead_score__lte=100), name="contact_score_0_100"
            ),
            models.CheckConstraint(
                condition=models.Q(lifecycle__in=Lifecycle.values),
                name="contact_lifecycle_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(first_name=""), name="contact_first_name_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def zone_name(self) -> str:
        """The zone the person lives in: their own, else their country's, else the company's."""
        return effective_zone_name(self.time_zone, self.country)

    @property
    def zone_label(self) -> str:
        return zone_label(self.zone_name)

    def get_absolute_url(self) -> str:
        return pk_url("contacts:contact-detail", self.pk)

    def clean_fields(self, exclude=None) -> None:
        # Trimmed and lower-cased before the format check, so " Ana@X.mx " is accepted as ana@x.mx.
        self.email = (self.email or "").strip().lower()
        super().clean_fields(exclude=exclude)

    def validate_constraints(self, exclude=None) -> None:
        """The case-insensitive email rule reports on the email field, where forms show it."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            email = [e for e in general if getattr(e, "code", None) == "email_taken"]
            rest = [e for e in general if e not in email]
            if email:
                errors.setdefault("email", []).extend(email)
            if rest:
                errors[NON_FIELD_ERRORS] = rest
            raise ValidationError(errors) from exc

    def clean(self) -> None:
        """Phones to E.164, read in the contact's (or else the account's) country."""
        errors = {}
        region = self.country or (self.account.country if self.account_id else None)
        for field in ("phone", "mobile"):
            try:
                setattr(self, field, normalize_phone(getattr(self, field), region))
            except ValidationError as exc:
                errors[field] = exc.messages
        self.email = (self.email or "").strip().lower()
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Normalised copies for search, derived from the fields on every write (never edited).
        self.refresh_search_fields()
        super().save(*args, **kwargs)

    def refresh_search_fields(self) -> None:
        self.email = (self.email or "").strip().lower()
        self.phone_digits = digits(self.phone)
        self.mobile_digits = digits(self.mobile)
        self.search_text = search_text(self.first_name, self.last_name, self.email)

    @property
    def full_name(self) -> str:
        return self.name_of(self.first_name, self.last_name)

    @staticmethod
    def name_of(first_name: str, last_name: str) -> str:
        """The full name from the columns alone: for rows read without the model."""
        return f"{first_name} {last_name}".strip()

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def mobile_display(self) -> str:
        return format_phone(self.mobile)


class Topic(models.Model):
    """A subject a contact may subscribe to by email (a boletín: novedades, ofertas, eventos).

    A consent entry without a topic speaks for the whole channel ("no email at all" is a
    channel-wide withdrawal); an entry with a topic speaks for that topic only. A campaign of a
    topic reaches a contact whose channel-wide consent is a grant and who has not withdrawn
    from the topic.
    """

    name = models.CharField(_("nombre"), max_length=100, unique=True)
    description = models.CharField(_("descripción"), max_length=300, blank=True)
    # Offered in the public preference centre (an internal topic may be hidden from it).
    public = models.BooleanField(_("visible en el centro de preferencias"), default=True)
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)

    class Meta:
        verbose_name = _("tema de suscripción")
        verbose_name_plural = _("temas de suscripción")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Consent(models.Model):
    """One entry of the consent ledger: a grant or a withdrawal, never edited or deleted.

    The contact's current consent for a channel is the latest entry for it; no boolean is kept.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Correo electrónico")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        PHONE = "telefono", _("Llamadas")

    class Action(models.TextChoices):
        GRANT = "grant", _("Otorgado")
        WITHDRAW = "withdraw", _("Retirado")

    class LegalBasis(models.TextChoices):
        CONSENT = "consentimiento", _("Consentimiento expreso")
        CONTRACT = "contrato", _("Relación contractual")
        LEGITIMATE = "interes_legitimo", _("Interés legítimo")

    class Source(models.TextChoices):
        FORM = "formulario", _("Formulario web")
        IMPORT = "importacion", _("Importación")
        PHONE = "telefono", _("Por teléfono")
        IN_PERSON = "presencial", _("En persona")
        EMAIL = "email", _("Por correo electrónico")
        UNSUBSCRIBE = "baja", _("Enlace de baja")
        STAFF = "usuario", _("Registrado por un usuario")

    contact = models.ForeignKey(
        Contact, verbose_name=_("contacto"), on_delete=models.CASCADE, related_name="consents"
    )
    channel = models.CharField(
        _("canal"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    # None: the whole channel; a topic: that boletín only (see Topic).
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("tema"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consents",
    )
    action = models.CharField(_("acción"), max_length=10, choices=Action.choices)
    at = models.DateTimeField(_("fecha (UTC)"))
    source = models.CharField(_("cómo"), max_length=12, choices=Source.choices)
    legal_basis = models.CharField(
        _("base legal"), max_length=20, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    text_version = models.CharField(_("versión del texto mostrado"), max_length=50, blank=True)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    user_agent = models.CharField(_("navegador"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("nota"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("consentimiento")
        verbose_name_plural = _("consentimientos")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contact", "channel", "-at"], name="consent_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=["grant", "withdraw"]), name="consent_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel} {self.action} {self.at:%Y-%m-%d}"

    @property
    def is_grant(self) -> bool:
        return self.action == self.Action.GRANT


class ConsentLatest(models.Model):
    """The latest ledger entry for each contact, channel and topic: a projection of the ledger.

    The ledger (Consent) is the truth and is never edited; this table only points at its latest
    entry so that lists and segments can filter "who consents now" with an index instead of
    scanning the ledger per contact. Only `consent_record` writes it, in the same transaction as
    the entry; `consent_latest_rebuild` recomputes it from the ledger.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consent_latest", verbose_name=_("contacto")
    )
    channel = models.CharField(_("canal"), max_length=10, choices=Consent.Channel.choices)
    topic = models.ForeignKey(
        Topic,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tema"),
    )
    entry = models.OneToOneField(
        Consent, on_delete=models.CASCADE, related_name="+", verbose_name=_("registro")
    )
    # Copied from the (immutable) entry, so the filter needs no join.
    action = models.CharField(_("acción"), max_length=10, choices=Consent.Action.choices)

    class Meta:
        verbose_name = _("consentimiento vigente")
        verbose_name_plural = _("consentimientos vigentes")
        constraints = [
            # NULLs are distinct in a unique index: the channel-wide row has its own constraint.
            models.UniqueConstraint(
                fields=["contact", "channel"],
                condition=models.Q(topic__isnull=True),
                name="consent_latest_unique",
            ),
            models.UniqueConstraint(
                fields=["contact", "channel", "topic"],
                condition=models.Q(topic__isnull=False),
                name="consent_latest_topic_unique",
            ),
        ]
        indexes = [
            # "Who has granted (withdrawn) email" in contact order, from the index alone: the
            # consent filters of the lists, the segments and a campaign's eligibility ask for
            # the channel-wide state (topic_id IS NULL); a topic's rows go by their own index.
            models.Index(
                fields=["channel", "action", "contact"],
                condition=models.Q(topic__isnull=True),
                name="consent_latest_filter_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel} {self.topic_id or '*'} {self.action}"


# The import job's models live with the import engine (contacts.imports); imported here so
# that Django registers them with the app.
from contacts.imports.models import ImportedRecord, ImportMapping, ImportRun  # noqa: E402, F401

# --- Lead scoring ----------------------------------------------------------------------------

SCORE_MIN, SCORE_MAX = 0, 100
RULE_POINTS_LIMIT = 100  # a rule gives at most ±100 points (the whole scale)
HALF_LIFE_MAX_DAYS = 3650


class ScoreRule(TimeStampedModel):
    """A rule of the lead score, set by marketing (contacts.scoring; campaigns.scoring adds up
    the behaviour ones from the tracking events).

    Profile: `points` when the contact's (or their account's) `field` is one of `values`; for
    the job title, when one of `values` (accent-free, lower-case words or phrases) appears as a
    whole word. Behaviour: `points` for each `event` of the contact, decayed by its age:
    points × 0.5^(age in days / `half_life_days`), the rule's total capped at `max_points`.
    """

    class Kind(models.TextChoices):
        PROFILE = "perfil", _("Perfil")
        BEHAVIOUR = "comportamiento", _("Comportamiento")

    class Field(models.TextChoices):
        INDUSTRY = "industria", _("Sector de la cuenta")
        SIZE = "tamano", _("Tamaño de la cuenta")
        REGION = "region", _("Estado o provincia del contacto")
        COUNTRY = "pais", _("País del contacto")
        JOB_TITLE = "puesto", _("Palabras del puesto")
        LEAD_SOURCE = "origen", _("Origen del contacto")

    class Event(models.TextChoices):
        OPENED = "apertura", _("Abrió un correo")
        CLICKED = "clic", _("Hizo clic en un enlace")
        FORM = "formulario", _("Envió un formulario")

    name = models.CharField(_("nombre"), max_length=150)
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices)
    field = models.CharField(_("dato"), max_length=12, choices=Field.choices, blank=True)
    values = models.JSONField(_("valores"), default=list, blank=True)
    event = models.CharField(_("evento"), max_length=12, choices=Event.choices, blank=True)
    points = models.SmallIntegerField(_("puntos"))
    half_life_days = models.PositiveSmallIntegerField(_("vida media (días)"), null=True, blank=True)
    max_points = models.PositiveSmallIntegerField(_("tope de puntos"), null=True, blank=True)
    active = models.BooleanField(_("activa"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creada por"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("regla de puntuación")
        verbose_name_plural = _("reglas de puntuación")
        ordering = ["kind", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points__gte=-RULE_POINTS_LIMIT, points__lte=RULE_POINTS_LIMIT),
                name="score_rule_points_range",
                violation_error_message=_("Los puntos van de -100 a 100."),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="perfil", event="", half_life_days__isnull=True)
                    & models.Q(
                        field__in=["industria", "tamano", "region", "pais", "puesto", "origen"]
                    )
                )
                | (
                    models.Q(kind="comportamiento", field="")
                    & models.Q(event__in=["apertura", "clic", "formulario"])
                    & models.Q(half_life_days__gte=1, half_life_days__lte=HALF_LIFE_MAX_DAYS)
                ),
                name="score_rule_kind_shape",
                violation_error_message=_(
                    "Una regla de perfil indica un dato; una de comportamiento, un evento y "
                    "una vida media de 1 a 3650 días."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(max_points__isnull=True)
                | models.Q(max_points__gte=1, max_points__lte=RULE_POINTS_LIMIT),
                name="score_rule_max_points_range",
                violation_error_message=_("El tope de puntos va de 1 a 100."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_profile(self) -> bool:
        return self.kind == self.Kind.PROFILE


class ScoreChange(models.Model):
    """One change of a contact's lead score: the score history, and why (the breakdown).

    `breakdown`: [{"rule": id, "name": "…", "points": 12.5}, …], the rules that gave points at
    that moment (names copied: a rule renamed later does not rewrite the past).
    """

    class Reason(models.TextChoices):
        EVENT = "evento", _("Evento del contacto")
        NIGHTLY = "nocturno", _("Recálculo nocturno")
        RULES = "reglas", _("Reglas cambiadas")

    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.CASCADE,
        related_name="score_changes",
    )
    at = models.DateTimeField(_("fecha"))
    old_score = models.PositiveSmallIntegerField(_("puntuación anterior"))
    new_score = models.PositiveSmallIntegerField(_("puntuación nueva"))
    reason = models.CharField(_("motivo"), max_length=10, choices=Reason.choices)
    breakdown = models.JSONField(_("desglose"), default=list, blank=True)
    # This change took the contact to MQL (the funnel counts from here).
    became_mql = models.BooleanField(_("pasó a MQL"), default=False)

    class Meta:
        verbose_name = _("cambio de puntuación")
        verbose_name_plural = _("cambios de puntuación")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contact", "-at"], name="score_change_contact_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(old_score__lte=SCORE_MAX, new_score__lte=SCORE_MAX),
                name="score_change_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.old_score} → {self.new_score}"
