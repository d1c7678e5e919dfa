"""Every read of the pipeline: the board, the lists, the detail, products and quotes.

Visibility is `opportunity_visible_q` (a rep their own, a manager their teams', an administrator
all, support and marketing nothing), applied here and nowhere else.
"""

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm.core.db import MARK, get_prepared, plain_sql, prepared
from crm.core.models import User
from crm.core.text import fold
from opportunities.models import (
    LineItem,
    Opportunity,
    Pipeline,
    Product,
    Quote,
    Stage,
    StageChange,
)
from opportunities.money import CENT, Rates, company_currency, line_totals
from opportunities.permissions import opportunity_editable_q, opportunity_visible_q

# Cards shown per column; the rest are a link away ("Ver las N en la lista"). Twenty fill a
# screen on a desktop and keep the board light on a phone.
BOARD_LIMIT = 20
ACCOUNT_PANEL_LIMIT = 10

SORTS = {
    "close": ("expected_close_date", "id"),
    "-close": ("-expected_close_date", "-id"),
    "-amount": ("-amount", "id"),
    "name": ("name", "id"),
    "-updated": ("-updated_at", "-id"),
    "account": ("account__name", "expected_close_date", "id"),
}


# Money in the company currency ------------------------------------------------------------


def convert_or_none(rates: Rates, amount: Decimal, currency: str) -> Decimal | None:
    """The amount in the company currency, or None when there is no rate (never a guess)."""
    try:
        return rates.convert(amount, currency)
    except ValidationError:
        return None


def with_company_amounts(opportunities, rates: Rates | None = None) -> list[Opportunity]:
    """Sets `amount_company` (None without a rate) on each deal, for the templates."""
    rates = rates or Rates()
    rows = list(opportunities)
    for row in rows:
        row.amount_company = convert_or_none(rates, row.amount, row.currency)
    return rows


# Opportunities ----------------------------------------------------------------------------


def opportunity_base(*, user: User) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(opportunity_visible_q(user))


def _filtered(qs: QuerySet[Opportunity], filters: dict, user: User) -> QuerySet[Opportunity]:
    if pipeline := filters.get("pipeline"):
        qs = qs.filter(pipeline=pipeline)
    if owner := filters.get("owner"):
        qs = qs.filter(owner=owner)
    if filters.get("mine"):
        qs = qs.filter(owner=user)
    if account := filters.get("account"):
        qs = qs.filter(account_id=getattr(account, "pk", account))
    if close_from := filters.get("close_from"):
        qs = qs.filter(expected_close_date__gte=close_from)
    if close_to := filters.get("close_to"):
        qs = qs.filter(expected_close_date__lte=close_to)
    if stages := filters.get("stage"):
        qs = qs.filter(stage_id__in=stages)
    for name in ("currency", "forecast_category"):
        if values := filters.get(name):
            qs = qs.filter(**{f"{name}__in": values})
    status = filters.get("status")
    if status == "open":
        qs = qs.filter(stage__is_won=False, stage__is_lost=False)
    elif status == "won":
        qs = qs.filter(stage__is_won=True)
    elif status == "lost":
        qs = qs.filter(stage__is_lost=True)
    for word in fold(filters.get("q", "")).split():
        qs = qs.filter(Q(name__icontains=word) | Q(account__search_text__contains=word))
    return qs


def opportunity_list(*, user: User, filters: dict | None = None) -> QuerySet[Opportunity]:
    filters = filters or {}
    qs = _filtered(opportunity_base(user=user), filters, user)
    qs = qs.select_related("account", "owner", "stage")
    return qs.order_by(*SORTS.get(filters.get("sort") or "close", SORTS["close"]))


