"""The sales forms drawn in Python (FastSelect, FastNumberInput, FastDateInput): the line form
of a deal's sheet and the close dates of the board's and the list's filter bars give the markup
Django's widget templates give, empty, bound and with errors."""

from decimal import Decimal

import pytest
from django import forms
from django.forms.models import ModelChoiceIterator
from django.test.html import parse_html

from crm.core.forms_utils import FastDateInput, FastNumberInput, FastSelect
from opportunities.forms.pipeline import BoardFilterForm, LineItemForm, OpportunityFilterForm
from opportunities.models import LineItem, Product
from opportunities.tests.factories import OpportunityFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _plain(widget: forms.Widget) -> forms.Widget:
    """The Django widget the fast one stands for, with the same attributes and options."""
    if isinstance(widget, FastSelect):
        return forms.Select(attrs=widget.attrs, choices=widget.choices)
    if isinstance(widget, FastNumberInput):
        return forms.NumberInput(attrs=widget.attrs)
    return widget


def _tags(html: str):
    """The markup as elements and attributes, whatever their order (Django's own parser)."""
    return parse_html(html)


def test_the_line_form_draws_the_markup_of_djangos_widgets(rep):
    ProductFactory(name='Póliza "Oro" <anual> & soporte', price=Decimal("1200"))
    chosen = ProductFactory(name="Licencia", sku="SKU-00001", price=Decimal("99.50"))
    deal = OpportunityFactory(owner=rep)
    line = LineItem.objects.create(
        opportunity=deal,
        product=chosen,
        description="Licencia",
        quantity=Decimal("3"),
        unit_price=Decimal("99.50"),
        discount_pct=Decimal("0"),
        tax_rate=Decimal("16"),
    )
    forms_drawn = [
        LineItemForm(),
        LineItemForm(instance=line, prefix=f"line-{line.pk}"),
        LineItemForm({"product": str(chosen.pk), "quantity": "-1", "unit_price": "x"}),
    ]
    assert not forms_drawn[2].is_valid()
    fast = 0
    for form in forms_drawn:
        for field in form:
            plain = _plain(field.field.widget)
            fast += plain is not field.field.widget
            assert _tags(field.as_widget()) == _tags(field.as_widget(widget=plain)), field.name
    assert fast == 3 * 5  # the product and the four amounts, in each of the three forms
    html = str(forms_drawn[1]["product"])
    assert f'<option value="{chosen.pk}" selected>Licencia (SKU-00001)</option>' in html
    assert "Póliza &quot;Oro&quot; &lt;anual&gt; &amp; soporte" in html


@pytest.mark.parametrize(
    "data", [None, {"close_from": "2026-01-02", "close_to": "<b>&"}, {"close_from": "02/01/2026"}]
)
def test_the_filter_bars_close_dates_draw_the_markup_of_djangos_date_input(rep, data):
    for form in (BoardFilterForm(data, user=rep), OpportunityFilterForm(data)):
        form.is_valid()
        for name in ("close_from", "close_to"):
            field = form[name]
            widget = field.field.widget
            assert isinstance(widget, FastDateInput)
            plain = forms.DateInput(attrs={"type": "date", **widget.attrs})
            assert _tags(field.as_widget()) == _tags(field.as_widget(widget=plain)), name
            assert str(field).startswith('<input type="date" ')


def test_the_products_options_are_djangos_without_a_product_per_option(
    rep, monkeypatch, django_assert_num_queries
):
    ProductFactory(name='Póliza "Oro" <anual>', sku="POL-1")
    ProductFactory(name="Licencia", sku="LIC-1")
    ProductFactory(name="Retirado", sku="RET-1", is_active=False)
    field = LineItemForm().fields["product"]
    djangos = [(str(value), str(label)) for value, label in ModelChoiceIterator(field)]

    built = []
    monkeypatch.setattr(Product, "__init__", lambda *a, **k: built.append(a) or 1 / 0)
    with django_assert_num_queries(1):
        ours = [(str(value), str(label)) for value, label in field.widget.choices]

    assert ours == djangos
    assert [label for _value, label in ours] == [
        "— Sin producto —",
        "Licencia (LIC-1)",
        'Póliza "Oro" <anual> (POL-1)',
    ]
    assert built == []
