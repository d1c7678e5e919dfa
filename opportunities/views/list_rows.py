"""The rows of the opportunity list, as HTML made in Python (as the board's cards are:
board_cards.py; and the contact list's rows: contacts/list_rows.py).

Live filtering redraws the list's 25 rows on every keystroke. Through the template engine, and
read as models, they cost about a quarter of the page's 22-25 ms in-process: each row included
stage_badge.html and amount.html (a context pushed and popped per include) and passed its
amounts and date through `floatformat` and `date`, which look the locale's formats up on each
call. Here the rows are named tuples (selectors.pipeline.opportunity_list_rows) and each is
one `html_format` call (crm.core.formats: every value escaped) over labels, badges, links and
formatters made once per request. `opportunities/pipeline/opportunity_list.html` keeps the
table around the rows; a row's markup is that of stage_badge.html and amount.html, which the
deal's sheet, the account's panel and the caller's card still include: keep them in step
(tests/test_list_rows.py compares them).
"""

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from crm.core.formats import (
    datetime_formatter,
    grouped_decimal_formatter,
    html_format,
    kept_pk_url_maker,
)
from crm.core.models import User
from opportunities.models import ForecastCategory
from opportunities.money import Rates
from opportunities.selectors.pipeline import convert_or_none

ROW = (
    "<tr>"
    '<td><a class="fw-semibold" href="{url}">{name}</a>'
    '<div class="small text-body-secondary">{account}</div></td>'
    '<td data-label="{stage_label}">{stage}</td>'
    '<td data-label="{amount_label}" class="text-md-end">{amount}</td>'
    '<td data-label="{close_label}" class="text-nowrap">{close}</td>'
    '<td data-label="{forecast_label}">{forecast}</td>'
    '<td data-label="{owner_label}">{owner}</td>'
    "</tr>"
)
# opportunities/pipeline/stage_badge.html
STAGE = '<span class="badge {state}">{name}</span>'
STAGE_STATES = {
    "won": "text-bg-success",
    "lost": "text-bg-danger",
    "open": "text-bg-primary bg-opacity-75",
}
# opportunities/pipeline/amount.html
AMOUNT = '<span class="text-nowrap">{amount} {currency}</span>'
ORIGINAL = '<span class="small text-body-secondary text-nowrap d-block">{amount} {currency}</span>'
NO_RATE = (
    ' <span class="badge text-bg-warning no-rate" title="{title}">'
    '<i class="bi bi-exclamation-triangle"></i> {label}</span>'
)


@dataclass(frozen=True)
class RowLabels:
    """What every row shares, translated and escaped once per request."""

    stage: SafeString
    amount: SafeString
    close: SafeString
    forecast: SafeString
    owner: SafeString
    no_rate: str  # "sin tipo de cambio"
    no_rate_title: str  # "No hay tipo de cambio de %(currency)s a %(company)s: …"
    forecasts: dict[str, str]

    @classmethod
    def translated(cls) -> "RowLabels":
        return cls(
            stage=escape(_("Etapa")),
            amount=escape(_("Importe")),
            close=escape(_("Cierre")),
            forecast=escape(_("Previsión")),
            owner=escape(_("Responsable")),
            no_rate=_("sin tipo de cambio"),
            no_rate_title=_(
                "No hay tipo de cambio de %(currency)s a %(company)s: se muestra el importe"
                " original."
            ),
            forecasts={value: str(name) for value, name in ForecastCategory.choices},
        )


def render_rows(rows: list, *, currency: str, rates: Rates) -> list[SafeString]:
    """The `<tr>` of each row of a page of the list: the named tuples of
    `opportunity_list_rows`. Amounts are shown in the company `currency` where `rates` convert
    them; without a rate, in their own and with a warning (as amount.html)."""
    labels = RowLabels.translated()
    detail_url = kept_pk_url_maker("opportunities:opportunity-detail")
    money = grouped_decimal_formatter()
    short_date = datetime_formatter("SHORT_DATE_FORMAT")
    no_rate: dict[str, SafeString] = {}
    made = []
    for row in rows:
        if row.currency == currency:
            amount = html_format(AMOUNT, amount=money(row.amount), currency=row.currency)
        elif (converted := convert_or_none(rates, row.amount, row.currency)) is not None:
            amount = html_format(AMOUNT, amount=money(converted), currency=currency)
            amount += html_format(ORIGINAL, amount=money(row.amount), currency=row.currency)
        else:
            if row.currency not in no_rate:
                title = labels.no_rate_title % {"currency": row.currency, "company": currency}
                no_rate[row.currency] = html_format(NO_RATE, title=title, label=labels.no_rate)
            amount = html_format(AMOUNT, amount=money(row.amount), currency=row.currency)
            amount += no_rate[row.currency]
        state = "won" if row.stage__is_won else "lost" if row.stage__is_lost else "open"
        made.append(
            html_format(
                ROW,
                url=detail_url(row.pk),
                name=row.name,
                account=row.account__name,
                stage_label=labels.stage,
                stage=html_format(STAGE, state=STAGE_STATES[state], name=row.stage__name),
                amount_label=labels.amount,
                amount=amount,
                close_label=labels.close,
                close=short_date(row.expected_close_date),
                forecast_label=labels.forecast,
                forecast=labels.forecasts.get(row.forecast_category, row.forecast_category),
                owner_label=labels.owner,
                owner=User.name_of(
                    row.owner__first_name, row.owner__last_name, row.owner__username
                ),
            )
        )
    return made
