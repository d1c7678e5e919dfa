"""The administrators' side of support: SLA policies, the business calendar, canned responses,
and a read-mostly view of tickets (they are worked in the application, where the status
machine, the SLA clock and the history stay consistent)."""

import zoneinfo

import holidays
from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from support.models import (
    BusinessCalendar,
    BusinessHours,
    CannedResponse,
    Comment,
    CompanyHoliday,
    SlaNotice,
    SlaPolicy,
    StatusChange,
    Ticket,
)
from support.sla import holiday_names


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "warn_percent",
        "first_response_hours",
        "resolution_hours",
    )
    ordering = ("priority",)

    @admin.display(description=_("primera respuesta (horas hábiles)"))
    def first_response_hours(self, obj: SlaPolicy) -> str:
        return f"{obj.first_response_minutes / 60:g}"

    @admin.display(description=_("resolución (horas hábiles)"))
    def resolution_hours(self, obj: SlaPolicy) -> str:
        return f"{obj.resolution_minutes / 60:g}"


class BusinessHoursFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        open_days = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("weekday") is not None
        ]
        if not open_days:
            raise forms.ValidationError(
                _("Indica el horario de al menos un día: sin días hábiles ningún plazo vencería.")
            )


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    formset = BusinessHoursFormSet
    extra = 0
    max_num = 7
    fields = ("weekday", "opens_at", "closes_at")


class CompanyHolidayInline(admin.TabularInline):
    model = CompanyHoliday
    extra = 1
    fields = ("date", "name")


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ("country", "subdivision", "time_zone")

    def clean_country(self) -> str:
        country = (self.cleaned_data.get("country") or "").strip().upper()
        if country not in holidays.list_supported_countries():
            raise forms.ValidationError(
                _(
                    "No se conocen los días festivos de «%(country)s». "
                    "Usa un código ISO, p. ej. MX o ES."
                ),
                params={"country": country},
            )
        return country

    def clean_time_zone(self) -> str:
        name = (self.cleaned_data.get("time_zone") or "").strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise forms.ValidationError(
                _(
                    "«%(zone)s» no es una zona horaria. "
                    "Ejemplos: America/Mexico_City, Europe/Madrid."
                ),
                params={"zone": name},
            ) from exc
        return name

    def clean(self) -> dict:
        data = super().clean()
        country = data.get("country")
        subdivision = (data.get("subdivision") or "").strip()
        if country and subdivision:
            known = holidays.list_supported_countries().get(country, [])
            if subdivision not in known:
                self.add_error(
                    "subdivision",
                    _("%(country)s no tiene la región «%(subdivision)s». Puedes usar: %(known)s.")
                    % {
                        "country": country,
                        "subdivision": subdivision,
                        "known": ", ".join(known) or "—",
                    },
                )
        data["subdivision"] = subdivision
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """The one calendar (pk=1): its hours, the company's own days off, and, to check, the
    public holidays the SLA will skip this year."""

    form = BusinessCalendarForm
    list_display = ("__str__", "country", "subdivision", "time_zone")
    fields = ("country", "subdivision", "time_zone", "public_holidays")
    readonly_fields = ("public_holidays",)
    inlines = [BusinessHoursInline, CompanyHolidayInline]

    @admin.display(description=_("festivos oficiales de este año"))
    def public_holidays(self, obj: BusinessCalendar | None) -> str:
        if obj is None or not obj.pk:
            return "—"
        found = holiday_names(obj.country, obj.subdivision, timezone.localdate().year)
        if not found:
            return "—"
        return format_html_join(
            "", "<div>{} · {}</div>", ((day.strftime("%d/%m/%Y"), name) for day, name in found)
        )

    def has_add_permission(self, request) -> bool:
        # One calendar (pk=1), created by the migration: edited, never added or removed.
        return super().has_add_permission(request) and not BusinessCalendar.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "is_active")
    list_filter = ("is_active", "category")
    list_editable = ("is_active",)
    search_fields = ("title", "body")


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CommentInline(admin.StackedInline):
    model = Comment
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "author", "body", "emailed_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SlaNoticeInline(admin.TabularInline):
    model = SlaNotice
    extra = 0
    can_delete = False
    fields = ("created_at", "target", "kind", "sent_to")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: tickets are opened, moved and answered in the application, where the number,
    the status history, the SLA clock and the search text stay consistent. Here administrators
    look a ticket up by number and see its whole record, SLA notices included."""

    list_display = (
        "number",
        "subject",
        "account",
        "priority",
        "status",
        "assignee",
        "created_at",
        "first_response_due",
        "resolution_due",
        "first_response_breached",
        "resolution_breached",
    )
    list_filter = (
        "status",
        "priority",
        "category",
        "channel",
        "first_response_breached",
        "resolution_breached",
    )
    list_select_related = ("account", "assignee")
    search_fields = ("number", "subject", "account__name")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT over every ticket on each page
    raw_id_fields = ("account", "contact", "assignee", "created_by")
    fieldsets = (
        (None, {"fields": ("number", "account", "contact", "subject", "description")}),
        (
            _("Clasificación"),
            {"fields": ("category", "channel", "priority", "status", "assignee", "created_by")},
        ),
        (_("Resolución"), {"fields": ("resolution",)}),
        (
            _("Tiempos y SLA"),
            {
                "fields": (
                    "created_at",
                    "first_response_at",
                    "resolved_at",
                    "closed_at",
                    "first_response_due",
                    "resolution_due",
                    "first_response_warn_at",
                    "resolution_warn_at",
                    "paused_at",
                    "first_response_left",
                    "resolution_left",
                    "first_response_breached",
                    "resolution_breached",
                    "first_response_business_minutes",
                    "resolution_business_minutes",
                )
            },
        ),
    )
    readonly_fields = (
        "number",
        "account",
        "contact",
        "subject",
        "description",
        "resolution",
        "category",
        "channel",
        "priority",
        "status",
        "assignee",
        "created_by",
        "created_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "first_response_due",
        "resolution_due",
        "first_response_warn_at",
        "resolution_warn_at",
        "paused_at",
        "first_response_left",
        "resolution_left",
        "first_response_breached",
        "resolution_breached",
        "first_response_business_minutes",
        "resolution_business_minutes",
    )
    inlines = [StatusChangeInline, CommentInline, SlaNoticeInline]

    def has_add_permission(self, request) -> bool:
        return False  # numbered, timed and recorded by support.services.tickets

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
