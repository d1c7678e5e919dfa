"""Campaigns, their results and segments in the REST API (issue 11), read only: read through
campaigns.selectors with the pages' role rules (campaigns.permissions).

- Campaigns: whoever reads them on the pages (marketing, managers, administrators); others 403.
- Results: whoever reads results; the amounts (revenue, cost, ROI) only for who may see them.
- Segments: whoever builds them (marketing, administrators); others 403.

Campaigns are not owned by a person (marketing works them as a team), so within a role every
campaign and segment is visible, as on the pages.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from campaigns.forms.campaigns import CampaignFilterForm
from campaigns.forms.segments import SegmentFilterForm
from campaigns.models import Campaign, Segment
from campaigns.permissions import (
    can_manage_campaigns,
    can_read_results,
    can_see_campaign_amounts,
)
from campaigns.segments import describe_condition, validate_definition
from campaigns.selectors import campaigns as selectors
from campaigns.selectors import funnels
from campaigns.selectors import results as results_selectors
from campaigns.selectors import segments as segment_selectors
from campaigns.services.stats import campaign_stats_ensure
from crm.core.api.drf import ApiViewSet, SparseFieldsMixin

AMOUNT_HELP = "Only for the roles that see amounts (campaigns.permissions); absent otherwise."


def enum_field(name: str, choices) -> type[serializers.ChoiceField]:
    """A ChoiceField whose OpenAPI enum is the component `name`: apart from the other apps'
    enums of a field with the same name (status, kind, channel), which would collide."""
    values = [value for value, _label in choices]

    @extend_schema_field({"type": "string", "enum": values}, component_name=name)
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    return NamedChoiceField


CampaignStatus = enum_field("CampaignStatusEnum", Campaign.Status.choices)
SegmentKind = enum_field("SegmentKindEnum", Segment.Kind.choices)


def _sees_amounts(serializer: serializers.Serializer) -> bool:
    request = serializer.context.get("request")
    return request is not None and can_see_campaign_amounts(request.user)


# --- campaigns --------------------------------------------------------------------------------


class CampaignSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """A campaign as the list shows it: status, schedule, topic, segment, messages sent."""

    status = CampaignStatus(read_only=True)
    topic_name = serializers.CharField(source="topic.name", read_only=True)
    segment_name = serializers.SerializerMethodField()
    sent_count = serializers.IntegerField(read_only=True, help_text="Messages sent so far.")
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, required=False, help_text=AMOUNT_HELP
    )
    currency = serializers.CharField(read_only=True, required=False, help_text=AMOUNT_HELP)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "topic",
            "topic_name",
            "segment",
            "segment_name",
            "subject",
            "subject_b",
            "scheduled_at",
            "started_at",
            "finished_at",
            "sent_count",
            "cost",
            "currency",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        # Without the right to see amounts they are not fields at all (asking for them with
        # ?fields= is an unknown field), as the pages do not show them.
        fields = super().get_fields()
        if not _sees_amounts(self):
            for name in ("cost", "currency"):
                fields.pop(name, None)
        return fields

    def get_segment_name(self, campaign) -> str | None:
        return campaign.segment.name if campaign.segment_id else None


class AudienceSerializer(serializers.Serializer):
    contacts = serializers.IntegerField(help_text="The segment's live contacts.")
    eligible = serializers.IntegerField(
        help_text="Of them, those the campaign may write to (consent, suppression)."
    )


class CampaignDetailSerializer(CampaignSerializer):
    """One campaign: its status and schedule, sender, A/B test and audience (as its page)."""

    audience = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [name for name in CampaignSerializer.Meta.fields if name != "sent_count"] + [
            "preheader",
            "from_name",
            "from_email",
            "reply_to",
            "ab_sample_pct",
            "ab_metric",
            "ab_wait_hours",
            "ab_winner",
            "ab_decided_at",
            "conversion_window_days",
            "rate_per_minute",
            "materialized_at",
            "created_by",
            "sent_by",
            "audience",
        ]
        read_only_fields = fields

    @extend_schema_field(AudienceSerializer(allow_null=True))
    def get_audience(self, campaign) -> dict | None:
        if campaign.segment_id is None:
            return None
        total, eligible = segment_selectors.segment_counts(
            segment=campaign.segment, topic_id=campaign.topic_id
        )
        return {"contacts": total, "eligible": eligible}


# --- results ----------------------------------------------------------------------------------


class FunnelSerializer(serializers.Serializer):
    """The figures of a group of messages (the whole campaign, an A/B variant, a segment's
    share): counts, and rates in % of the delivered messages (null when none)."""

    key = serializers.CharField()
    label = serializers.CharField()
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    bounced = serializers.IntegerField()
    failed = serializers.IntegerField()
    doubt = serializers.IntegerField(help_text="In doubt: maybe delivered, never resent.")
    opens = serializers.IntegerField(source="opened", help_text="Unique human opens.")
    machine_opens = serializers.IntegerField(source="machine_opened")
    clicks = serializers.IntegerField(source="clicked", help_text="Recipients who clicked.")
    total_clicks = serializers.IntegerField(source="clicks")
    unsubscribes = serializers.IntegerField(source="unsubscribed")
    complaints = serializers.IntegerField()
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=AMOUNT_HELP
    )
    open_rate = serializers.FloatField(allow_null=True)
    click_rate = serializers.FloatField(allow_null=True)
    click_to_open_rate = serializers.FloatField(allow_null=True)
    unsubscribe_rate = serializers.FloatField(allow_null=True)
    conversion_rate = serializers.FloatField(allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("with_amounts"):
            data["revenue"] = None
        return data


class MoneySerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The company's currency, the amounts' unit.")
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    roi = serializers.FloatField(allow_null=True, help_text="(revenue − cost) / cost, in %.")
    excluded = serializers.ListField(
        child=serializers.DictField(),
        help_text="Conversions left out: their currency had no rate ({currency, count}).",
    )


class LinkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    total_clicks = serializers.IntegerField()
    unique_clicks = serializers.IntegerField()


class CampaignResultsSerializer(serializers.Serializer):
    """What the campaign's results page shows, from the stored rollup."""

    campaign = serializers.IntegerField(source="campaign.pk")
    computed_at = serializers.DateTimeField(allow_null=True)
    first_sent = serializers.DateTimeField(allow_null=True)
    last_sent = serializers.DateTimeField(allow_null=True)
    total = FunnelSerializer()
    money = MoneySerializer(allow_null=True, help_text=AMOUNT_HELP)
    variants = FunnelSerializer(many=True, help_text="The A/B test's subjects (a, b), if any.")
    links = LinkResultSerializer(many=True)
    dimension = serializers.ChoiceField(choices=list(funnels.DIMENSIONS))
    segments = FunnelSerializer(many=True, help_text="The figures per group of `por`.")


