"""The queues' filter bar drawn in Python (crm.core.forms_utils' fast widgets) gives the markup
Django's own widget templates gave, empty, filled in and with values that are not valid."""

import copy

import pytest
from django import forms
from django.test.html import parse_html
from django.utils.translation import override

from crm.core.forms_utils import FastDateInput, FastHiddenInput, FastTextInput
from support.forms.tickets import TicketFilterForm

pytestmark = pytest.mark.django_db

DJANGO_WIDGETS = {
    FastTextInput: forms.TextInput,
    FastDateInput: forms.DateInput,
    FastHiddenInput: forms.HiddenInput,
}


def _as_django(widget: forms.Widget) -> forms.Widget:
    """The same widget, with the same attributes and format, drawn by Django's templates."""
    twin = copy.deepcopy(widget)
    twin.__class__ = DJANGO_WIDGETS[type(widget)]
    return twin


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "data",
    [
        None,
        {
            "q": 'Ana "<b>" & Cía',
            "created_from": "2026-01-02",
            "created_to": "31/01/2026",
            "account": "7",
            "contact": "12",
            "queue": "mine",
        },
        {"q": "x" * 120, "created_from": "2026-02-31", "created_to": "<b>", "account": "a&b"},
    ],
)
def test_the_filter_bar_is_drawn_as_djangos_widgets_draw_it(data, language):
    with override(language):
        form = TicketFilterForm(data)
        form.filters()  # as the list does, before drawing the bar
        drawn = 0
        for name in form.fields:
            bound = form[name]
            if type(bound.field.widget) not in DJANGO_WIDGETS:
                continue  # the selects were drawn in Python already (FastSelect)
            fast = str(bound)
            assert parse_html(fast) == parse_html(
                bound.as_widget(widget=_as_django(bound.field.widget))
            )
            assert "<" not in fast[1:-1]  # every value escaped
            drawn += 1
    assert drawn == 6  # q, the two dates, account, contact and queue


def test_the_search_box_and_dates_keep_their_markup():
    form = TicketFilterForm({"q": "a<b", "created_from": "2026-01-02"})
    form.filters()
    # One type, "search" (it used to come twice, "text" then "search", and browsers kept "text").
    assert str(form["q"]) == (
        '<input type="search" name="q" value="a&lt;b" maxlength="100"'
        ' class="form-control form-control-sm" placeholder="Número, asunto, cuenta o contacto"'
        ' id="id_q">'
    )
    assert str(form["created_from"]) == (
        '<input type="date" name="created_from" value="2026-01-02"'
        ' class="form-control form-control-sm" id="id_created_from">'
    )
