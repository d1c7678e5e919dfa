from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account


@admin.register(Account)
class AccountAdmin(SimpleHistoryAdmin):
    list_display = ("name", "tax_id", "status", "tier", "city", "owner", "archived_at")
    list_filter = ("status", "tier", "industry", "size", "relationship", "country")
    list_select_related = ("owner",)
    search_fields = ("name", "legal_name", "tax_id")
    raw_id_fields = ("owner",)
    readonly_fields = ("tier",)
