from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from contacts.models import Consent, Contact


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    fields = ("at", "channel", "action", "source", "legal_basis", "text_version", "recorded_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "email", "account", "lifecycle", "lead_score", "owner")
    list_filter = ("lifecycle", "lead_source", "country")
    list_select_related = ("account", "owner")
    search_fields = ("first_name", "last_name", "email")
    raw_id_fields = ("owner", "account")
    inlines = [ConsentInline]
