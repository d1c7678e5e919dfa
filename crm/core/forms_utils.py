"""Small pieces that the apps' forms and list views share."""

import copy
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from taggit.forms import TagField
from taggit.models import Tag

from crm.core.db import KeptRows
from crm.core.formats import html_format
from crm.core.permissions import sales_user_names, sales_users
from crm.core.text import MAX_ID, parse_id


class TagsField(TagField):
    """Tags separated by commas (django-taggit), each no longer than the tag table holds: a
    longer one is the form's error (SQLite would keep it; PostgreSQL refuses it)."""

    def clean(self, value):
        tags = super().clean(value)
        limit = Tag._meta.get_field("name").max_length
        if any(len(tag) > limit for tag in tags):
            raise ValidationError(
                _("Cada etiqueta admite como máximo %(limit)s caracteres."),
                code="max_length",
                params={"limit": limit},
            )
        return tags


class IdField(forms.IntegerField):
    """A record's id carried by a form (a hidden input, a filter): only a number an id can be,
    so a longer one is the form's error, not the database's."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class FastSelect(forms.Select):
    """A select rendered in Python rather than through one template per option.

    The filter bars re-render on every keystroke of live filtering, and Django's per-option
    widget templates cost about a third of the list page's time.
    """

    def render(self, name, value, attrs=None, renderer=None):
        # As Django marks them (Select.format_value): nothing chosen marks the empty option.
        selected = set(self.format_value(value))
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs.pop("multiple", None)
        final_attrs["name"] = name
        options = "".join(
            html_format(
                '<option value="{value}"{selected}>{label}</option>',
                value=key,
                selected=" selected" if str(key) in selected else "",
                label=label,
            )
            for key, label in self.choices
        )
        options = mark_safe(options)  # noqa: S308 - each option escaped by html_format
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class SalesUserNameIterator(forms.models.ModelChoiceIterator):
    """The options of a select of sales users from their names kept in the cache
    (permissions.sales_user_names): no query, and no User object per option."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from sales_user_names()


class SalesUserChoiceField(forms.ModelChoiceField):
    """A sales user (`sales_users()`, still cleaned to the User by a query), its options drawn
    from the cached names: the owner filter is on every list page and every keystroke of live
    filtering."""

    iterator = SalesUserNameIterator

    def __init__(self, **kwargs):
        super().__init__(queryset=sales_users(), **kwargs)


class FastInputMixin:
    """An <input> rendered in Python, with the markup of Django's input.html and attrs.html
    (see FastSelect): a filter bar has half a dozen of them, each a template otherwise."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        pairs = [("type", widget["type"]), ("name", widget["name"])]
        if widget["value"] is not None:
            pairs.append(("value", widget["value"]))
        pairs += [(key, value) for key, value in widget["attrs"].items() if value is not False]
        attrs = "".join(
            html_format(" {key}", key=key)
            if value is True
            else html_format(' {key}="{value}"', key=key, value=value)
            for key, value in pairs
        )
        return mark_safe(f"<input{attrs}>")  # noqa: S308 - every part escaped by html_format


class FastTextInput(FastInputMixin, forms.TextInput):
    pass


class FastNumberInput(FastInputMixin, forms.NumberInput):
    pass


class FastHiddenInput(FastInputMixin, forms.HiddenInput):
    pass


class FastCheckboxInput(FastInputMixin, forms.CheckboxInput):
    pass


class FastDateInput(FastInputMixin, forms.DateInput):
    """A date (its value in the widget's `format`, as DateInput gives it)."""


_FAST_INPUTS = {
    forms.TextInput: FastTextInput,
    forms.NumberInput: FastNumberInput,
    forms.HiddenInput: FastHiddenInput,
    forms.CheckboxInput: FastCheckboxInput,
    forms.DateInput: FastDateInput,
}


def fast_widget(widget: forms.Widget) -> forms.Widget:
    """The same input drawn in Python (FastInputMixin), for the plain inputs of Django: all it
    was given is kept (attributes, its type, a date's format, a checkbox's test)."""
    fast = _FAST_INPUTS.get(type(widget))
    if fast is None:
        return widget
    twin = copy.copy(widget)
    twin.__class__ = fast
    return twin


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


@dataclass
class ListPage:
    """One page of a list, found without counting the whole list.

    Counting 100,000 filtered rows costs more than the page itself, so the page reads one id
    more than it shows (to know whether a next page exists) and the total is loaded afterwards
    by its own request (`list_count`). The ids come first, from an index; then only the rows of
    the page are read by primary key, so a deep page (OFFSET 50,000) stays cheap.
    """

    object_list: list
    number: int
    per_page: int
    has_next: bool

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.object_list) - 1 if self.object_list else 0


