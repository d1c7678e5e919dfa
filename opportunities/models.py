"""Oportunidades, actividades, quotes, forecasts, quotas and the visit plan (DESIGN.md §2)."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Tier
from contacts.models import Contact, LeadSource
from crm.core.formats import pk_url
from crm.core.models import TimeStampedModel

MONEY = {"max_digits": 14, "decimal_places": 2}


class Currency(models.TextChoices):
    MXN = "MXN", _("Peso mexicano (MXN)")
    EUR = "EUR", _("Euro (EUR)")
    USD = "USD", _("Dólar estadounidense (USD)")
    COP = "COP", _("Peso colombiano (COP)")
    ARS = "ARS", _("Peso argentino (ARS)")
    CLP = "CLP", _("Peso chileno (CLP)")
    PEN = "PEN", _("Sol peruano (PEN)")


class ExchangeRate(models.Model):
    """How many units of the company currency one unit of `currency` is worth, from a date."""

    currency = models.CharField(_("moneda"), max_length=3, choices=Currency.choices)
    rate = models.DecimalField(
        _("tipo de cambio"),
        max_digits=18,
        decimal_places=8,
        validators=[MinValueValidator(Decimal("0.00000001"))],
    )
    valid_from = models.DateField(_("vigente desde"))

    class Meta:
        verbose_name = _("tipo de cambio")
        verbose_name_plural = _("tipos de cambio")
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="rate_unique_per_day"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} ({self.valid_from})"


class Pipeline(models.Model):
    name = models.CharField(_("nombre"), max_length=100, unique=True)
    is_default = models.BooleanField(_("predeterminado"), default=False)

    class Meta:
        verbose_name = _("embudo de ventas")
        verbose_name_plural = _("embudos de ventas")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="pipeline_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """A column of the board, with the probability that weights the pipeline."""

    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("embudo"), on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(_("nombre"), max_length=60)
    order = models.PositiveSmallIntegerField(_("orden"))
    probability = models.PositiveSmallIntegerField(
        _("probabilidad (%)"), validators=[MaxValueValidator(100)]
    )
    is_won = models.BooleanField(_("ganada"), default=False)
    is_lost = models.BooleanField(_("perdida"), default=False)

    class Meta:
        verbose_name = _("etapa")
        verbose_name_plural = _("etapas")
        ordering = ["pipeline", "order"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "order"], name="stage_order_unique"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_0_100"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.probability} %)"

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Mejor escenario")
    COMMIT = "commit", _("Compromiso")
    CLOSED = "closed", _("Cerrada")


class Opportunity(TimeStampedModel):
    name = models.CharField(_("nombre"), max_length=200)
    account = models.ForeignKey(
        Account, verbose_name=_("cuenta"), on_delete=models.PROTECT, related_name="opportunities"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("embudo"), on_delete=models.PROTECT, related_name="opportunities"
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("etapa"), on_delete=models.PROTECT, related_name="opportunities"
    )
    amount = models.DecimalField(_("importe"), default=Decimal("0"), **MONEY)
    currency = models.CharField(
        _("moneda"), max_length=3, choices=Currency.choices, default=Currency.MXN
    )
    expected_close_date = models.DateField(_("cierre previsto"))
    forecast_category = models.CharField(
        _("categoría de previsión"),
        max_length=10,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )
    lead_source = models.CharField(
        _("origen"), max_length=12, choices=LeadSource.choices, default=LeadSource.OTHER
    )
    closed_at = models.DateTimeField(_("cerrada el"), null=True, blank=True)
    lost_reason = models.CharField(_("motivo de pérdida"), max_length=200, blank=True)
    won_reason = models.CharField(_("motivo de ganancia"), max_length=200, blank=True)
    description = models.TextField(_("descripción"), blank=True)

    class Meta:
        verbose_name = _("oportunidad")
        verbose_name_plural = _("oportunidades")
        ordering = ["expected_close_date", "id"]
        indexes = [
            # The board: the first cards of each column in their order (closed ones newest
            # first, open ones by close date) straight from the index, and the column totals
            # from the index alone. The rep's own, and everyone's for managers/administrators.
            models.Index(
                fields=["owner", "stage", "-closed_at", "expected_close_date", "id"],
                include=["pipeline", "currency", "amount"],
                name="opp_board_owner_idx",
            ),
            models.Index(
                fields=["stage", "-closed_at", "expected_close_date", "id"],
                name="opp_board_stage_idx",
            ),
            models.Index(fields=["stage", "expected_close_date"], name="opp_stage_close_idx"),
            models.Index(fields=["owner", "expected_close_date"], name="opp_owner_close_idx"),
            models.Index(fields=["account", "-expected_close_date"], name="opp_account_idx"),
            models.Index(fields=["closed_at"], name="opp_closed_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="opp_amount_positive"),
            models.CheckConstraint(condition=~models.Q(name=""), name="opp_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("opportunities:opportunity-detail", self.pk)


class StageChange(models.Model):
    """The stage history: every move, with when and who."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("fecha"), auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("cambio de etapa")
        verbose_name_plural = _("cambios de etapa")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["opportunity", "-at"], name="stagechange_opp_idx")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class Product(models.Model):
    name = models.CharField(_("nombre"), max_length=200)
    sku = models.CharField(_("código"), max_length=40, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    price = models.DecimalField(_("precio"), **MONEY)
    currency = models.CharField(
        _("moneda"), max_length=3, choices=Currency.choices, default=Currency.MXN
    )
    tax_rate = models.DecimalField(
        _("impuesto (%)"), max_digits=5, decimal_places=2, default=Decimal("16.00")
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("producto")
        verbose_name_plural = _("productos")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_positive"),
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0, tax_rate__lte=100), name="product_tax_0_100"
            ),
        ]

    def __str__(self) -> str:
        return self.label_of(self.name, self.sku)

    @staticmethod
    def label_of(name: str, sku: str) -> str:
        """How a product is named in a list or a select, from its columns alone."""
        return f"{name} ({sku})"


