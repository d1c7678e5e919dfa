"""The opportunity list's rows made in Python (opportunities/views/list_rows.py) show what the
row template they replace showed, value for value and escaped the same:
data/opportunity_row_reference.html is that template, kept only to compare with. It still
includes stage_badge.html and amount.html, which other pages show: a change to either shows
here too."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from crm.core.tests.factories import UserFactory
from crm.core.tests.pages import in_order, markup_text
from opportunities.models import ExchangeRate, ForecastCategory, Opportunity, Stage
from opportunities.money import Rates, company_currency
from opportunities.selectors import pipeline as selectors
from opportunities.tests.factories import OpportunityFactory, stage
from opportunities.views.list_rows import render_rows

pytestmark = pytest.mark.django_db

REFERENCE = Path(__file__).with_name("data") / "opportunity_row_reference.html"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _rows(user, deals: list[Opportunity]) -> list:
    """As the list reads them: named tuples, in the order of `deals`."""
    return in_order(selectors.opportunity_list_rows(user=user), deals)


def _models(deals: list[Opportunity]) -> list[Opportunity]:
    """As the replaced template read them: models with their `amount_company`."""
    models = Opportunity.objects.select_related("account", "owner", "stage")
    return selectors.with_company_amounts(in_order(models, deals))


def _variety(rep) -> list[Opportunity]:
    """One deal for each way a row can look."""
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17.25"), valid_from=date(2020, 1, 1))
    today = timezone.localdate()
    marked = stage("Propuesta")
    Stage.objects.filter(pk=marked.pk).update(name='Propuesta <i>"&"</i>')
    return [
        # Open, in the company currency, overdue, names that look like markup.
        OpportunityFactory(
            owner=rep,
            name='<b>Renovación</b> "2026" & O\'Neil',
            account__name="Óptica <i>Ruiz</i> & Hijos",
            amount=Decimal("1234567.89"),
            expected_close_date=today - timedelta(days=10),
            forecast_category=ForecastCategory.COMMIT,
        ),
        # Won, in a currency with a rate: the company amount and the original one.
        OpportunityFactory(
            owner=rep,
            stage=stage("Ganada"),
            currency="USD",
            amount=Decimal("1000.50"),
            expected_close_date=date(2026, 1, 5),
            forecast_category=ForecastCategory.CLOSED,
        ),
        # Lost, in a currency without a rate: the original amount and a warning.
        OpportunityFactory(
            owner=rep,
            stage=stage("Perdida"),
            currency="EUR",
            amount=Decimal("0.50"),
            expected_close_date=date(2026, 11, 28),
            forecast_category=ForecastCategory.BEST_CASE,
        ),
        # A second deal without a rate (the warning is made once per currency), at a stage
        # whose name looks like markup, of an owner without a name (named by their user name).
        OpportunityFactory(
            owner=UserFactory(first_name="", last_name="", username="sin.nombre", team=rep.team),
            stage=marked,
            currency="EUR",
            amount=Decimal("0"),
        ),
        # Open, a small amount in the company currency.
        OpportunityFactory(owner=rep, amount=Decimal("999.99")),
    ]


@pytest.mark.parametrize("language", ["es", "en"])
def test_rows_are_the_reference_template_row_for_row(rep, manager, language):
    # No column depends on the role: the manager sees all five (the rep's and a teammate's).
    deals = _variety(rep)
    with override(language):
        made = render_rows(_rows(manager, deals), currency=company_currency(), rates=Rates())
        reference = Template(REFERENCE.read_text()).render(
            Context({"page_obj": _models(deals), "company_currency": company_currency()})
        )
    expected = [f"<tr>{row}" for row in markup_text(reference, text_edges=True).split("<tr>")[1:]]
    assert [markup_text(row, text_edges=True) for row in made] == expected
    assert len(made) == 5
    # Every branch was drawn.
    page = "".join(made)
    for mark in ("text-bg-success", "text-bg-danger", "bg-opacity-75", "d-block", "no-rate"):
        assert mark in page


def test_the_list_page_and_its_htmx_answer_show_the_same_rows_escaped(rep, client_for):
    OpportunityFactory(owner=rep, name="<script>x</script> Ruiz", account__name="A & B")
    OpportunityFactory(owner=rep, currency="EUR", name="Sin tipo")
    client = client_for(rep)
    url = reverse("opportunities:opportunity-list")
    page = client.get(url).text
    partial = client.get(url, **HTMX).text
    assert "<html" not in partial
    assert "&lt;script&gt;x&lt;/script&gt; Ruiz</a>" in page
    assert "<script>x</script>" not in page
    assert "A &amp; B</div>" in page

    def rows(html: str) -> list[str]:
        body = markup_text(html.split("<tbody>")[1].split("</tbody>")[0], text_edges=True)
        return body.split("<tr>")[1:]

    assert len(rows(page)) == 2
    assert rows(partial) == rows(page)
