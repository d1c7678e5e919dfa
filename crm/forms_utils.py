"""Small pieces that the apps' forms and list views share."""

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest


class FilterSelect(forms.Select):
    """A one-line select that still reads every value of a repeated parameter (?x=a&x=b).

    Lists filter by several values when a link asks for them (e.g. "open leads" = lead, MQL,
    SQL), while the filter bar stays a compact single select, usable on a phone.
    """

    allow_multiple_selected = True

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("multiple", None)
        return context


class FilterChoiceField(forms.MultipleChoiceField):
    """Multiple values, where the select's empty option ("—") means no filter at all."""

    def clean(self, value):
        return [v for v in super().clean(value) if v]


def multi_choice(label, choices) -> forms.MultipleChoiceField:
    return FilterChoiceField(
        label=label,
        choices=[("", "—"), *choices],
        required=False,
        widget=FilterSelect(attrs={"class": "form-select form-select-sm"}),
    )


def paginate(request: HttpRequest, queryset, per_page: int | None = None) -> Page:
    paginator = Paginator(queryset, per_page or settings.PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")