# What a row of the opportunity list shows (opportunities/views/list_rows.py), and nothing more.
LIST_ROW_FIELDS = (
    "pk",
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "forecast_category",
    "account__name",
    "stage__name",
    "stage__is_won",
    "stage__is_lost",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def opportunity_list_rows(*, user: User) -> QuerySet:
    """The rows of a page of the opportunity list, read by id after `opportunity_list` found
    the page's ids (crm.core.forms_utils.paginate), as named tuples of LIST_ROW_FIELDS. Not
    models: a page's 25 deals with their accounts, stages and owners made 100 of them, for a
    row that shows a dozen columns (opportunities/views/list_rows.py draws the rows)."""
    return opportunity_base(user=user).values_list(*LIST_ROW_FIELDS, named=True)


def opportunity_detail(*, user: User, pk: int) -> Opportunity:
    """The deal with what its page shows; raises Opportunity.DoesNotExist when not visible."""
    return get_prepared(
        opportunity_base(user=user)
        .select_related("account", "contact", "owner", "owner__team", "stage", "pipeline")
        .annotate(
            can_edit=Exists(
                Opportunity.objects.filter(opportunity_editable_q(user), pk=OuterRef("pk"))
            )
        ),
        pk=pk,
    )


def opportunity_editable(*, user: User) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(opportunity_editable_q(user)).select_related(
        "stage", "pipeline", "account", "owner"
    )


def stage_history(*, opportunity: Opportunity) -> QuerySet[StageChange]:
    return opportunity.stage_changes.select_related("from_stage", "to_stage", "by")


def account_opportunities(*, user: User, account_id: int) -> list[Opportunity]:
    """The account's open deals and those closed in the last year, open ones first."""
    year_ago = timezone.now() - timedelta(days=365)
    qs = (
        opportunity_base(user=user)
        .filter(account_id=account_id)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=year_ago))
        .select_related("stage", "owner")
        .order_by(F("closed_at").desc(nulls_first=True), "expected_close_date", "id")
    )
    return with_company_amounts(qs[: ACCOUNT_PANEL_LIMIT + 1])


# Pipelines and the board ------------------------------------------------------------------


def pipeline_choices() -> QuerySet[Pipeline]:
    return Pipeline.objects.all()


def pipeline_get(pk: int | None = None) -> Pipeline:
    """The pipeline asked for, or the default one (raises Pipeline.DoesNotExist)."""
    if pk:
        return Pipeline.objects.get(pk=pk)
    return Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.earliest("id")


def stages_of(pipeline: Pipeline | int) -> list[Stage]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("order"))


def stage_choices() -> QuerySet[Stage]:
    return Stage.objects.select_related("pipeline").order_by("pipeline__name", "order")


@dataclass
class BoardColumn:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal("0")
    # Amounts whose currency has no rate: summed apart and shown as such, never converted.
    unconverted: dict[str, Decimal] = field(default_factory=dict)
    cards: list["Card"] = field(default_factory=list)

    @property
    def weighted(self) -> Decimal:
        return (self.total * self.stage.probability / Decimal("100")).quantize(
            CENT, rounding=ROUND_HALF_UP
        )

    @property
    def has_more(self) -> bool:
        return self.count > len(self.cards)

    @property
    def unconverted_items(self) -> list[tuple[str, Decimal]]:
        return sorted(self.unconverted.items())


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]
    currency: str
    limit: int

    @property
    def stages(self) -> list[Stage]:
        return [column.stage for column in self.columns]


