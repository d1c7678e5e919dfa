"""The cards of the sales board, as HTML made in Python.

A board shows up to 120 cards, and the same card markup through the template engine cost
about half a millisecond each (some 25 variable lookups, tags and filters per card): most of
the page. Here each card is one `html_format` call (crm.core.formats: `format_html` without
its per-value lazy-text checks) over values prepared once per request
(crm.core.formats), every value escaped. The markup is the one board.js and the
tests know: keep them in step (`board.html#board-card` renders `card.html`).
"""

from dataclasses import dataclass

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from crm.core.formats import (
    grouped_integer_formatter,
    html_format,
    kept_pk_url_maker,
    short_date_formatter,
)
from opportunities.selectors.pipeline import Card

CARD = (
    '<article class="card board-card{state}" id="card-{pk}" data-card-id="{pk}"'
    ' data-stage-id="{stage_id}" data-move-url="{move_url}">'
    '<div class="card-body p-2">'
    '<a class="fw-semibold d-block text-truncate card-name" href="{url}" title="{name}">{name}</a>'
    '<div class="small text-body-secondary text-truncate">{account}</div>'
    '<div class="d-flex flex-wrap justify-content-between align-items-baseline column-gap-2 mt-1">'
    '<span class="card-amount">{amount}</span>'
    '<span class="small text-nowrap {close_class}" title="{close_label}">'
    '<i class="bi bi-calendar-event"></i> {close}</span>'
    "</div>"
    "{owner}"
    '<div class="mt-1 board-move-slot"><a class="small" href="{url}#move-form">{move}</a></div>'
    "</div>"
    "</article>"
)
AMOUNT = '<span class="text-nowrap">{amount} {currency}</span>'
ORIGINAL = '<span class="small text-body-secondary text-nowrap d-block">{amount} {currency}</span>'
NO_RATE = '<i class="bi bi-exclamation-triangle-fill text-warning no-rate" title="{title}"></i>'
OWNER = (
    '<div class="small text-body-secondary text-truncate mt-1" title="{label}">'
    '<i class="bi bi-person"></i> {owner}</div>'
)


@dataclass(frozen=True)
class CardLabels:
    close: str
    owner: str
    move_to: str
    move_title: str

    @classmethod
    def translated(cls) -> "CardLabels":
        return cls(
            close=_("Cierre previsto"),
            owner=_("Responsable"),
            move_to=_("Mover a"),
            move_title=_("Mover a otra etapa"),
        )


def render_cards(cards: list[Card], *, currency: str, show_owner: bool, labels: CardLabels) -> None:
    """Give each card its `html` (and its `url`), for the board and a move's answer."""
    detail_url = kept_pk_url_maker("opportunities:opportunity-detail")
    move_url = kept_pk_url_maker("opportunities:opportunity-move")
    grouped = grouped_integer_formatter()
    short_date = short_date_formatter()
    today = timezone.localdate()
    no_rate: dict[str, SafeString] = {}
    for card in cards:
        card.url = detail_url(card.pk)
        if card.amount_company is None:
            if card.currency not in no_rate:
                title = _("Sin tipo de cambio para %(currency)s: importe original") % {
                    "currency": card.currency
                }
                no_rate[card.currency] = html_format(NO_RATE, title=title)
            amount = (
                html_format(AMOUNT, amount=grouped(card.amount), currency=card.currency)
                + mark_safe(" ")
                + no_rate[card.currency]
            )
        else:
            amount = html_format(AMOUNT, amount=grouped(card.amount_company), currency=currency)
            if card.currency != currency:
                amount += html_format(ORIGINAL, amount=grouped(card.amount), currency=card.currency)
        late = card.closed_at is None and card.expected_close_date < today
        stage = card.stage
        card.html = html_format(
            CARD,
            state=" is-won" if stage.is_won else " is-lost" if stage.is_lost else "",
            pk=card.pk,
            stage_id=card.stage_id,
            move_url=move_url(card.pk),
            url=card.url,
            name=card.name,
            account=card.account_name,
            amount=amount,
            close_class="text-danger" if late else "text-body-secondary",
            close_label=labels.close,
            close=short_date(card.expected_close_date),
            owner=html_format(OWNER, label=labels.owner, owner=card.owner_name)
            if show_owner
            else "",
            move=labels.move_title,
        )