class LineItem(models.Model):
    """A line of the deal; the opportunity's amount is the sum of its lines, taxes excluded."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="line_items"
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(_("descripción"), max_length=200)
    quantity = models.DecimalField(
        _("cantidad"), max_digits=12, decimal_places=2, default=Decimal("1")
    )
    unit_price = models.DecimalField(_("precio unitario"), **MONEY)
    discount_pct = models.DecimalField(
        _("descuento (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    tax_rate = models.DecimalField(
        _("impuesto (%)"), max_digits=5, decimal_places=2, default=Decimal("16.00")
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("línea")
        verbose_name_plural = _("líneas")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="line_price_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(discount_pct__gte=0, discount_pct__lte=100),
                name="line_discount_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0, tax_rate__lte=100), name="line_tax_0_100"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Quote(models.Model):
    """A sent version of the quote: its number, the PDF and the figures as they were sent."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.PROTECT, related_name="quotes")
    number = models.CharField(_("número"), max_length=30)
    version = models.PositiveSmallIntegerField(_("versión"))
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    valid_until = models.DateField(_("válida hasta"))
    terms = models.TextField(_("condiciones"), blank=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency.choices)
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    tax_total = models.DecimalField(_("impuestos"), **MONEY)
    total = models.DecimalField(_("total"), **MONEY)
    lines = models.JSONField(_("líneas"), default=list)
    pdf = models.FileField(_("PDF"), upload_to="quotes/%Y/", blank=True)
    sent_at = models.DateTimeField(_("enviada el"), null=True, blank=True)
    sent_to = models.EmailField(_("enviada a"), blank=True)

    class Meta:
        verbose_name = _("cotización")
        verbose_name_plural = _("cotizaciones")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="quote_number_version"),
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}"


class ActivityKind(models.TextChoices):
    VISIT = "visita", _("Visita")
    CALL = "llamada", _("Llamada")
    MEETING = "reunion", _("Reunión")
    EMAIL = "email", _("Correo")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TASK = "tarea", _("Tarea")


