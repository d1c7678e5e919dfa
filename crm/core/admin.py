from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from crm.core.audit import audit
from crm.core.models import AuditEvent, QueuedTask, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active", "is_staff")
    list_select_related = ("team",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("CRM"), {"fields": ("role", "team", "phone", "time_zone")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("CRM"), {"fields": ("first_name", "last_name", "email", "role", "team")}),
    )

    def save_model(self, request, obj, form, change):
        old_role = User.objects.filter(pk=obj.pk).values_list("role", flat=True).first()
        super().save_model(request, obj, form, change)
        if old_role != obj.role:
            # Every role change is audited (DESIGN.md §5).
            audit(
                actor=request.user,
                action=AuditEvent.Action.ROLE,
                target=obj,
                detail={"from": old_role, "to": obj.role},
                ip=request.META.get("REMOTE_ADDR"),
            )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "manager")
    list_select_related = ("manager",)
    search_fields = ("name",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "actor", "target", "ip_address")
    list_filter = ("action",)
    list_select_related = ("actor",)
    search_fields = ("target",)
    date_hierarchy = "at"

    # The trail is append-only: nobody edits or deletes it, administrators included.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QueuedTask)
class QueuedTaskAdmin(admin.ModelAdmin):
    """What the outbox holds: tasks queued while the broker was down, sent by the beat job."""

    list_display = ("name", "args", "copies", "created_at", "attempts", "last_error")
    list_filter = ("name",)
    ordering = ("created_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
