"""Small pieces that the apps' forms and list views share."""

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe


class FastSelect(forms.Select):
    """A select rendered in Python rather than through one template per option.

    The filter bars re-render on every keystroke of live filtering, and Django's per-option
    widget templates cost about a third of the list page's time.
    """

    def render(self, name, value, attrs=None, renderer=None):
        if not isinstance(value, list | tuple):
            value = [value]
        selected = {str(v) for v in value if v not in (None, "")}
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs.pop("multiple", None)
        final_attrs["name"] = name
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, mark_safe(" selected") if str(key) in selected else "", label)
                for key, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class FilterSelect(FastSelect):
    """A one-line select that still reads every value of a repeated parameter (?x=a&x=b).

    Lists filter by several values when a link asks for them (e.g. "open leads" = lead, MQL,
    SQL), while the filter bar stays a compact single select, usable on a phone.
    """

    allow_multiple_selected = True


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


class KeysFirstPaginator(Paginator):
    """Pages that read the ids of the page first, then only those rows.

    A deep page (OFFSET 50,000) of full rows makes the database fetch every skipped row; the ids
    alone come from an index, and the rows of the page are then read by primary key. One query
    more, whatever the page.
    """

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


def paginate(request: HttpRequest, queryset, per_page: int | None = None) -> Page:
    paginator = KeysFirstPaginator(queryset, per_page or settings.PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")
