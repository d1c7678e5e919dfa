"""¿Quién llama?: the contacts and accounts behind a phone number, with what the caller's
customer context needs on one screen (DESIGN.md §1: support finds the caller in one keystroke).

Phones are stored in E.164 with digit-only copies (`phone_digits`, `mobile_digits`), so the
number "+52 1 55 1234 5678", "044 55 1234 5678" or "55-1234-5678" all meet +525512345678 by
their last digits. Every read here goes through the visibility rules of the apps that own the
data: contacts and accounts (their selectors' base), activities (activity_visible_q),
opportunities (only for sellers, opportunity_visible_q) and tickets (counted only where the user
reads them, support.permissions). The queries are constant in the number of results (at most
nine here), and each is served by an index on PostgreSQL: the trigram GIN indexes on the digit
columns (contacts 0003) for "contains", and btree indexes on the reversed digits (contacts and
accounts `caller_phone_indexes`) for "ends with".
"""

from dataclasses import dataclass, field
from typing import Literal

import phonenumbers
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Reverse, RowNumber
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from accounts.models import Account
from accounts.selectors import account_base
from contacts.models import Contact
from contacts.selectors import contact_base
from crm.core.formats import datetime_formatter
from crm.core.models import User
from crm.core.text import digits
from opportunities.models import Activity, Opportunity
from opportunities.permissions import activity_visible_q, can_sell, opportunity_visible_q
from opportunities.selectors.pipeline import with_company_amounts
from support.models import Ticket
from support.permissions import (
    account_ticketable_q,
    can_see_tickets,
    can_work_tickets,
)
from support.selectors.tickets import open_ticket_counts

MIN_DIGITS = 3
# From this many digits on, a query is (the end of) a whole number: formats meet by the end.
SUFFIX_FROM = 8
SUFFIX_MAX = 10  # the longest national number among the company's countries (MX)
RESULT_LIMIT = 8  # of each, contacts and accounts
ACTIVITY_LIMIT = 3
OPPORTUNITY_LIMIT = 3
OUTCOME_CHARS = 80  # of an activity's outcome on a card (the line is cut by CSS too)
NOT_ASKED = ACTIVITY_LIMIT + 1  # the number of an activity of a record not asked for
MAX_QUERY = 40

CONTACT_PHONES = ("phone_digits", "mobile_digits")
ACCOUNT_PHONES = ("phone_digits",)
# Trunk prefixes dialled before a national number: Mexico's old 044/045 (mobile) and 01 (long
# distance), and the single 0 most other countries use. No national number starts with 0.
TRUNK_PREFIXES = ("044", "045", "01", "0")
# Mexico's mobiles carried a "1" after +52 until 2019; people still write it.
MX_MOBILE_ONE = ("52", "1")


# The number ----------------------------------------------------------------------------------


def _country_code(number: str) -> str:
    """The calling code at the start of an international number ("52", "34", "1"), or "".

    Calling codes are prefix-free, so the first known one of 1 to 3 digits is the one.
    """
    for length in (1, 2, 3):
        code = number[:length]
        if len(number) > length and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return ""


def national_digits(query: str) -> str:
    """The typed digits without international or trunk prefixes.

    "+52 1 55 1234 5678", "0052 55 1234 5678", "044 55 1234 5678" and "01 55 1234 5678" all
    give "5512345678"; "+34 912 345 678" gives "912345678"; "1234" stays "1234".
    """
    text = (query or "").strip()
    typed = digits(text)
    if text.startswith("+") or typed.startswith("00"):
        number = typed if text.startswith("+") else typed[2:]
        code = _country_code(number)
        national = number[len(code) :]
        if (code, national[:1]) == MX_MOBILE_ONE:
            national = national[1:]
        return national
    for prefix in TRUNK_PREFIXES:
        if typed.startswith(prefix):
            return typed[len(prefix) :]
    return typed


@dataclass(frozen=True)
class PhoneQuery:
    """What to look for: phones that end with the number typed, then those that contain it.

    With 8 or more digits the query is a (nearly) whole number and is compared by its last 8
    to 10 digits, so that every format of a number meets the stored E.164 one (a number that
    merely contains them follows, for someone still typing). With 3 to 7 digits, any number
    containing them matches, those ending with them first: people read out the last digits.
    """

    typed: str
    needle: str

    @property
    def suffix(self) -> str:
        return self.needle[-SUFFIX_MAX:]

    @property
    def whole_number(self) -> bool:
        return len(self.needle) >= SUFFIX_FROM

    def ending_q(self, fields: tuple[str, ...]) -> Q:
        """Over `reversed(qs, fields)`: a phone ends with the suffix (a btree prefix range)."""
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}_reversed__startswith": self.suffix[::-1]})
        return condition

    def containing_q(self, fields: tuple[str, ...]) -> Q:
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__contains": self.needle})
        return condition

    def matches(self, number_digits: str) -> bool:
        return bool(number_digits) and (
            self.needle in number_digits or number_digits.endswith(self.suffix)
        )


