"""The filter bars' widgets drawn in Python give the markup Django's own templates give."""

import datetime

import pytest
from django import forms
from django.utils.translation import gettext_lazy, override

from crm.core.forms_utils import (
    FastDateInput,
    FastSelect,
    IdField,
    ListFilterForm,
    fast_widget,
)
from crm.core.models import Role
from crm.core.tests.factories import UserFactory


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        (forms.TextInput(attrs={"class": "form-control", "maxlength": 100}), 'Ana "<b>" & Cía'),
        (forms.TextInput(), None),
        (forms.TextInput(attrs={"required": True, "disabled": False}), "Pérez"),
        (forms.NumberInput(attrs={"min": 0, "max": 100}), 70),
        (forms.NumberInput(), ""),
        (forms.HiddenInput(), 42),
        (forms.CheckboxInput(attrs={"class": "form-check-input"}), True),
        (forms.CheckboxInput(), False),
        (forms.CheckboxInput(), None),
        (forms.CheckboxInput(), "on"),
    ],
)
def test_fast_input_renders_as_django_does(widget, value):
    attrs = {"id": "id_field"}
    assert fast_widget(widget).render("field", value, attrs) == widget.render("field", value, attrs)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    ("attrs", "date_format", "value"),
    [
        ({"type": "date", "class": "form-control"}, "%Y-%m-%d", datetime.date(2026, 1, 2)),
        ({"type": "date", "class": "form-control"}, "%Y-%m-%d", None),
        # What the user typed, shown again as typed when it is not a date.
        ({"type": "date"}, "%Y-%m-%d", '31/02/2026 "<b>"'),
        # Without a format: the first of the active language's input formats.
        ({"required": True}, None, datetime.date(2026, 11, 5)),
    ],
)
def test_a_fast_date_input_renders_as_django_does(attrs, date_format, value, language):
    django_widget = forms.DateInput(attrs=attrs, format=date_format)
    fast = fast_widget(django_widget)
    assert isinstance(fast, FastDateInput)
    with override(language):
        html = fast.render("day", value, {"id": "id_day"})
        assert html == django_widget.render("day", value, {"id": "id_day"})
    assert html.startswith('<input type="date" name="day"') or "type" not in attrs


def test_only_plain_inputs_are_swapped():
    select = FastSelect()
    textarea = forms.Textarea()
    assert fast_widget(select) is select
    assert fast_widget(textarea) is textarea


def test_a_swapped_input_keeps_what_it_was_given():
    search = fast_widget(forms.TextInput(attrs={"type": "search", "class": "form-control"}))
    assert search.render("q", "a", {"id": "id_q"}) == (
        '<input type="search" name="q" value="a" class="form-control" id="id_q">'
    )
    box = fast_widget(forms.CheckboxInput(check_test=lambda value: value == "sí"))
    assert " checked" in box.render("f", "sí") and " checked" not in box.render("f", "no")


class _Filters(ListFilterForm):
    min_score = forms.IntegerField(required=False, min_value=0)
    account = IdField(required=False)
    TEXT_FIELDS = (*ListFilterForm.TEXT_FIELDS, "min_score")


def test_a_filter_bar_keeps_its_values_and_classes():
    form = _Filters({"q": "ana <b>", "mine": "on", "min_score": "40", "account": "7"})
    html = "".join(str(form[name]) for name in ("q", "mine", "archived", "min_score", "account"))
    assert '<input type="text" name="q" value="ana &lt;b&gt;" maxlength="100" ' in html
    assert 'class="form-control form-control-sm" id="id_q">' in html
    assert (
        '<input type="checkbox" name="mine" class="form-check-input" id="id_mine" checked>' in html
    )
    assert (
        '<input type="checkbox" name="archived" class="form-check-input" id="id_archived">' in html
    )
    assert '<input type="number" name="min_score" value="40" ' in html
    assert '<input type="hidden" name="account" value="7" id="id_account">' in html


def test_a_fast_select_escapes_its_options_and_marks_the_chosen_ones():
    select = FastSelect(
        attrs={"class": "form-select"},
        choices=[("", "—"), ("a&b", 'Ana "<b>"'), (3, gettext_lazy("Cliente activo"))],
    )
    with override("en"):
        html = select.render("f", ["3", "a&b"], {"id": "id_f"})
    assert html == (
        '<select class="form-select" id="id_f" name="f"><option value="">—</option>'
        '<option value="a&amp;b" selected>Ana &quot;&lt;b&gt;&quot;</option>'
        '<option value="3" selected>Active customer</option></select>'
    )


@pytest.mark.django_db
def test_the_owner_filter_names_the_sales_users_and_cleans_to_one(django_assert_num_queries):
    ana = UserFactory(first_name="Ana", last_name="Ruiz", role=Role.VENDEDOR)
    nameless = UserFactory(first_name="", last_name="", username="z.sin.nombre", role=Role.GERENTE)
    UserFactory(first_name="Sofía", last_name="Soporte", role=Role.SOPORTE)
    UserFactory(first_name="Ex", last_name="Vendedor", role=Role.VENDEDOR, is_active=False)
    form = _Filters({"owner": str(nameless.pk)})
    assert form.filters()["owner"] == nameless  # as the list does, before drawing the bar
    with django_assert_num_queries(1):
        html = str(form["owner"])
    assert html.count("<option") == 3
    assert f'<option value="{ana.pk}">Ana Ruiz</option>' in html
    assert f'<option value="{nameless.pk}" selected>z.sin.nombre</option>' in html
    assert "Sofía" not in html and "Ex Vendedor" not in html

    again = _Filters({"owner": str(nameless.pk)})
    assert again.filters()["owner"] == nameless
    with django_assert_num_queries(0):  # the names are kept in the cache
        assert str(again["owner"]) == html


@pytest.mark.django_db
def test_the_owner_filter_follows_the_users_saved_and_deleted(django_assert_num_queries):
    ana = UserFactory(first_name="Ana", last_name="Ruiz", role=Role.VENDEDOR)
    assert "Ana Ruiz" in str(_Filters()["owner"])  # now in the cache

    beto = UserFactory(first_name="Beto", last_name="Gómez", role=Role.GERENTE)
    assert f'<option value="{beto.pk}">Beto Gómez</option>' in str(_Filters()["owner"])

    ana.last_name = "Ruiz Díaz"
    ana.save()
    assert "Ana Ruiz Díaz" in str(_Filters()["owner"])

    ana.is_active = False  # left the company
    ana.save()
    assert "Ana" not in str(_Filters()["owner"])

    beto.save(update_fields=["last_login"])  # what signing in saves: the names are kept
    with django_assert_num_queries(0):
        str(_Filters()["owner"])

    beto.delete()
    assert "Beto" not in str(_Filters()["owner"])
    assert _Filters({"owner": str(beto.pk)}).filters() == {}  # its id is no owner any more


@pytest.mark.django_db
def test_the_owner_filter_and_the_users_need_no_cache_to_work(monkeypatch):
    from crm.core import permissions
    from crm.core.tests.test_sessions import Unreachable

    monkeypatch.setattr(permissions, "cache", Unreachable())  # Redis down
    ana = UserFactory(first_name="Ana", last_name="Ruiz", role=Role.VENDEDOR)  # saved all the same
    assert f'<option value="{ana.pk}">Ana Ruiz</option>' in str(_Filters()["owner"])
    ana.delete()
    assert "Ana" not in str(_Filters()["owner"])
