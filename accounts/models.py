from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from taggit.managers import TaggableManager
from taggit.models import TaggedItem

from accounts.validators import normalize_tax_id
from crm.core.formats import pk_url
from crm.core.models import AddressModel, TimeStampedModel
from crm.core.text import digits, format_phone, normalize_phone, search_text


class Industry(models.TextChoices):
    AGRO = "agro", _("Agroindustria")
    CONSTRUCTION = "construccion", _("Construcción")
    EDUCATION = "educacion", _("Educación")
    ENERGY = "energia", _("Energía")
    FINANCE = "finanzas", _("Servicios financieros")
    FOOD = "alimentos", _("Alimentos y bebidas")
    HEALTH = "salud", _("Salud")
    HOSPITALITY = "turismo", _("Turismo y hostelería")
    MANUFACTURING = "manufactura", _("Manufactura")
    PUBLIC = "gobierno", _("Sector público")
    RETAIL = "comercio", _("Comercio")
    SERVICES = "servicios", _("Servicios profesionales")
    TECHNOLOGY = "tecnologia", _("Tecnología")
    TRANSPORT = "logistica", _("Transporte y logística")
    OTHER = "otro", _("Otro")


class Size(models.TextChoices):
    LARGE = "grande", _("Grande")
    MEDIUM = "mediano", _("Mediano")
    SMALL = "pequeno", _("Pequeño")


class Relationship(models.TextChoices):
    CUSTOMER = "cliente", _("Cliente")
    DISTRIBUTOR = "distribuidor", _("Distribuidor")
    WHOLESALER = "mayorista", _("Mayorista")
    RETAILER = "minorista", _("Minorista")
    PARTNER = "socio", _("Socio comercial")


class Status(models.TextChoices):
    PROSPECT = "prospecto", _("Prospecto")
    POTENTIAL = "potencial", _("Potencial")
    ACTIVE = "activo", _("Activo")
    INACTIVE = "inactivo", _("Inactivo")


class Tier(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")
    C = "C", _("C")
    D = "D", _("D")


class Account(TimeStampedModel, AddressModel):
    """A customer company (cuenta): the centre of the hoja de cliente."""

    name = models.CharField(_("nombre comercial"), max_length=200)
    legal_name = models.CharField(_("razón social"), max_length=200, blank=True)
    tax_id = models.CharField(_("identificador fiscal"), max_length=20, blank=True)
    industry = models.CharField(
        _("sector"), max_length=20, choices=Industry.choices, default=Industry.OTHER
    )
    size = models.CharField(_("tamaño"), max_length=10, choices=Size.choices, default=Size.SMALL)
    relationship = models.CharField(
        _("tipo de relación"),
        max_length=15,
        choices=Relationship.choices,
        default=Relationship.CUSTOMER,
    )
    status = models.CharField(
        _("situación"), max_length=10, choices=Status.choices, default=Status.PROSPECT
    )
    phone = models.CharField(_("teléfono"), max_length=20, blank=True)
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)
    website = models.URLField(_("sitio web"), blank=True)
    email = models.EmailField(_("correo electrónico"), blank=True)
    notes = models.TextField(_("notas"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable"),
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    # The tier: computed nightly from won revenue (Pareto 80/20), unless a person fixed it.
    tier_auto = models.CharField(
        _("clasificación calculada"), max_length=1, choices=Tier.choices, default=Tier.D
    )
    tier_override = models.CharField(
        _("clasificación manual"), max_length=1, choices=Tier.choices, blank=True
    )
    tier = models.GeneratedField(
        expression=Coalesce(
            models.functions.NullIf("tier_override", models.Value("")), "tier_auto"
        ),
        output_field=models.CharField(max_length=1, choices=Tier.choices),
        db_persist=True,
        verbose_name=_("clasificación"),
    )
    archived_at = models.DateTimeField(_("archivada"), null=True, blank=True)
    # Kept by the service that logs an activity (opportunities.services.activities).
    last_contacted_at = models.DateTimeField(_("último contacto"), null=True, blank=True)
    # Set by the merge (crm.top.merge): this record was folded into that one and is archived.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("fusionada en"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("fusionada"), null=True, blank=True)
    search_text = models.TextField(blank=True, editable=False)

    tags = TaggableManager(_("etiquetas"), blank=True)
    # The same tags seen from the through table: lists prefetch them in one cheap query
    # (taggit's manager builds a queryset per row even when prefetched).
    tagged_items = GenericRelation(TaggedItem)
    history = HistoricalRecords(
        excluded_fields=[
            "search_text",
            "phone_digits",
            "updated_at",
            "tier",
            "last_contacted_at",
            # The merge's pointer: its history row says it in the change reason instead.
            "merged_into",
            "merged_at",
        ]
    )

    class Meta:
        verbose_name = _("cuenta")
        verbose_name_plural = _("cuentas")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name", "id"], name="account_name_idx"),
            # The default list (not archived, by name): counted and paged from the index alone.
            models.Index(
                fields=["name", "id"],
                condition=models.Q(archived_at__isnull=True),
                name="account_live_name_idx",
            ),
            models.Index(fields=["owner", "name"], name="account_owner_idx"),
            models.Index(fields=["status", "name"], name="account_status_idx"),
            models.Index(fields=["tier", "name"], name="account_tier_idx"),
            models.Index(fields=["city"], name="account_city_idx"),
            models.Index(fields=["region"], name="account_region_idx"),
            models.Index(fields=["tax_id"], name="account_tax_id_idx"),
            models.Index(fields=["phone_digits"], name="account_phone_idx"),
            models.Index(fields=["-updated_at"], name="account_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="account_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(tier_auto__in=Tier.values), name="account_tier_auto_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(tier_override__in=[*Tier.values, ""]),
                name="account_tier_override_valid",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="account_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return pk_url("accounts:account-detail", self.pk)

    def clean(self) -> None:
        """Tax id by the country's check digits and phone to E.164 (DESIGN.md §2)."""
        errors = {}
        try:
            self.tax_id = normalize_tax_id(self.tax_id, self.country)
        except ValidationError as exc:
            errors["tax_id"] = exc.messages
        try:
            self.phone = normalize_phone(self.phone, self.country)
        except ValidationError as exc:
            errors["phone"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Normalised copies for search, derived from the fields on every write (never edited).
        self.refresh_search_fields()
        super().save(*args, **kwargs)

    def refresh_search_fields(self) -> None:
        self.phone_digits = digits(self.phone)
        self.search_text = search_text(self.name, self.legal_name, self.tax_id, self.email)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def effective_tier(self) -> str:
        return self.tier_override or self.tier_auto