def paginate(request: HttpRequest, queryset, per_page: int | None = None, *, rows=None) -> ListPage:
    """One page of `queryset` (see ListPage).

    `rows`: the same records without the list's filters, when those are costly to test again
    (the ids are already the filtered ones): the page's rows are then read by id from it,
    or by `KeptRows.by_ids` when it is one (crm.core.db).
    """
    per_page = per_page or settings.PAGE_SIZE
    # A page past any possible row is an empty page, not an offset the database refuses.
    number = min(parse_id(request.GET.get("page")) or 1, MAX_ID // per_page)
    bottom = (number - 1) * per_page
    ids = list(queryset.values_list("pk", flat=True)[bottom : bottom + per_page + 1])
    has_next = len(ids) > per_page
    ids = ids[:per_page]
    source = queryset if rows is None else rows
    if isinstance(source, KeptRows):
        found = {row.pk: row for row in source.by_ids(ids)}
    else:
        found = {row.pk: row for row in source.filter(pk__in=ids).order_by()} if ids else {}
    return ListPage(
        object_list=[found[pk] for pk in ids if pk in found],
        number=number,
        per_page=per_page,
        has_next=has_next,
    )


def form_errors_text(form) -> str:
    """Every error of a form in one line, for a message when the form is not shown again."""
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def owner_and_tags(form) -> tuple[dict, object, list[str]]:
    """A record form's cleaned data split as the services take it: fields, owner, tags."""
    data = dict(form.cleaned_data)
    owner = data.pop("owner", None)
    tags = data.pop("tags", [])
    return data, owner, tags


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


class ListFilterForm(forms.Form):
    """The filter bar of a list: search, owner, tag, place, "mine", archived and order.

    Subclasses add their categorical filters, their SORT_CHOICES, the labels of `mine` and
    `archived`, and MORE (the filters folded under "Más filtros", to keep the bar short on a
    phone).
    """

    MORE: tuple[str, ...] = ()
    TEXT_FIELDS = ("q", "tag", "city", "region")

    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    owner = SalesUserChoiceField(
        label=_("Responsable"),
        required=False,
        empty_label="—",
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    tag = forms.CharField(label=_("Etiqueta"), required=False, max_length=100)
    city = forms.CharField(label=_("Ciudad"), required=False, max_length=100)
    region = forms.CharField(label=_("Estado o provincia"), required=False, max_length=100)
    mine = forms.BooleanField(required=False)
    archived = forms.BooleanField(required=False)
    sort = forms.ChoiceField(label=_("Orden"), required=False, widget=FastSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.TEXT_FIELDS:
            self.fields[name].widget.attrs.update({"class": "form-control form-control-sm"})
        self.fields["sort"].widget.attrs.update({"class": "form-select form-select-sm"})
        for name in ("mine", "archived"):
            self.fields[name].widget.attrs.update({"class": "form-check-input"})
        for field in self.fields.values():
            field.widget = fast_widget(field.widget)

    def more(self) -> list:
        return [self[name] for name in self.MORE]

    def fragment_key(self) -> tuple:
        """Everything the bar's markup is drawn from besides the language and the URLs (which
        `{% kept_fragment %}` adds): the values asked for and the owners' names."""
        return type(self).fragment_key_of(self.data if self.is_bound else None)

    @classmethod
    def fragment_key_of(cls, data) -> tuple:
        """`cls(data or None).fragment_key()`, without building the form (a list page keys
        its bar with it). A subclass whose choices are read from anywhere else (the database,
        the user) adds that here, or its bar is not kept."""
        values = tuple((name, tuple(values)) for name, values in data.lists()) if data else ()
        return (cls.__name__, bool(data), values, tuple(sales_user_names()))

    def more_active(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.MORE)

    @classmethod
    def for_list(cls, data) -> tuple["ListFilterForm", dict]:
        """The list page's bar and its filters, from the query string `data`. When `data` names
        none of the bar's fields nothing is filtered, and the bar is built only if it is drawn
        (under {% kept_fragment %} it mostly is not: 0.45 ms of every unfiltered page)."""
        if not cls._names_a_field(data):
            return SimpleLazyObject(lambda: cls(data or None)), {}
        form = cls(data or None)
        return form, form.filters()

    @classmethod
    def _names_a_field(cls, data) -> bool:
        return bool(data) and any(name in data for name in cls.base_fields)

    @classmethod
    def filters_from(cls, data) -> dict:
        """`cls(data).filters()`, without building the form when `data` names none of its
        fields: each field is then empty, and so nothing is filtered. The API's lists are
        mostly asked with none of them (a cursor, a page size), and the form costs more than
        the rest of the list's query (ListFilterForm's tests hold every subclass to this)."""
        if not cls._names_a_field(data):
            return {}
        return cls(data).filters()

    def filters(self) -> dict:
        """The cleaned filters for the selector; an invalid value is dropped, not an error."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [], False)}
        if tag := data.pop("tag", None):
            data["tags"] = [tag]
        return data


def safe_next(request: HttpRequest, default: str) -> str:
    """Where to go back to: the form's `next` when it is a path of this site, else `default`.

    Only a path ("/contactos/12/"): `redirect()` would take any other word for the name of a
    URL pattern, and fail on it."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return default


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: on its field when the form has it, else on top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)