def phone_query(query: str) -> PhoneQuery | None:
    """The search for `query`, or None when it has fewer than three digits."""
    query = (query or "")[:MAX_QUERY]
    typed = digits(query)
    if len(typed) < MIN_DIGITS:
        return None
    national = national_digits(query)
    # A bare prefix ("044", "+52") has no national digits yet: look for what was typed.
    needle = national if len(national) >= MIN_DIGITS else typed
    return PhoneQuery(typed=typed, needle=needle)


def _reversed(qs: QuerySet, fields: tuple[str, ...]) -> QuerySet:
    return qs.alias(**{f"{name}_reversed": Reverse(name) for name in fields})


def _find(
    base: QuerySet,
    qs: QuerySet,
    search: PhoneQuery,
    fields: tuple[str, ...],
    order: tuple,
    limit: int,
) -> list:
    """Up to `limit` records whose phones match, those ending with the number first.

    `base` is what the user may see; `qs` the same records with what the page shows.

    A whole number is one query: few phones contain ten digits, so ranking them all is cheap.
    A few digits are contained in thousands of phones, so those ending with them come first
    from the reversed-digits index, and the others are looked up only when they are too few.
    The matches are chosen in a subquery over the phones alone, then only those rows are
    joined to what the page shows (owner, account).
    """
    matching = _reversed(base, fields)
    ending = search.ending_q(fields)
    if search.whole_number:
        rank = Case(When(ending, then=Value(0)), default=Value(1), output_field=IntegerField())
        chosen = (
            matching.filter(ending | search.containing_q(fields))
            .annotate(match_rank=rank)
            .order_by("match_rank", *order)
            .values("pk")[:limit]
        )
        return list(
            _reversed(qs, fields)
            .filter(pk__in=chosen)
            .annotate(match_rank=rank)
            .order_by("match_rank", *order)
        )
    chosen = matching.filter(ending).order_by(*order).values("pk")[:limit]
    found = list(qs.filter(pk__in=chosen).order_by(*order))
    if len(found) < limit:
        chosen = (
            matching.filter(search.containing_q(fields))
            .exclude(pk__in=[r.pk for r in found])
            .order_by(*order)
            .values("pk")[: limit - len(found)]
        )
        found += list(qs.filter(pk__in=chosen).order_by(*order))
    return found


# The results ---------------------------------------------------------------------------------


@dataclass
class Phone:
    label: str
    number: str  # formatted for people
    e164: str
    matched: bool
    mobile: bool


@dataclass
class CallerHit:
    """A contact or an account that may be calling, with its customer context."""

    kind: Literal["contact", "account"]
    record: Contact | Account
    name: str
    url: str  # the record's sheet
    account: Account | None
    phones: list[Phone]
    activities: list[Activity]
    # None: this user may not see them (the template then says nothing about them).
    open_tickets: int | None = None
    account_open_tickets: int | None = None
    opportunities: list[Opportunity] | None = None
    more_opportunities: int = 0
    ticket_url: str = ""

    @property
    def dom_id(self) -> str:
        return f"caller-{self.kind}-{self.record.pk}"

    @property
    def owner(self) -> User:
        return self.record.owner

    @property
    def tier(self) -> str:
        return self.account.tier if self.account else ""


@dataclass
class CallerResults:
    query: str
    searched: bool = False  # at least three digits were typed
    contacts: list[CallerHit] = field(default_factory=list)
    accounts: list[CallerHit] = field(default_factory=list)
    more_contacts: bool = False
    more_accounts: bool = False

    @property
    def empty(self) -> bool:
        return not self.contacts and not self.accounts


def _reads_tickets(user: User, account_ref: str) -> Exists | Value:
    """Whether `user` reads the tickets of the account (and may open one for it), per row.

    One rule for both (support.permissions): support and administrators every account, a rep
    the accounts they own, a manager those of the teams they lead; marketing none.
    """
    if can_work_tickets(user):
        return Value(True, output_field=BooleanField())
    if not can_see_tickets(user):
        return Value(False, output_field=BooleanField())
    return Exists(Account.objects.filter(account_ticketable_q(user), pk=OuterRef(account_ref)))


# What a card shows, nothing more: fewer columns to read and fewer fields to build per row.
OWNER_FIELDS = ("owner__first_name", "owner__last_name", "owner__username")
ACCOUNT_FIELDS = ("name", "phone", "tier", "archived_at", "owner_id")
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "job_title",
    "phone",
    "mobile",
    "archived_at",
    "account_id",
    "owner_id",
)


