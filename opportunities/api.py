"""Sales in the REST API (issue 11): opportunities with their stage, lines and history, the
pipeline's stages, products and activities.

Read through opportunities.selectors, written through opportunities.services, with the same
visibility and rules as the pages (DESIGN.md §1, opportunities.permissions): a rep reads and
changes only their own deals and activities, a manager those of the teams they lead, an
administrator all; support reads activities (the customer's history) but never a deal or an
amount; marketing none of these. Another user's record answers 404.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from accounts.models import Account
from accounts.selectors import account_base
from contacts.models import Contact
from contacts.selectors import contact_base
from crm.core.api.drf import ApiViewSet, SparseFieldsMixin, VersionedMixin, enum_field
from crm.core.models import User
from crm.core.permissions import assignable_owners
from opportunities.forms.pipeline import OpportunityFilterForm, ProductFilterForm
from opportunities.models import (
    Activity,
    ActivityKind,
    LineItem,
    Opportunity,
    Product,
    Stage,
    StageChange,
)
from opportunities.money import line_totals
from opportunities.permissions import can_see_activities, can_sell
from opportunities.selectors import activities as activity_selectors
from opportunities.selectors import pipeline as selectors
from opportunities.services import activities as activity_services
from opportunities.services import pipeline as services


def _require_seller(user: User) -> None:
    """The pipeline's pages are for reps, managers and administrators (the same message)."""
    if not can_sell(user):
        raise PermissionDenied(_("Tu rol no tiene acceso a las oportunidades."))


def _if_match(view: VersionedMixin, instance) -> None:
    """An action (move, won, lost, complete…) checks If-Match when sent; it is not required,
    since the service's state machine already refuses a move that no longer applies."""
    if view.request.headers.get("If-Match", "").strip():
        view.checked_version(instance)


ActivityKindField = enum_field("ActivityKindEnum", ActivityKind.choices)
ActivityStatusField = enum_field("ActivityStatusEnum", Activity.Status.choices)
NewActivityStatusField = enum_field(
    "NewActivityStatusEnum",
    [(s, label) for s, label in Activity.Status.choices if s != Activity.Status.CANCELLED],
)
NextKindField = enum_field("ActivityNextKindEnum", [("", "—"), *ActivityKind.choices])

OPPORTUNITY_PATH = [
    OpenApiParameter("opportunity_pk", int, OpenApiParameter.PATH, description="La oportunidad.")
]


# Stages -----------------------------------------------------------------------------------------


class StageBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "order", "probability", "is_won", "is_lost"]
        read_only_fields = fields


class StageSerializer(StageBriefSerializer):
    pipeline_name = serializers.CharField(source="pipeline.name", read_only=True)

    class Meta(StageBriefSerializer.Meta):
        fields = ["id", "pipeline", "pipeline_name", *StageBriefSerializer.Meta.fields[1:]]
        read_only_fields = fields


class StageViewSet(ApiViewSet):
    """The pipelines' stages, in their order, with the probability that weights the forecast
    (read-only: an administrator configures them in the admin)."""

    api_area = "sales"
    serializer_class = StageSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("pipeline", int, description="Solo las etapas de un embudo.")]
    )
    def list(self, request):
        _require_seller(request.user)
        stages = selectors.stage_choices()
        if pipeline := request.query_params.get("pipeline"):
            try:
                pipeline = serializers.IntegerField(min_value=1).run_validation(pipeline)
            except ValidationError as exc:
                raise ValidationError({"pipeline": exc.detail}) from exc
            stages = stages.filter(pipeline_id=pipeline)
        return Response(StageSerializer(stages, many=True).data)


# Line items -------------------------------------------------------------------------------------


class LineItemSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """A line of the deal. Without a price or description, the product's (in the deal's
    currency); the deal's amount is the sum of the lines' net amounts."""

    product = serializers.PrimaryKeyRelatedField(
        queryset=Product.objects.none(), required=False, allow_null=True
    )
    net = serializers.SerializerMethodField(help_text="Neto: con el descuento, sin impuestos.")
    tax = serializers.SerializerMethodField(help_text="El impuesto de la línea.")

    class Meta:
        model = LineItem
        fields = [
            "id",
            "product",
            *services.LINE_FIELDS,
            "position",
            "net",
            "tax",
        ]
        read_only_fields = ["position"]
        extra_kwargs = {
            "description": {"required": False, "allow_blank": True},
            "unit_price": {"required": False},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "product" in self.fields:
            self.fields["product"].queryset = selectors.product_choices()

    def _totals(self, line: LineItem):
        return line_totals(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_pct=line.discount_pct,
            tax_rate=line.tax_rate,
        )

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_net(self, line: LineItem) -> str:
        return str(self._totals(line)[0])

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_tax(self, line: LineItem) -> str:
        return str(self._totals(line)[1])


class LineItemViewSet(
    VersionedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    ApiViewSet,
):
    """The lines of one opportunity: read by whoever sees the deal, added, changed (with
    If-Match) and removed by whoever may change it."""

    api_area = "sales"
    serializer_class = LineItemSerializer
    pagination_class = None
    version_fields = services.LINE_VERSION_FIELDS

    def _opportunity(self) -> Opportunity:
        try:
            return selectors.opportunity_detail(
                user=self.request.user, pk=int(self.kwargs["opportunity_pk"])
            )
        except (Opportunity.DoesNotExist, ValueError) as exc:
            raise NotFound(_("No existe esa oportunidad.")) from exc

    def get_queryset(self):
        return selectors.line_items_of(opportunity=self._opportunity())

    def get_object(self) -> LineItem:
        opportunity = self._opportunity()
        try:
            line = selectors.line_items_of(opportunity=opportunity).get(pk=int(self.kwargs["pk"]))
        except (LineItem.DoesNotExist, ValueError) as exc:
            raise NotFound(_("No existe esa línea o no puedes modificarla.")) from exc
        line.opportunity = opportunity
        return line

    @extend_schema(parameters=OPPORTUNITY_PATH)
    def list(self, request, *args, **kwargs):
        lines = self.get_queryset()
        return Response(self.get_serializer(lines, many=True).data)

    @extend_schema(parameters=OPPORTUNITY_PATH)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(parameters=OPPORTUNITY_PATH)
    def create(self, request, *args, **kwargs):
        opportunity = self._opportunity()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = services.line_item_add(
            actor=request.user, opportunity=opportunity, data=dict(serializer.validated_data)
        )
        return self.versioned(
            Response(self.get_serializer(line).data, status=status.HTTP_201_CREATED), line
        )

    @extend_schema(parameters=OPPORTUNITY_PATH)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        line = self.get_object()
        version = self.checked_version(line)
        serializer = self.get_serializer(line, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        line = services.line_item_update(
            actor=request.user, line=line, data=dict(serializer.validated_data), version=version
        )
        return self.versioned(Response(self.get_serializer(line).data), line)

    @extend_schema(parameters=OPPORTUNITY_PATH)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(parameters=OPPORTUNITY_PATH, responses={204: None})
    def destroy(self, request, *args, **kwargs):
        line = self.get_object()
        _if_match(self, line)
        services.line_item_remove(actor=request.user, line=line)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Opportunities ----------------------------------------------------------------------------------


class StageChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageChange
        fields = ["id", "from_stage", "to_stage", "at", "by"]
        read_only_fields = fields


class OpportunitySerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """A deal. The stage is chosen on creation (`stage_id`, an open one); afterwards it changes
    only through `move`, `won` or `lost`, which keep the history."""

    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.none())
    account_name = serializers.CharField(source="account.name", read_only=True)
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.none(), required=False, allow_null=True
    )
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False)
    stage = StageBriefSerializer(read_only=True)
    stage_id = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.none(),
        write_only=True,
        required=False,
        help_text="La etapa inicial (abierta); sin ella, la primera del embudo predeterminado.",
    )

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "account",
            "account_name",
            "contact",
            "owner",
            "pipeline",
            "stage",
            "stage_id",
            "amount",
            "currency",
            "expected_close_date",
            "forecast_category",
            "lead_source",
            "description",
            "closed_at",
            "won_reason",
            "lost_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "pipeline",
            "closed_at",
            "won_reason",
            "lost_reason",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"amount": {"required": False}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return
        user = request.user
        querysets = {
            "account": account_base(user=user).filter(archived_at__isnull=True),
            "contact": contact_base(user=user),
            "owner": assignable_owners(user),
            "stage_id": selectors.stage_choices(),
        }
        for name, queryset in querysets.items():
            if name in self.fields:
                self.fields[name].queryset = queryset