class CampaignViewSet(ApiViewSet):
    """Email campaigns (read only). Marketing, managers and administrators read them; the other
    roles get 403."""

    api_area = "campaigns"
    serializer_class = CampaignSerializer
    orderings = ("id", "name", "created_at", "updated_at")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        user = request.user
        if not (can_manage_campaigns(user) or can_read_results(user)):
            raise exceptions.PermissionDenied(_("Tu rol no tiene acceso a las campañas."))

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CampaignDetailSerializer
        if self.action == "results":
            return CampaignResultsSerializer
        return CampaignSerializer

    def get_queryset(self):
        form = CampaignFilterForm(self.request.query_params or None)
        return selectors.campaign_list(filters=form.filters())

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Campaign.Status.values),
            OpenApiParameter("topic", int),
            OpenApiParameter("q", str, description="Name or subject."),
            OpenApiParameter("ordering", str, description="id, name, created_at, updated_at."),
            OpenApiParameter("fields", str, description="Only these fields, comma-separated."),
        ]
    )
    def list(self, request):
        # As the list page: the filtered ids first, then the page's rows with their figures
        # (the messages sent are counted for these rows only, not for every campaign).
        page = self.paginate_queryset(
            self.get_queryset().only("id", "name", "created_at", "updated_at")
        )
        ids = [campaign.pk for campaign in page]
        found = selectors.campaign_rows().defer("html_body", "text_body").in_bulk(ids)
        rows = [found[pk] for pk in ids if pk in found]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    not_found = gettext_lazy("No existe esa campaña.")

    def select_object(self, pk: int) -> Campaign:
        return selectors.campaign_get(pk=pk)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "por",
                str,
                enum=[*funnels.DIMENSIONS],
                description="The dimension of `segments` (as the page's tabs).",
            )
        ]
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def results(self, request, pk=None):
        """The campaign's figures: sent, delivered, opens, clicks, unsubscribes, conversions
        (in total, per A/B variant, per link and per group of `por`), and the amounts for the
        roles that see them. A campaign not sent yet has none (404)."""
        if not can_read_results(request.user):
            raise exceptions.PermissionDenied(
                _("Tu rol no tiene acceso a los resultados de las campañas.")
            )
        campaign = results_selectors.results_campaign(pk=pk)
        if campaign is None:
            raise NotFound(_("Esa campaña no existe o aún no se ha enviado."))
        with_amounts = can_see_campaign_amounts(request.user)
        dimension = request.query_params.get("por", "")
        if dimension not in funnels.DIMENSIONS:
            dimension = funnels.DEFAULT_DIMENSION
        campaign_stats_ensure(campaign=campaign)
        results = results_selectors.campaign_results(
            campaign=campaign, dimension=dimension, with_amounts=with_amounts
        )
        context = {**self.get_serializer_context(), "with_amounts": with_amounts}
        return Response(CampaignResultsSerializer(results, context=context).data)