def _contacts(user: User) -> QuerySet[Contact]:
    return (
        contact_base(user=user)
        .select_related("account", "owner")
        .only(*CONTACT_FIELDS, *OWNER_FIELDS, *(f"account__{name}" for name in ACCOUNT_FIELDS))
        .annotate(reads_tickets=_reads_tickets(user, "account_id"))
    )


def _accounts(user: User) -> QuerySet[Account]:
    return (
        account_base(user=user)
        .select_related("owner")
        .only(*ACCOUNT_FIELDS, *OWNER_FIELDS)
        .annotate(reads_tickets=_reads_tickets(user, "pk"))
    )


CONTACT_ORDER = (F("archived_at").asc(nulls_first=True), "last_name", "first_name", "id")
ACCOUNT_ORDER = (F("archived_at").asc(nulls_first=True), "name", "id")
ACTIVITY_FIELDS = (
    "kind",
    "status",
    "subject",
    "done_at",
    "planned_at",
    "outcome",
    "account_id",
    "contact_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def _last_activities(
    user: User, *, contact_ids: set[int], account_ids: set[int]
) -> tuple[dict[int, list[Activity]], dict[int, list[Activity]]]:
    """The last done activities this user may see of each contact and of each account.

    One query: every activity of those contacts or accounts, numbered newest first within
    its contact and within its account, keeping the first few of each.
    """
    if not contact_ids and not account_ids:
        return {}, {}
    newest = (F("done_at").desc(), F("id").desc())

    def nth(field_name: str, ids: set[int]) -> Case:
        # Numbered only within the records asked for: another contact of an account asked for
        # is not itself asked for, and its activities are kept only as the account's.
        return Case(
            When(
                Q(**{f"{field_name}__in": ids}),
                then=Window(RowNumber(), partition_by=F(field_name), order_by=newest),
            ),
            default=Value(NOT_ASKED),
            output_field=IntegerField(),
        )

    rows = (
        Activity.objects.filter(activity_visible_q(user), status=Activity.Status.DONE)
        .filter(Q(contact_id__in=contact_ids) | Q(account_id__in=account_ids))
        .select_related("owner")
        .only(*ACTIVITY_FIELDS)
        .annotate(
            nth_of_contact=nth("contact_id", contact_ids),
            nth_of_account=nth("account_id", account_ids),
        )
        .filter(Q(nth_of_contact__lte=ACTIVITY_LIMIT) | Q(nth_of_account__lte=ACTIVITY_LIMIT))
        .order_by("-done_at", "-id")
    )
    by_contact: dict[int, list[Activity]] = {}
    by_account: dict[int, list[Activity]] = {}
    day = datetime_formatter("j M Y")
    for row in rows:
        # Formatted once here rather than by the `date` and `truncatechars` filters per card.
        row.done_label = day(row.done_at)
        row.outcome_short = Truncator(row.outcome).chars(OUTCOME_CHARS) if row.outcome else ""
        if row.nth_of_contact <= ACTIVITY_LIMIT:
            by_contact.setdefault(row.contact_id, []).append(row)
        if row.nth_of_account <= ACTIVITY_LIMIT:
            by_account.setdefault(row.account_id, []).append(row)
    return by_contact, by_account


def _open_opportunities(user: User, account_ids: set[int]) -> dict[int, list[Opportunity]]:
    """The first open deals of each account that this seller may see, with how many there are."""
    if not account_ids:
        return {}
    qs = (
        Opportunity.objects.filter(
            opportunity_visible_q(user),
            account_id__in=account_ids,
            stage__is_won=False,
            stage__is_lost=False,
        )
        .select_related("stage")
        .only(
            "name",
            "amount",
            "currency",
            "expected_close_date",
            "account_id",
            "owner_id",
            "stage__name",
            "stage__probability",
            "stage__is_won",
            "stage__is_lost",
        )
        .annotate(
            nth=Window(
                RowNumber(),
                partition_by=F("account_id"),
                order_by=(F("expected_close_date").asc(), F("id").asc()),
            ),
            of=Window(Count("id"), partition_by=F("account_id")),
        )
        .filter(nth__lte=OPPORTUNITY_LIMIT)
        .order_by("account_id", "nth")
    )
    grouped: dict[int, list[Opportunity]] = {}
    for deal in with_company_amounts(qs):
        grouped.setdefault(deal.account_id, []).append(deal)
    return grouped


def ticket_create_url(*, contact: Contact | None, account: Account | None) -> str:
    """The new-ticket page with the caller filled in and the channel "teléfono"."""
    params = {}
    if contact is not None:
        params["contact"] = contact.pk
    if account is not None:
        params["account"] = account.pk
    params["channel"] = Ticket.Channel.PHONE
    # The new-ticket form takes the caller from the query string (support.views.tickets).
    return f"{reverse('support:ticket-create')}?{urlencode(params)}"