class Activity(TimeStampedModel):
    """A visit, call, meeting, email, WhatsApp or task: planned, or done with its outcome."""

    class Status(models.TextChoices):
        PLANNED = "planificada", _("Planificada")
        DONE = "hecha", _("Hecha")
        CANCELLED = "cancelada", _("Cancelada")

    kind = models.CharField(_("tipo"), max_length=10, choices=ActivityKind.choices)
    status = models.CharField(
        _("estado"), max_length=12, choices=Status.choices, default=Status.PLANNED
    )
    subject = models.CharField(_("asunto"), max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable"),
        on_delete=models.PROTECT,
        related_name="activities",
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("cuenta"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("oportunidad"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
    )
    planned_at = models.DateTimeField(_("fecha prevista"), null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(_("duración (min)"), default=30)
    place = models.CharField(_("lugar"), max_length=200, blank=True)
    done_at = models.DateTimeField(_("realizada el"), null=True, blank=True)
    outcome = models.TextField(_("resultado"), blank=True)
    notes = models.TextField(_("notas"), blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The visit plan's own visits: one per account and cadence period, never two.
    cadence_period = models.CharField(max_length=20, blank=True, editable=False)

    class Meta:
        verbose_name = _("actividad")
        verbose_name_plural = _("actividades")
        ordering = ["-planned_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status", "planned_at"], name="activity_agenda_idx"),
            models.Index(fields=["account", "-done_at"], name="activity_account_idx"),
            models.Index(fields=["contact", "-done_at"], name="activity_contact_idx"),
            models.Index(fields=["opportunity", "-done_at"], name="activity_opp_idx"),
            models.Index(
                fields=["planned_at"],
                condition=models.Q(status="planificada", reminder_sent_at__isnull=True),
                name="activity_reminder_due_idx",
            ),
            # The agenda's days and week, in the order they show (Coalesce = Activity.when).
            models.Index(
                models.F("owner"),
                models.Func(models.F("done_at"), models.F("planned_at"), function="COALESCE"),
                models.F("id"),
                name="activity_owner_when_idx",
            ),
            # The visit plan: an account's last done visit and next planned one, one probe each.
            models.Index(
                fields=["account", "done_at"],
                condition=models.Q(kind="visita", status="hecha"),
                name="activity_visit_done_idx",
            ),
            models.Index(
                fields=["account", "planned_at"],
                condition=models.Q(kind="visita", status="planificada"),
                name="activity_visit_planned_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=False) | models.Q(contact__isnull=False),
                name="activity_has_customer",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="planificada") | models.Q(planned_at__isnull=False),
                name="activity_planned_has_date",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="hecha") | models.Q(done_at__isnull=False),
                name="activity_done_has_date",
            ),
            models.UniqueConstraint(
                fields=["account", "cadence_period"],
                condition=~models.Q(cadence_period=""),
                name="activity_one_planned_visit_per_period",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.get_kind_display()

    def get_absolute_url(self) -> str:
        return pk_url("opportunities:activity-detail", self.pk)

    @property
    def when(self):
        return self.done_at if self.status == self.Status.DONE else self.planned_at


class VisitCadence(models.Model):
    """How often accounts of a tier are to be visited; no days = never."""

    tier = models.CharField(_("clasificación"), max_length=1, choices=Tier.choices, unique=True)
    days = models.PositiveSmallIntegerField(_("cada cuántos días"), null=True, blank=True)

    class Meta:
        verbose_name = _("frecuencia de visitas")
        verbose_name_plural = _("frecuencias de visitas")
        ordering = ["tier"]

    def __str__(self) -> str:
        return f"{self.tier}: {self.days or '—'}"


class CalendarFeed(models.Model):
    """The secret address of a user's ICS feed (rotating the token revokes the old one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("calendario ICS")
        verbose_name_plural = _("calendarios ICS")

    def __str__(self) -> str:
        return f"ICS {self.user_id}"


class Quota(models.Model):
    """A rep's sales target for one month, in the company currency."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("vendedor"),
        on_delete=models.CASCADE,
        related_name="quotas",
    )
    month = models.DateField(_("mes"), help_text=_("El primer día del mes."))
    amount = models.DecimalField(_("cuota"), **MONEY)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("cuota")
        verbose_name_plural = _("cuotas")
        ordering = ["-month", "owner"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "month"], name="quota_one_per_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="quota_month_first_day"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="quota_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.month:%Y-%m}: {self.amount}"


class ForecastAdjustment(models.Model):
    """A manager's adjustment of a rep's forecast for a period, with a note; all are kept."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("vendedor"),
        on_delete=models.CASCADE,
        related_name="forecast_adjustments",
    )
    period_start = models.DateField(_("desde"))
    period_end = models.DateField(_("hasta"))
    amount = models.DecimalField(_("previsión ajustada"), **MONEY)
    note = models.TextField(_("nota"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("fecha"), auto_now_add=True)

    class Meta:
        verbose_name = _("ajuste de previsión")
        verbose_name_plural = _("ajustes de previsión")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["owner", "period_start", "-at"], name="adjustment_period_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="adjustment_period_valid",
            ),
            models.CheckConstraint(condition=~models.Q(note=""), name="adjustment_note_required"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.period_start}–{self.period_end}: {self.amount}"


class TierChange(models.Model):
    """The history of an account's computed tier (the nightly Pareto ranking)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=1, choices=Tier.choices)
    to_tier = models.CharField(max_length=1, choices=Tier.choices)
    revenue = models.DecimalField(_("ingresos 12 meses"), **MONEY)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cambio de clasificación")
        verbose_name_plural = _("cambios de clasificación")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_tier} → {self.to_tier}"


# --- Lead routing (issue 9): who gets an MQL, and what they answered -----------------------------