# What a card shows: the rest of the row is never read on the board.
CARD_FIELDS = (
    "id",
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "closed_at",
    "stage_id",
    "account__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


@dataclass(slots=True)
class Card:
    """A deal as a card of the board shows it: the columns of CARD_FIELDS, not a model.

    A board reads up to 120 deals; as models with their accounts and owners they were 360
    objects, whose construction cost more than their query. `amount_company` (with_company_amounts),
    `stage` (the column's), `url` and `html` (opportunities/views/board_cards.py) are set
    after.
    """

    pk: int
    name: str
    amount: Decimal
    currency: str
    expected_close_date: date
    closed_at: datetime | None
    stage_id: int
    account_name: str
    owner_name: str
    amount_company: Decimal | None = None
    stage: Stage | None = None
    url: str = ""
    html: str = ""

    @classmethod
    def from_row(cls, row: tuple) -> "Card":
        """From a row of CARD_FIELDS."""
        *deal, account_name, first_name, last_name, username = row
        return cls(*deal, account_name, User.name_of(first_name, last_name, username))

    @classmethod
    def of(cls, opportunity: Opportunity) -> "Card":
        """From a deal read as a model (a move's answer shows the moved card)."""
        return cls(
            pk=opportunity.pk,
            name=opportunity.name,
            amount=opportunity.amount,
            currency=opportunity.currency,
            expected_close_date=opportunity.expected_close_date,
            closed_at=opportunity.closed_at,
            stage_id=opportunity.stage_id,
            account_name=opportunity.account.name,
            owner_name=str(opportunity.owner),
            stage=opportunity.stage,
        )


def _card_order_key(card: Card) -> tuple:
    """The column's order in Python: closed deals newest first, then by close date and id."""
    closed = card.closed_at
    return (
        closed is not None,
        -closed.timestamp() if closed else 0.0,
        card.expected_close_date,
        card.pk,
    )


def _union_of_stages(qs, stages: list[Stage], order, limit: int, *, prepare: bool) -> list:
    """The rows of `_first_cards`' UNION ALL. Its parts differ by their stage only, so one part
    is compiled (with a stand-in for the stage) and its SQL repeated with each stage's id in the
    stand-in's place: Django built and compiled each of the 6 to 8 parts anew, 3.7 ms of the
    board's 34. `prepare`: the board without filters, whose plan is the same for any user and
    stages (its indexes decide it), runs as a prepared statement: PostgreSQL planned the parts in
    2 ms to run them in 0.9. Where Django would convert a column or select them in another order
    than CARD_FIELDS, the ORM builds the union."""
    part = qs.filter(stage=MARK).order_by(*order).values_list(*CARD_FIELDS)[:limit]
    compiled = plain_sql(part, qs.db, CARD_FIELDS)
    if compiled is None or compiled[1].count(MARK) != 1:
        parts = [
            qs.filter(stage=stage).order_by(*order).values_list(*CARD_FIELDS)[:limit]
            for stage in stages
        ]
        return list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
    sql, params = compiled
    slot = params.index(MARK)
    union_params = []
    for stage in stages:
        union_params += [*params[:slot], stage.pk, *params[slot + 1 :]]
    union_sql = " UNION ALL ".join([f"({sql})"] * len(stages))
    with prepared(qs.db) if prepare else nullcontext(), connections[qs.db].cursor() as cursor:
        cursor.execute(union_sql, union_params)
        return cursor.fetchall()


def _first_cards(
    qs: QuerySet[Opportunity], stages: list[Stage], limit: int, *, prepare: bool = False
) -> list[Card]:
    """The first `limit` cards of each column, in one query.

    Where the database takes ordered, limited parts in a UNION ALL (PostgreSQL): one bounded
    part per stage, each read in the order of `opp_board_owner_idx`/`opp_board_stage_idx` and
    stopped at the limit, however many deals the user has. Elsewhere (SQLite, small data): a
    window function numbering the cards of each stage.
    """
    order = (
        F("closed_at").desc(nulls_first=True),
        F("expected_close_date").asc(),
        F("id").asc(),
    )
    if not stages:
        return []
    if connections[qs.db].features.supports_slicing_ordering_in_compound:
        rows = _union_of_stages(qs, stages, order, limit, prepare=prepare)
        # UNION ALL promises no order between or within its parts: sorted again here.
        return sorted(map(Card.from_row, rows), key=_card_order_key)
    rows = (
        qs.filter(stage__in=stages)
        .annotate(row_number=Window(RowNumber(), partition_by=[F("stage_id")], order_by=order))
        .filter(row_number__lte=limit)
        .order_by("stage_id", "row_number")
        .values_list(*CARD_FIELDS)
    )
    return list(map(Card.from_row, rows))


def board(
    *,
    user: User,
    pipeline: Pipeline,
    filters: dict | None = None,
    limit: int | None = None,
    with_cards: bool = True,
) -> Board:
    """The columns of the board with their totals and at most `limit` cards each.

    A constant number of queries whatever the number of deals: the stages, the totals grouped
    by stage and currency, the rates and the cards (see `_first_cards`). Nothing here reads
    more rows than the columns show, but the totals (an index-only scan of the user's deals).
    """
    limit = limit or BOARD_LIMIT
    unfiltered = not any((filters or {}).values())
    filters = {**(filters or {}), "pipeline": pipeline}
    qs = _filtered(opportunity_base(user=user), filters, user)
    stages = stages_of(pipeline)
    columns = {stage.pk: BoardColumn(stage=stage) for stage in stages}
    rates = Rates()
    for row in (
        qs.order_by().values("stage_id", "currency").annotate(n=Count("id"), amount=Sum("amount"))
    ):
        column = columns.get(row["stage_id"])
        if column is None:
            continue
        column.count += row["n"]
        converted = convert_or_none(rates, row["amount"] or Decimal("0"), row["currency"])
        if converted is None:
            column.unconverted[row["currency"]] = (
                column.unconverted.get(row["currency"], Decimal("0")) + row["amount"]
            )
        else:
            column.total += converted
    if with_cards:
        # Only the columns with deals: an empty column costs no UNION part.
        with_deals = [column.stage for column in columns.values() if column.count]
        cards = _first_cards(qs, with_deals, limit, prepare=unfiltered)
        for card in with_company_amounts(cards, rates):
            column = columns[card.stage_id]
            card.stage = column.stage  # the column's own row: no query per card
            column.cards.append(card)
    return Board(
        pipeline=pipeline,
        columns=list(columns.values()),
        currency=company_currency(),
        limit=limit,
    )


# Line items -------------------------------------------------------------------------------


@dataclass
class LineRow:
    line: LineItem
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return (self.line.quantity * self.line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class LineSummary:
    rows: list[LineRow]
    subtotal: Decimal
    taxes: list[tuple[Decimal, Decimal, Decimal]]  # (rate, base, tax), by rate
    tax_total: Decimal
    total: Decimal


def summarize_lines(lines) -> LineSummary:
    """Net and tax of each line, the taxes grouped by rate (IVA 16 %, 21 %…) and the totals."""
    rows = []
    bases: dict[Decimal, Decimal] = defaultdict(Decimal)
    taxes: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        net, tax = line_totals(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_pct=line.discount_pct,
            tax_rate=line.tax_rate,
        )
        rows.append(LineRow(line=line, net=net, tax=tax))
        rate = line.tax_rate.normalize() if line.tax_rate else Decimal("0")
        bases[rate] += net
        taxes[rate] += tax
    subtotal = sum((row.net for row in rows), Decimal("0"))
    tax_total = sum((row.tax for row in rows), Decimal("0"))
    return LineSummary(
        rows=rows,
        subtotal=subtotal,
        taxes=[(rate, bases[rate], taxes[rate]) for rate in sorted(bases)],
        tax_total=tax_total,
        total=subtotal + tax_total,
    )


def line_items_of(*, opportunity: Opportunity) -> QuerySet[LineItem]:
    return opportunity.line_items.select_related("product")


def line_item_editable(*, user: User, pk: int) -> LineItem:
    """A line of a deal this user may change (raises LineItem.DoesNotExist otherwise)."""
    return LineItem.objects.select_related("opportunity").get(
        pk=pk, opportunity__in=Opportunity.objects.filter(opportunity_editable_q(user))
    )


# Products ---------------------------------------------------------------------------------


def product_list(*, filters: dict | None = None) -> QuerySet[Product]:
    filters = filters or {}
    qs = Product.objects.all()
    if not filters.get("archived"):
        qs = qs.filter(is_active=True)
    for word in (filters.get("q") or "").split():
        qs = qs.filter(Q(name__icontains=word) | Q(sku__icontains=word))
    return qs.order_by("name", "id")


def product_choices() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("name")


# Quotes -----------------------------------------------------------------------------------


def quotes_of(*, opportunity: Opportunity) -> QuerySet[Quote]:
    return opportunity.quotes.select_related("created_by").order_by("-version", "-id")


def quote_visible(*, user: User, pk: int) -> Quote:
    """A quote of a deal this user sees (raises Quote.DoesNotExist otherwise)."""
    return Quote.objects.select_related(
        "opportunity", "opportunity__account", "opportunity__contact"
    ).get(pk=pk, opportunity__in=opportunity_base(user=user))