def _phones(record: Contact | Account, search: PhoneQuery | None) -> list[Phone]:
    fields = [("mobile", _("Móvil")), ("phone", _("Teléfono"))]
    if isinstance(record, Account):
        fields = [("phone", _("Teléfono"))]
    phones = []
    for name, label in fields:
        e164 = getattr(record, name)
        if e164:
            phones.append(
                Phone(
                    label=label,
                    number=getattr(record, f"{name}_display"),
                    e164=e164,
                    matched=search.matches(digits(e164)) if search else False,
                    mobile=name == "mobile",
                )
            )
    phones.sort(key=lambda phone: not phone.matched)
    return phones


def _hits(
    user: User,
    *,
    contacts: list[Contact],
    accounts: list[Account],
    search: PhoneQuery | None,
) -> tuple[list[CallerHit], list[CallerHit]]:
    """The records with their context: a fixed number of queries, however many there are."""
    contact_ids = {c.pk for c in contacts}
    account_ids = {a.pk for a in accounts}
    all_account_ids = {c.account_id for c in contacts if c.account_id} | account_ids
    by_contact_activities, by_account_activities = _last_activities(
        user, contact_ids=contact_ids, account_ids=account_ids
    )
    # Counted for every record, shown only where this user reads the tickets.
    by_account, by_contact = (
        open_ticket_counts(account_ids=all_account_ids, contact_ids=contact_ids)
        if can_see_tickets(user)
        else ({}, {})
    )
    deals = _open_opportunities(user, all_account_ids) if can_sell(user) else None

    def hit(record: Contact | Account, account: Account | None) -> CallerHit:
        is_contact = isinstance(record, Contact)
        reads_tickets = bool(record.reads_tickets)
        account_deals = None
        if deals is not None:
            account_deals = deals.get(account.pk, []) if account else []
        if is_contact:
            activities = by_contact_activities.get(record.pk, [])
            own_tickets = by_contact.get(record.pk, 0)
        else:
            activities = by_account_activities.get(record.pk, [])
            own_tickets = by_account.get(record.pk, 0)
        return CallerHit(
            kind="contact" if is_contact else "account",
            record=record,
            name=record.full_name if is_contact else record.name,
            url=record.get_absolute_url(),
            account=account,
            phones=_phones(record, search),
            activities=activities,
            open_tickets=own_tickets if reads_tickets else None,
            account_open_tickets=(
                by_account.get(account.pk, 0) if reads_tickets and account else None
            ),
            opportunities=account_deals,
            more_opportunities=account_deals[0].of - len(account_deals) if account_deals else 0,
            # The ticket form offers live accounts only.
            ticket_url=(
                ticket_create_url(contact=record if is_contact else None, account=account)
                if reads_tickets and not (account and account.archived_at)
                else ""
            ),
        )

    return [hit(c, c.account) for c in contacts], [hit(a, a) for a in accounts]


def caller_lookup(*, user: User, query: str, limit: int = RESULT_LIMIT) -> CallerResults:
    """The contacts and accounts whose phone matches `query`, best matches first.

    A phone that ends with the number typed comes before one that merely contains it; archived
    records come last but still come (a caller may be an old customer).
    """
    query = (query or "").strip()[:MAX_QUERY]
    search = phone_query(query)
    results = CallerResults(query=query)
    if search is None:
        return results
    results.searched = True
    contacts = _find(
        contact_base(user=user), _contacts(user), search, CONTACT_PHONES, CONTACT_ORDER, limit + 1
    )
    accounts = _find(
        account_base(user=user), _accounts(user), search, ACCOUNT_PHONES, ACCOUNT_ORDER, limit + 1
    )
    results.more_contacts = len(contacts) > limit
    results.more_accounts = len(accounts) > limit
    results.contacts, results.accounts = _hits(
        user, contacts=contacts[:limit], accounts=accounts[:limit], search=search
    )
    return results


def caller_hit(
    *, user: User, query: str = "", contact_id: int | None = None, account_id: int | None = None
) -> CallerHit | None:
    """One result again (after its call was logged), or None when it does not exist."""
    search = phone_query(query)
    if contact_id:
        contact = _contacts(user).filter(pk=contact_id).first()
        if contact is None:
            return None
        return _hits(user, contacts=[contact], accounts=[], search=search)[0][0]
    if account_id:
        account = _accounts(user).filter(pk=account_id).first()
        if account is None:
            return None
        return _hits(user, contacts=[], accounts=[account], search=search)[1][0]
    return None


def caller_record(
    *, user: User, contact_id: int | None = None, account_id: int | None = None
) -> Contact | Account | None:
    """The contact (with its account) or the account a call is logged for, if it exists."""
    if contact_id:
        return contact_base(user=user).select_related("account").filter(pk=contact_id).first()
    if account_id:
        return account_base(user=user).filter(pk=account_id).first()
    return None