class OpportunityDetailSerializer(OpportunitySerializer):
    line_items = serializers.SerializerMethodField()
    subtotal = serializers.SerializerMethodField(help_text="La suma neta de las líneas.")
    tax_total = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    stage_history = serializers.SerializerMethodField()

    class Meta(OpportunitySerializer.Meta):
        fields = [
            *OpportunitySerializer.Meta.fields,
            "line_items",
            "subtotal",
            "tax_total",
            "total",
            "stage_history",
        ]

    def _summary(self, opportunity: Opportunity) -> selectors.LineSummary:
        summary = getattr(opportunity, "_api_lines", None)
        if summary is None:
            summary = selectors.summarize_lines(selectors.line_items_of(opportunity=opportunity))
            opportunity._api_lines = summary
        return summary

    @extend_schema_field(LineItemSerializer(many=True))
    def get_line_items(self, opportunity: Opportunity) -> list:
        lines = [row.line for row in self._summary(opportunity).rows]
        return LineItemSerializer(lines, many=True).data

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_subtotal(self, opportunity: Opportunity) -> str:
        return str(self._summary(opportunity).subtotal)

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_tax_total(self, opportunity: Opportunity) -> str:
        return str(self._summary(opportunity).tax_total)

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_total(self, opportunity: Opportunity) -> str:
        return str(self._summary(opportunity).total)

    @extend_schema_field(StageChangeSerializer(many=True))
    def get_stage_history(self, opportunity: Opportunity) -> list:
        return StageChangeSerializer(
            selectors.stage_history(opportunity=opportunity), many=True
        ).data


class MoveSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.none())
    lost_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    won_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = selectors.stage_choices()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


OPPORTUNITY_FILTERS = [
    OpenApiParameter("q", str, description="Busca en el nombre y en la cuenta."),
    OpenApiParameter("owner", int, description="Responsable (solo entre las que puedes ver)."),
    OpenApiParameter("mine", bool, description="Solo las mías."),
    OpenApiParameter("account", int),
    OpenApiParameter("stage", int, many=True, description="Una o varias etapas."),
    OpenApiParameter("status", str, enum=["open", "won", "lost"]),
    OpenApiParameter("currency", str, many=True),
    OpenApiParameter("forecast_category", str, many=True),
    OpenApiParameter("close_from", OpenApiTypes.DATE),
    OpenApiParameter("close_to", OpenApiTypes.DATE),
    OpenApiParameter(
        "ordering",
        str,
        description="id, expected_close_date, amount, name o updated_at; con «-», descendente.",
    ),
]


def opportunity_filters(params: QueryDict) -> dict:
    """The list page's filters (same names, same meaning) from the query string."""
    filters = OpportunityFilterForm.filters_from(params)
    filters.pop("sort", None)  # the API orders with ?ordering=
    return filters