# --- segments ---------------------------------------------------------------------------------


class SegmentSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """A segment as the list shows it."""

    member_count = serializers.SerializerMethodField(
        help_text="A static list's members; null for a dynamic segment (read the segment to "
        "count its contacts)."
    )
    kind = SegmentKind(read_only=True)
    campaign_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "definition",
            "member_count",
            "campaign_count",
            "archived_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_member_count(self, segment) -> int | None:
        return segment.member_count if segment.is_static else None


class TopicReachSerializer(serializers.Serializer):
    topic = serializers.IntegerField(allow_null=True, help_text="null: the email channel.")
    topic_name = serializers.CharField(allow_null=True)
    eligible = serializers.IntegerField()


class ConditionGroupSerializer(serializers.Serializer):
    match = serializers.ChoiceField(choices=["all", "any"])
    conditions = serializers.ListField(child=serializers.CharField())


class SegmentDetailSerializer(serializers.Serializer):
    """One segment as its page shows it: the definition in words and how many it reaches."""

    id = serializers.IntegerField(source="segment.pk")
    name = serializers.CharField(source="segment.name")
    description = serializers.CharField(source="segment.description")
    kind = SegmentKind(source="segment.kind")
    definition = serializers.JSONField(source="segment.definition")
    match = serializers.ChoiceField(choices=["all", "any"], allow_null=True)
    groups = ConditionGroupSerializer(many=True, help_text="The definition in words.")
    broken = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why a stored definition no longer validates (then nothing is counted).",
    )
    member_count = serializers.IntegerField(
        allow_null=True, help_text="The live contacts it holds now."
    )
    eligible = serializers.IntegerField(
        allow_null=True, help_text="Of them, those email may be sent to."
    )
    eligible_by_topic = TopicReachSerializer(many=True)
    archived_at = serializers.DateTimeField(source="segment.archived_at", allow_null=True)
    created_by = serializers.IntegerField(source="segment.created_by_id")
    created_at = serializers.DateTimeField(source="segment.created_at")
    updated_at = serializers.DateTimeField(source="segment.updated_at")


def segment_figures(segment: Segment) -> dict:
    """The segment page's figures (campaigns.views.segments.segment_detail), as data."""
    broken = [] if segment.is_static else validate_definition(segment.definition)
    figures = {
        "segment": segment,
        "match": None,
        "groups": [],
        "broken": [str(error) for error in broken],
        "member_count": None,
        "eligible": None,
        "eligible_by_topic": [],
    }
    if broken:
        return figures
    definition = segment.definition or {}
    if not segment.is_static:
        names = segment_selectors.definition_names(definition)
        figures["match"] = definition.get("match", "all")
        figures["groups"] = [
            {
                "match": group.get("match", "all"),
                "conditions": [describe_condition(c, names=names) for c in group["conditions"]],
            }
            for group in definition.get("groups", [])
        ]
    total, topic_counts = segment_selectors.segment_reach(segment=segment)
    figures["member_count"] = total
    figures["eligible"] = topic_counts[0][1]
    figures["eligible_by_topic"] = [
        {
            "topic": topic.pk if topic else None,
            "topic_name": topic.name if topic else None,
            "eligible": count,
        }
        for topic, count in topic_counts
    ]
    return figures


class SegmentViewSet(ApiViewSet):
    """Segments of contacts (read only). Marketing and administrators, who build them; the
    other roles get 403."""

    api_area = "campaigns"
    serializer_class = SegmentSerializer
    orderings = ("id", "name", "updated_at")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not can_manage_campaigns(request.user):
            raise exceptions.PermissionDenied(_("Tu rol no tiene acceso a los segmentos."))

    def get_serializer_class(self):
        return SegmentDetailSerializer if self.action == "retrieve" else SegmentSerializer

    def get_queryset(self):
        form = SegmentFilterForm(self.request.query_params or None)
        return segment_selectors.segment_list(user=self.request.user, filters=form.filters())

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Segment.Kind.values),
            OpenApiParameter("archived", bool, description="The archived ones instead."),
            OpenApiParameter("q", str, description="A word of the name."),
            OpenApiParameter("ordering", str, description="id, name, updated_at."),
            OpenApiParameter("fields", str, description="Only these fields, comma-separated."),
        ]
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        try:
            segment = segment_selectors.segment_detail(user=request.user, pk=pk)
        except (Segment.DoesNotExist, ValueError) as exc:
            raise NotFound(_("No existe ese segmento.")) from exc
        return Response(SegmentDetailSerializer(segment_figures(segment)).data)


ROUTES = [
    ("campaigns", CampaignViewSet, "campaign"),
    ("segments", SegmentViewSet, "segment"),
]