class RoutingRule(TimeStampedModel):
    """A rule of lead routing, tried in `order` after the built-in "the account's owner first".

    Territory: the contact's state (`regions`, folded like crm.core.text.column_fold) and/or
    country (`countries`) match; the lead goes to `rep`, or by turns to the reps of `team`.
    Round robin: every lead, by turns to the active reps of `team`. `last_assigned` is the
    turn: the next lead goes to the team's next rep after them (by id), read and moved under
    the row's lock, so concurrent runs never hand out the same turn twice.
    """

    class Kind(models.TextChoices):
        TERRITORY = "territorio", _("Territorio")
        ROUND_ROBIN = "turnos", _("Turnos en un equipo")

    order = models.PositiveSmallIntegerField(_("orden"), default=0)
    name = models.CharField(_("nombre"), max_length=150)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices)
    regions = models.JSONField(_("estados o provincias"), default=list, blank=True)
    countries = models.JSONField(_("países"), default=list, blank=True)
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("vendedor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("equipo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_rules",
    )
    active = models.BooleanField(_("activa"), default=True)
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creada por"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("regla de reparto")
        verbose_name_plural = _("reglas de reparto")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="turnos", team__isnull=False, rep__isnull=True)
                    | models.Q(kind="territorio", team__isnull=False, rep__isnull=True)
                    | models.Q(kind="territorio", team__isnull=True, rep__isnull=False)
                ),
                name="routing_rule_target",
                violation_error_message=_(
                    "Una regla de territorio va a un vendedor o a un equipo; una de turnos, a un "
                    "equipo."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RejectReason(models.TextChoices):
    NO_INTEREST = "sin_interes", _("No tiene interés")
    UNREACHABLE = "ilocalizable", _("No se le pudo localizar")
    NOT_FIT = "no_encaja", _("No es nuestro perfil de cliente")
    BAD_DATA = "datos", _("Datos falsos o incorrectos")
    DUPLICATE = "duplicado", _("Duplicado de otro contacto")
    COMPETITOR = "competencia", _("Es de la competencia o ya es cliente")
    OTHER = "otro", _("Otro motivo")


class LeadAssignment(TimeStampedModel):
    """One MQL crossing routed to a rep, with its call task and the rep's answer.

    `score_change` is the crossing (contacts.ScoreChange with became_mql): UNIQUE, so the
    routing job gives each crossing one rep however often it runs; a contact that goes back to
    lead and crosses again is a new crossing, routed again.
    """

    class Method(models.TextChoices):
        ACCOUNT_OWNER = "cuenta", _("Responsable de la cuenta")
        RULE = "regla", _("Regla de reparto")
        CONTACT_OWNER = "responsable", _("Responsable del contacto")
        MANAGER = "gerente", _("Gerente del equipo")

    class Status(models.TextChoices):
        PENDING = "pendiente", _("Pendiente")
        ACCEPTED = "aceptado", _("Aceptado (SQL)")
        REJECTED = "rechazado", _("Rechazado")
        SUPERSEDED = "sustituido", _("Sustituido por una nueva asignación")

    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contacto"),
        on_delete=models.CASCADE,
        related_name="lead_assignments",
    )
    score_change = models.OneToOneField(
        "contacts.ScoreChange",
        verbose_name=_("paso a MQL"),
        on_delete=models.CASCADE,
        related_name="lead_assignment",
    )
    mql_at = models.DateTimeField(_("MQL desde"))
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("vendedor"),
        on_delete=models.PROTECT,
        related_name="lead_assignments",
    )
    method = models.CharField(_("asignado por"), max_length=12, choices=Method.choices)
    rule = models.ForeignKey(
        RoutingRule,
        verbose_name=_("regla"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assignments",
    )
    task = models.ForeignKey(
        Activity,
        verbose_name=_("tarea de llamada"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("asignado el"))
    due_at = models.DateTimeField(_("responder antes de"))
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reject_reason = models.CharField(
        _("motivo del rechazo"), max_length=12, choices=RejectReason.choices, blank=True
    )
    reject_note = models.CharField(_("nota del rechazo"), max_length=500, blank=True)
    responded_at = models.DateTimeField(_("respondido el"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("respondido por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("lead asignado")
        verbose_name_plural = _("leads asignados")
        ordering = ["-assigned_at", "-id"]
        indexes = [
            models.Index(fields=["rep", "status", "-assigned_at"], name="lead_rep_status_idx"),
            models.Index(fields=["status", "-assigned_at"], name="lead_status_idx"),
            models.Index(fields=["assigned_at"], name="lead_assigned_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=["pendiente", "sustituido"], responded_at__isnull=True)
                    | models.Q(status__in=["aceptado", "rechazado"], responded_at__isnull=False)
                ),
                name="lead_response_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="rechazado") | ~models.Q(reject_reason=""),
                name="lead_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.rep_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return pk_url("opportunities:lead-detail", self.pk)

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
