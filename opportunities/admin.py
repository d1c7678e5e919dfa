from django.contrib import admin

from opportunities.models import (
    Activity,
    ExchangeRate,
    ForecastAdjustment,
    LineItem,
    Opportunity,
    Pipeline,
    Product,
    Quota,
    Stage,
    StageChange,
    TierChange,
    VisitCadence,
)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("order", "name", "probability", "is_won", "is_lost")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default")
    inlines = [StageInline]


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    raw_id_fields = ("product",)


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_stage", "to_stage", "at", "by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "account",
        "stage",
        "amount",
        "currency",
        "expected_close_date",
        "owner",
    )
    list_filter = ("pipeline", "stage", "forecast_category", "currency")
    list_select_related = ("account", "stage", "owner")
    search_fields = ("name", "account__name")
    raw_id_fields = ("account", "contact", "owner")
    inlines = [LineItemInline, StageChangeInline]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "sku", "price", "currency", "tax_rate", "is_active")
    list_filter = ("is_active", "currency")
    search_fields = ("name", "sku")


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "status", "planned_at", "done_at", "owner", "account")
    list_filter = ("kind", "status")
    list_select_related = ("owner", "account")
    raw_id_fields = ("owner", "account", "contact", "opportunity")


@admin.register(VisitCadence)
class VisitCadenceAdmin(admin.ModelAdmin):
    list_display = ("tier", "days")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "rate", "valid_from")
    list_filter = ("currency",)


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("owner", "month", "amount")
    list_select_related = ("owner",)


@admin.register(ForecastAdjustment)
class ForecastAdjustmentAdmin(admin.ModelAdmin):
    list_display = ("owner", "period_start", "period_end", "amount", "by", "at")
    list_select_related = ("owner", "by")


@admin.register(TierChange)
class TierChangeAdmin(admin.ModelAdmin):
    list_display = ("account", "from_tier", "to_tier", "revenue", "at")
    list_select_related = ("account",)


# Lead routing: read here; rules are changed on their page (validated and audited there), and
# assignments only by the routing job and the reps' answers.
from opportunities.models import LeadAssignment, RoutingRule  # noqa: E402


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoutingRule)
class RoutingRuleAdmin(ReadOnlyAdmin):
    list_display = ("order", "name", "kind", "rep", "team", "active", "last_assigned")
    list_select_related = ("rep", "team", "last_assigned")
    list_filter = ("kind", "active")


@admin.register(LeadAssignment)
class LeadAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("contact", "rep", "method", "status", "assigned_at", "responded_at")
    list_select_related = ("contact", "rep")
    list_filter = ("status", "method")
    raw_id_fields = ("contact", "score_change", "rep", "rule", "task", "responded_by")