@extend_schema_view(list=extend_schema(parameters=OPPORTUNITY_FILTERS))
class OpportunityViewSet(
    VersionedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    ApiViewSet,
):
    """Opportunities (oportunidades). A rep reads and changes only their own; a manager those of
    the teams they lead; an administrator all; support and marketing none."""

    api_area = "sales"
    serializer_class = OpportunitySerializer
    version_fields = (*services.OPPORTUNITY_FIELDS, "account", "contact", "owner")
    orderings = ("id", "expected_close_date", "amount", "name", "updated_at")

    def get_serializer_class(self):
        if self.action == "list":
            return OpportunitySerializer
        if self.action == "move":
            return MoveSerializer
        if self.action in ("won", "lost"):
            return ReasonSerializer
        return OpportunityDetailSerializer

    def get_queryset(self):
        _require_seller(self.request.user)
        filters = opportunity_filters(self.request.query_params)
        return selectors.opportunity_list(user=self.request.user, filters=filters)

    not_found = gettext_lazy("No existe esa oportunidad.")

    def select_object(self, pk: int) -> Opportunity:
        return selectors.opportunity_detail(user=self.request.user, pk=pk)

    def _answer(self, opportunity: Opportunity, *, code: int = status.HTTP_200_OK) -> Response:
        """The deal as the detail shows it, read again through the selector, with its ETag."""
        opportunity = selectors.opportunity_detail(user=self.request.user, pk=opportunity.pk)
        data = OpportunityDetailSerializer(opportunity, context=self.get_serializer_context()).data
        return self.versioned(Response(data, status=code), opportunity)

    @extend_schema(request=OpportunitySerializer, responses={201: OpportunityDetailSerializer})
    def create(self, request, *args, **kwargs):
        _require_seller(request.user)
        serializer = OpportunitySerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        opportunity = services.opportunity_create(
            actor=request.user,
            account=data.pop("account"),
            contact=data.pop("contact", None),
            owner=data.pop("owner", None),
            stage=data.pop("stage_id", None),
            data=data,
        )
        return self._answer(opportunity, code=status.HTTP_201_CREATED)

    @extend_schema(request=OpportunitySerializer, responses=OpportunityDetailSerializer)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        opportunity = self.get_object()
        version = self.checked_version(opportunity)
        serializer = OpportunitySerializer(
            opportunity,
            data=request.data,
            partial=partial,
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data.pop("stage_id", None) is not None:
            raise ValidationError(
                {"stage_id": [_("La etapa se cambia con «move», «won» o «lost».")]}
            )
        opportunity = services.opportunity_update(
            actor=request.user,
            opportunity=opportunity,
            account=data.pop("account", None),
            # The service sets the contact as given: a change that does not name it keeps it.
            contact=data.pop("contact", opportunity.contact),
            owner=data.pop("owner", None),
            data=data,
            version=version,
        )
        return self._answer(opportunity)

    @extend_schema(request=OpportunitySerializer, responses=OpportunityDetailSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def _move(self, opportunity: Opportunity, stage: Stage, **reasons) -> Response:
        opportunity = services.opportunity_move(
            actor=self.request.user, opportunity=opportunity, stage=stage, **reasons
        )
        return self._answer(opportunity)

    @extend_schema(request=MoveSerializer, responses=OpportunityDetailSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the deal to a stage of its pipeline (a lost stage needs `lost_reason`), with
        its history, forecast category and closing date, as on the board."""
        opportunity = self.get_object()
        _if_match(self, opportunity)
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return self._move(
            opportunity,
            data["stage"],
            lost_reason=data.get("lost_reason", ""),
            won_reason=data.get("won_reason", ""),
        )

    def _closing_stage(self, opportunity: Opportunity, *, won: bool) -> Stage:
        for stage in selectors.stages_of(opportunity.pipeline_id):
            if stage.is_won if won else stage.is_lost:
                return stage
        raise ValidationError({"stage": [_("Elige una etapa válida.")]})

    @extend_schema(request=ReasonSerializer, responses=OpportunityDetailSerializer)
    @action(detail=True, methods=["post"])
    def won(self, request, pk=None):
        """Close the deal as won (the pipeline's won stage), with an optional reason."""
        opportunity = self.get_object()
        _if_match(self, opportunity)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stage = self._closing_stage(opportunity, won=True)
        return self._move(
            opportunity, stage, won_reason=serializer.validated_data.get("reason", "")
        )

    @extend_schema(request=ReasonSerializer, responses=OpportunityDetailSerializer)
    @action(detail=True, methods=["post"])
    def lost(self, request, pk=None):
        """Close the deal as lost (the pipeline's lost stage); the reason is required."""
        opportunity = self.get_object()
        _if_match(self, opportunity)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stage = self._closing_stage(opportunity, won=False)
        try:
            return self._move(
                opportunity, stage, lost_reason=serializer.validated_data.get("reason", "")
            )
        except DjangoValidationError as exc:
            # The service names its field `lost_reason`; this action's field is `reason`.
            errors = getattr(exc, "error_dict", {})
            if "lost_reason" not in errors:
                raise
            raise ValidationError({"reason": exc.message_dict["lost_reason"]}) from exc


# Products ---------------------------------------------------------------------------------------


class ProductSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", *services.PRODUCT_FIELDS]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Busca en el nombre y el código."),
            OpenApiParameter(
                "archived", bool, description="Incluir los retirados (administradores)."
            ),
            OpenApiParameter("ordering", str, description="id, name o sku; con «-», descendente."),
        ]
    )
)
class ProductViewSet(
    VersionedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    ApiViewSet,
):
    """The catalogue: sellers read the active products (those offered on a deal's lines);
    only an administrator reads the retired ones and creates or changes products."""

    api_area = "sales"
    serializer_class = ProductSerializer
    version_fields = services.PRODUCT_FIELDS
    orderings = ("id", "name", "sku")

    def get_queryset(self):
        user = self.request.user
        _require_seller(user)
        filters = ProductFilterForm(self.request.query_params).filters()
        if not user.is_admin_role:
            filters.pop("archived", None)
        return selectors.product_list(filters=filters)

    def get_object(self) -> Product:
        user = self.request.user
        _require_seller(user)
        products = selectors.product_list(filters={"archived": user.is_admin_role})
        try:
            return products.get(pk=int(self.kwargs["pk"]))
        except (Product.DoesNotExist, ValueError) as exc:
            raise NotFound(_("No existe ese producto.")) from exc

    def perform_create(self, serializer):
        serializer.instance = services.product_create(
            actor=self.request.user, data=dict(serializer.validated_data)
        )

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        product = self.get_object()
        version = self.checked_version(product)
        serializer = self.get_serializer(product, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        product = services.product_update(
            actor=request.user,
            product=product,
            data=dict(serializer.validated_data),
            version=version,
        )
        return self.versioned(Response(self.get_serializer(product).data), product)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


# Activities -------------------------------------------------------------------------------------


class ActivitySerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """An activity as its page shows it. The deal it belongs to is shown only to those who
    see deals (support reads the activity, not the opportunity)."""

    account_name = serializers.CharField(
        source="account.name", read_only=True, allow_null=True, default=None
    )
    contact_name = serializers.CharField(
        source="contact.full_name", read_only=True, allow_null=True, default=None
    )
    kind = ActivityKindField(read_only=True)
    status = ActivityStatusField(read_only=True)
    opportunity = serializers.SerializerMethodField()
    opportunity_name = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "status",
            "subject",
            "owner",
            "account",
            "account_name",
            "contact",
            "contact_name",
            "opportunity",
            "opportunity_name",
            "planned_at",
            "done_at",
            "duration_minutes",
            "place",
            "outcome",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _sees_deals(self) -> bool:
        request = self.context.get("request")
        return request is not None and can_sell(request.user)

    def get_opportunity(self, activity: Activity) -> int | None:
        return activity.opportunity_id if self._sees_deals() else None

    def get_opportunity_name(self, activity: Activity) -> str | None:
        if not self._sees_deals() or activity.opportunity_id is None:
            return None
        return activity.opportunity.name


class ActivityLoggedSerializer(ActivitySerializer):
    next_step = serializers.SerializerMethodField(help_text="La siguiente actividad planificada.")

    class Meta(ActivitySerializer.Meta):
        fields = [*ActivitySerializer.Meta.fields, "next_step"]
        read_only_fields = fields

    @extend_schema_field(ActivitySerializer(allow_null=True))
    def get_next_step(self, activity: Activity) -> dict | None:
        step = getattr(activity, "next_step", None)
        return ActivitySerializer(step, context=self.context).data if step else None


class ActivityCreateSerializer(serializers.Serializer):
    """Log what happened (status «hecha», the default: outcome required, optionally the next
    step) or plan an activity (status «planificada»: `planned_at` required)."""

    kind = ActivityKindField()
    status = NewActivityStatusField(default=Activity.Status.DONE)
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.none(), required=False, allow_null=True
    )
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.none(), required=False, allow_null=True
    )
    opportunity = serializers.PrimaryKeyRelatedField(
        queryset=Opportunity.objects.none(), required=False, allow_null=True
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        required=False,
        allow_null=True,
        help_text="Un gerente o administrador registra en nombre de alguien de su equipo.",
    )
    subject = serializers.CharField(max_length=200, allow_blank=True, default="")
    done_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Cuándo se hizo (sin él: ahora)."
    )
    planned_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, default=30)
    place = serializers.CharField(max_length=200, allow_blank=True, default="")
    outcome = serializers.CharField(max_length=2000, allow_blank=True, default="")
    notes = serializers.CharField(allow_blank=True, default="")
    next_kind = NextKindField(allow_blank=True, default="")
    next_at = serializers.DateTimeField(allow_null=True, default=None)
    next_subject = serializers.CharField(max_length=200, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return
        user = request.user
        self.fields["account"].queryset = account_base(user=user)
        self.fields["contact"].queryset = contact_base(user=user)
        self.fields["opportunity"].queryset = selectors.opportunity_base(user=user)
        self.fields["owner"].queryset = activity_selectors.agenda_owners(user=user)


class ActivityUpdateSerializer(serializers.ModelSerializer):
    """The details: a planned activity is moved (`planned_at`); a done one keeps its outcome
    (`outcome`, `done_at`). Done or cancelled: `complete` and `cancel`."""

    kind = ActivityKindField(required=False)

    class Meta:
        model = Activity
        fields = list(activity_services.EDITABLE_FIELDS)


class CompleteSerializer(serializers.Serializer):
    outcome = serializers.CharField(max_length=2000, allow_blank=True)
    done_at = serializers.DateTimeField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class ActivityFilterSerializer(serializers.Serializer):
    """The activity list page's filters: the customer (account, contact or deal), the status,
    the kind, only mine."""

    account = serializers.IntegerField(min_value=1, required=False)
    contact = serializers.IntegerField(min_value=1, required=False)
    opportunity = serializers.IntegerField(min_value=1, required=False)
    status = ActivityStatusField(required=False)
    kind = ActivityKindField(required=False)
    mine = serializers.BooleanField(required=False)


def activity_filters(params: QueryDict, user: User) -> dict:
    names = ActivityFilterSerializer().fields
    data = {k: v for k, v in params.items() if k in names and v != ""}
    serializer = ActivityFilterSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    filters = dict(serializer.validated_data)
    if not filters.get("mine"):
        filters.pop("mine", None)
    # As on the page: the activities of a deal only for who sees the deal.
    opportunity = filters.get("opportunity")
    if opportunity and not selectors.opportunity_base(user=user).filter(pk=opportunity).exists():
        raise NotFound(_("No existe esa oportunidad."))
    return filters


ACTIVITY_FILTERS = [
    OpenApiParameter(name, type_, description=description)
    for name, type_, description in (
        ("account", int, "Las de una cuenta."),
        ("contact", int, "Las de un contacto."),
        ("opportunity", int, "Las de una oportunidad."),
        ("status", str, "planificada, hecha o cancelada."),
        ("kind", str, "visita, llamada, reunion, email, whatsapp o tarea."),
        ("mine", bool, "Solo las mías."),
        ("ordering", str, "id o updated_at; con «-», descendente."),
    )
]


@extend_schema_view(list=extend_schema(parameters=ACTIVITY_FILTERS))
class ActivityViewSet(
    VersionedMixin,
    mixins.ListModelMixin,
    ApiViewSet,
):
    """Visits, calls, meetings, emails, WhatsApps and tasks. A rep reads and changes their
    own; a manager their teams'; support reads all (the customer's history) and logs the calls
    it answers; marketing none."""

    api_area = "sales"
    serializer_class = ActivitySerializer
    version_fields = activity_services.VERSION_FIELDS
    orderings = ("id", "updated_at")

    def get_serializer_class(self):
        return {
            "create": ActivityCreateSerializer,
            "partial_update": ActivityUpdateSerializer,
            "update": ActivityUpdateSerializer,
            "complete": CompleteSerializer,
        }.get(self.action, ActivitySerializer)

    def get_queryset(self):
        user = self.request.user
        if not can_see_activities(user):
            raise PermissionDenied(_("Tu rol no puede ver actividades."))
        filters = activity_filters(self.request.query_params, user)
        return activity_selectors.activity_list(user=user, filters=filters)

    not_found = gettext_lazy("No existe esa actividad.")

    def select_object(self, pk: int) -> Activity:
        return activity_selectors.activity_detail(user=self.request.user, pk=pk)

    def _answer(self, activity: Activity, *, code: int = status.HTTP_200_OK) -> Response:
        fresh = activity_selectors.activity_detail(user=self.request.user, pk=activity.pk)
        fresh.next_step = getattr(activity, "next_step", None)
        serializer_class = ActivityLoggedSerializer if code == 201 else ActivitySerializer
        data = serializer_class(fresh, context=self.get_serializer_context()).data
        return self.versioned(Response(data, status=code), fresh)

    @extend_schema(request=ActivityCreateSerializer, responses={201: ActivityLoggedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ActivityCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = {
            "actor": request.user,
            "kind": data["kind"],
            "account": data.get("account"),
            "contact": data.get("contact"),
            "opportunity": data.get("opportunity"),
            "owner": data.get("owner"),
            "subject": data["subject"],
            "duration_minutes": data["duration_minutes"],
            "place": data["place"],
            "notes": data["notes"],
        }
        if data["status"] == Activity.Status.PLANNED:
            activity = activity_services.activity_plan(
                planned_at=data.get("planned_at"), **customer
            )
        else:
            activity = activity_services.activity_log(
                outcome=data["outcome"],
                when=data.get("done_at"),
                next_kind=data["next_kind"],
                next_at=data["next_at"],
                next_subject=data["next_subject"],
                **customer,
            )
        return self._answer(activity, code=status.HTTP_201_CREATED)

    @extend_schema(request=ActivityUpdateSerializer, responses=ActivitySerializer)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        activity = self.get_object()
        version = self.checked_version(activity)
        serializer = ActivityUpdateSerializer(activity, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        activity = activity_services.activity_update(
            actor=request.user,
            activity=activity,
            data=dict(serializer.validated_data),
            version=version,
        )
        return self._answer(activity)

    @extend_schema(request=ActivityUpdateSerializer, responses=ActivitySerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(request=CompleteSerializer, responses=ActivitySerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Planned → done, with its outcome (moves the customer's «last contacted»)."""
        activity = self.get_object()
        _if_match(self, activity)
        serializer = CompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        activity = activity_services.activity_complete(
            actor=request.user,
            activity=activity,
            outcome=data["outcome"],
            done_at=data.get("done_at"),
            notes=data.get("notes"),
        )
        return self._answer(activity)

    @extend_schema(request=None, responses=ActivitySerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Planned → cancelled (kept in the history, gone from the agenda)."""
        activity = self.get_object()
        _if_match(self, activity)
        activity = activity_services.activity_cancel(actor=request.user, activity=activity)
        return self._answer(activity)


ROUTES = [
    ("opportunities", OpportunityViewSet, "opportunity"),
    (r"opportunities/(?P<opportunity_pk>\d+)/lines", LineItemViewSet, "opportunity-line"),
    ("stages", StageViewSet, "stage"),
    ("products", ProductViewSet, "product"),
    ("activities", ActivityViewSet, "activity"),
]
