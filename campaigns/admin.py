"""The administrators' side of campaigns: boletines, segments and campaigns to look up and fix,
and the send ledger, tracking events and stored links read-only (they are history: the sending
services and the public endpoints write them, one way only)."""

from django.contrib import admin

from campaigns.models import (
    Automation,
    AutomationDelivery,
    AutomationStep,
    Campaign,
    CampaignLink,
    FormSubmission,
    Segment,
    SegmentMember,
    Send,
    SignupForm,
    Suppression,
    TrackingEvent,
)
from contacts.models import Topic


class ReadOnlyAdmin(admin.ModelAdmin):
    """A ledger: shown, searched, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "created_at")
    list_filter = ("public",)
    search_fields = ("name",)


class SegmentMemberInline(admin.TabularInline):
    model = SegmentMember
    extra = 0
    raw_id_fields = ("contact", "added_by")
    readonly_fields = ("added_at",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created_by", "created_at", "archived_at")
    list_filter = ("kind",)
    list_select_related = ("created_by",)
    search_fields = ("name", "description")
    raw_id_fields = ("created_by",)
    inlines = [SegmentMemberInline]


class CampaignLinkInline(admin.TabularInline):
    model = CampaignLink
    extra = 0
    can_delete = False
    readonly_fields = ("url",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "topic", "segment", "scheduled_at", "finished_at")
    list_filter = ("status", "topic")
    list_select_related = ("topic", "segment")
    search_fields = ("name", "subject")
    raw_id_fields = ("segment", "created_by", "sent_by")
    # The sending state machine owns these: changed here they would contradict the ledger.
    readonly_fields = (
        "status",
        "ab_winner",
        "ab_decided_at",
        "started_at",
        "finished_at",
        "materialized_at",
        "sent_by",
        "created_at",
        "updated_at",
    )
    inlines = [CampaignLinkInline]


@admin.register(Send)
class SendAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "email", "variant", "status", "attempts", "sent_at")
    list_filter = ("status",)
    list_select_related = ("campaign",)
    search_fields = ("email", "message_id")
    raw_id_fields = ("campaign", "contact")


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "campaign", "contact", "is_machine")
    list_filter = ("kind", "is_machine")
    list_select_related = ("campaign", "contact")
    raw_id_fields = ("send", "campaign", "contact", "link")


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ("email", "reason", "created_at", "created_by")
    list_filter = ("reason",)
    search_fields = ("email",)
    raw_id_fields = ("created_by",)


@admin.register(SignupForm)
class SignupFormAdmin(admin.ModelAdmin):
    """Looked up here; designed on marketing's pages (campaigns.views.signup), whose service
    checks the fields against the allow-list."""

    list_display = ("name", "slug", "topic", "double_opt_in", "active", "created_at")
    list_filter = ("active", "double_opt_in")
    search_fields = ("name", "slug", "title")
    readonly_fields = ("fields", "created_by", "created_at", "updated_at")


@admin.register(FormSubmission)
class FormSubmissionAdmin(ReadOnlyAdmin):
    list_display = ("form", "email", "status", "created_at", "confirmed_at", "utm_source")
    list_filter = ("status", "form")
    search_fields = ("email",)
    raw_id_fields = ("contact",)


class AutomationStepInline(admin.TabularInline):
    model = AutomationStep
    extra = 0
    fields = ("order", "delay_days", "delay_hours", "subject")
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    """Looked up here; edited on marketing's pages (campaigns.views.automations), whose
    service validates the steps' merge fields and sanitises their HTML."""

    list_display = ("name", "kind", "topic", "status", "paused_at", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name",)
    readonly_fields = ("status", "paused_at", "created_by", "created_at", "updated_at")
    inlines = [AutomationStepInline]


@admin.register(AutomationDelivery)
class AutomationDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("automation", "step", "email", "occurrence", "status", "due_at", "sent_at")
    list_filter = ("status", "automation")
    search_fields = ("email", "message_id")
    raw_id_fields = ("contact",)
