"""Every read of contacts: who sees what, the consent state, and the relations pages need."""

import functools

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from contacts.imports.models import ImportRun
from contacts.models import Consent, ConsentLatest, Contact
from contacts.services import CONTACT_FIELDS
from crm.core.db import KeptQuery, KeptRows, get_prepared
from crm.core.history import history_entries
from crm.core.models import User
from crm.core.permissions import editable_by_owner_q
from crm.core.search_query import tag_names, tag_prefetch, text_query_q

SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "-score": ("-lead_score", "last_name", "id"),
    "-updated": ("-updated_at", "-id"),
    "account": ("account__name", "last_name", "id"),
    "city": ("city", "last_name", "id"),
}

PHONE_FIELDS = ("phone_digits", "mobile_digits")


def latest_consent_action(channel: str = Consent.Channel.EMAIL) -> Subquery:
    """The latest channel-wide entry's action: "grant", "withdraw" or NULL."""
    return Subquery(
        ConsentLatest.objects.filter(
            contact=OuterRef("pk"), channel=channel, topic__isnull=True
        ).values("action")[:1]
    )


def consent_filter_q(state: str, channel: str = Consent.Channel.EMAIL) -> Q:
    """Contacts whose current channel-wide consent is `state`: grant, withdraw or none."""
    latest = ConsentLatest.objects.filter(
        contact=OuterRef("pk"), channel=channel, topic__isnull=True
    )
    if state == "none":
        return ~Exists(latest)
    return Exists(latest.filter(action=state))


def contact_base(*, user: User, rows: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """The shared portfolio: every role reads every contact (DESIGN.md §1). Of `rows` (a
    query of contacts with what a page reads, or all of them) the ones `user` may see."""
    return (Contact.objects if rows is None else rows).all()


def contact_editable(*, user: User) -> QuerySet[Contact]:
    return Contact.objects.filter(editable_by_owner_q(user))


def contact_list(*, user: User, filters: dict | None = None) -> QuerySet[Contact]:
    """The contacts of the list with these filters, in its order, each with its owner, account,
    tags and `email_consent` (the API, the exports, the search)."""
    return (
        contact_filtered(user=user, filters=filters)
        .select_related("owner", "account")
        .prefetch_related(tag_prefetch())
        .annotate(email_consent=latest_consent_action())
    )


# What a contact of the API's list answers (contacts.api.ContactSerializer): the record's own
# columns, its account and owner by id, its tags and email consent; nothing more.
API_ROW_FIELDS = (
    "id",
    *(f"{name}_id" if name == "account" else name for name in CONTACT_FIELDS),
    "owner_id",
    "archived_at",
    "created_at",
    "updated_at",
)


def contact_api_list(*, user: User, filters: dict | None = None) -> QuerySet:
    """The contacts of the list with these filters for the API (contacts/api.py), as named
    tuples of API_ROW_FIELDS with `email_consent` and `tag_names`, in one query. The answer
    names the owner and the account by id only, so neither is joined: a page of 50 contacts
    built 150 models and ran a second query for the tags with `contact_list`. Not models
    either: building 51 contacts and loading their six dates cost more than serializing them,
    and the search text and the merge and erasure columns are not the list's to read."""
    rows = _kept_api_rows(ContentType.objects.get_for_model(Contact).pk)
    return contact_filtered(user=user, filters=filters, rows=rows)


def contact_api_pages(*, user: User) -> KeptQuery:
    """`contact_api_list` without filters, as the API's paginator reads it (crm.core.db.KeptQuery):
    each page's SQL compiled once per process and run as a prepared statement. What an
    integration syncing every contact asks again and again; filtered lists are planned anew."""
    return _kept_api_pages(ContentType.objects.get_for_model(Contact).pk)


@functools.lru_cache(maxsize=4)
def _kept_api_pages(content_type_id: int) -> KeptQuery:
    # Every role reads every contact (contact_base): the query is the same for every user, so
    # it is kept without one (a test compares it with each role's own).
    return KeptQuery(contact_filtered(user=None, rows=_kept_api_rows(content_type_id)))


@functools.lru_cache(maxsize=4)
def _kept_api_rows(content_type_id: int) -> QuerySet:
    """Every contact's API row with its `email_consent` and `tag_names`, the query kept per
    process (as `_kept_list_rows`): adding the two subqueries cost 0.6 ms of each request,
    more than the filters and the order together. Never evaluated itself: contact_base hands
    out copies."""
    return Contact.objects.annotate(
        email_consent=latest_consent_action(), tag_names=tag_names(Contact)
    ).values_list(*API_ROW_FIELDS, "email_consent", "tag_names", named=True)


def contact_filtered(
    *, user: User, filters: dict | None = None, rows: QuerySet[Contact] | None = None
) -> QuerySet[Contact]:
    """The same contacts and order as `contact_list`, without what a row shows: for the ids of
    a page of the list and for its count (every clone of a query copies its subqueries, and
    the list's queries are built on every keystroke of live filtering)."""
    filters = filters or {}
    qs = contact_base(user=user, rows=rows).filter(archived_at__isnull=not filters.get("archived"))
    if condition := text_query_q(
        filters.get("q", ""), text_field="search_text", digit_fields=PHONE_FIELDS
    ):
        qs = qs.filter(condition)
    for field in ("lifecycle", "lead_source", "country"):
        if values := filters.get(field):
            qs = qs.filter(**{f"{field}__in": values})
    if owner := filters.get("owner"):
        qs = qs.filter(owner=owner)
    if filters.get("mine"):
        qs = qs.filter(owner=user)
    if account := filters.get("account"):
        qs = qs.filter(account=account)
    for field in ("city", "region"):
        if value := filters.get(field):
            qs = qs.filter(**{f"{field}__iexact": value})
    if (score := filters.get("min_score")) is not None:
        qs = qs.filter(lead_score__gte=score)
    if consent := filters.get("consent"):
        qs = qs.filter(consent_filter_q(consent))
    if tags := filters.get("tags"):
        qs = qs.filter(tags__name__in=tags).distinct()
    return qs.order_by(*SORTS.get(filters.get("sort") or "name", SORTS["name"]))


# What a row of the contact list shows (contacts/list_rows.py), and nothing more.
LIST_ROW_FIELDS = (
    "pk",
    "first_name",
    "last_name",
    "email",
    "job_title",
    "archived_at",
    "lifecycle",
    "lead_score",
    "phone",
    "mobile",
    "account_id",
    "account__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def contact_list_rows(*, user: User) -> QuerySet:
    """The rows of a page of the contact list, read by id after `contact_filtered` found the page's
    ids (crm.core.forms_utils.paginate): the columns the row shows, its tags' names and its
    email consent in one query, as named tuples (LIST_ROW_FIELDS, `email_consent`,
    `tag_names`). Not models: a page's 25 contacts with their accounts and owners made 75 of
    them, whose construction cost more than the query (contacts/list_rows.py draws the rows).

    Who sees what is decided by the ids: `contact_filtered` found them with the user's own
    `contact_base`, and these rows are read by them only. So the query is the same for every
    user, and is built once per process (`_kept_list_rows`) and copied for each page: building
    it, two subqueries and 15 columns across three tables, cost 0.6 ms of every page."""
    return _kept_list_rows(ContentType.objects.get_for_model(Contact).pk).all()


def contact_page_rows(*, user: User) -> KeptRows:
    """`contact_list_rows` as the list page reads them (paginate's `rows`): its SQL compiled once
    per process for each number of ids, and run as a prepared statement (crm.core.db)."""
    return _kept_page_rows(ContentType.objects.get_for_model(Contact).pk)


@functools.lru_cache(maxsize=4)
def _kept_page_rows(content_type_id: int) -> KeptRows:
    return KeptRows(_kept_list_rows(content_type_id))


@functools.lru_cache(maxsize=4)
def _kept_list_rows(content_type_id: int) -> QuerySet:
    """The rows' query, kept per process. Keyed by the id of the contacts' content type, which
    the tags' subquery names: a database whose content types were made again (a test's flush)
    gets a new one. Never evaluated itself: contact_list_rows hands out copies."""
    return Contact.objects.annotate(
        email_consent=latest_consent_action(), tag_names=tag_names(Contact)
    ).values_list(*LIST_ROW_FIELDS, "email_consent", "tag_names", named=True)


def contact_detail(*, user: User, pk: int) -> Contact:
    return get_prepared(
        contact_base(user=user)
        .select_related("owner", "owner__team", "account", "account__owner")
        .prefetch_related("tags")
        .annotate(can_edit=Exists(contact_editable(user=user).filter(pk=OuterRef("pk")))),
        pk=pk,
    )


def contact_consent_state(*, contact: Contact) -> list[dict]:
    """Per channel, the current channel-wide state (its latest entry); topics apart."""
    ledger = list(contact.consents.select_related("recorded_by", "topic").order_by("-at", "-id"))
    state = []
    for channel, label in Consent.Channel.choices:
        entries = [e for e in ledger if e.channel == channel and e.topic_id is None]
        state.append(
            {
                "channel": channel,
                "label": label,
                "current": entries[0] if entries else None,
                "granted": bool(entries) and entries[0].is_grant,
                "topics": _topic_states(ledger, channel),
            }
        )
    return state


def _topic_states(ledger: list[Consent], channel: str) -> list[Consent]:
    """The latest entry per topic of the channel (newest first), as the ledger has them."""
    latest: dict[int, Consent] = {}
    for entry in ledger:
        if entry.channel == channel and entry.topic_id is not None:
            latest.setdefault(entry.topic_id, entry)
    return list(latest.values())


def contact_consent_ledger(*, contact: Contact) -> QuerySet[Consent]:
    return contact.consents.select_related("recorded_by", "topic").order_by("-at", "-id")


def contact_has_consent(*, contact: Contact, channel: str = Consent.Channel.EMAIL) -> bool:
    return ConsentLatest.objects.filter(
        contact=contact, channel=channel, topic__isnull=True, action=Consent.Action.GRANT
    ).exists()


def contact_history(*, contact: Contact, limit: int = 20) -> list[dict]:
    records = list(
        contact.history.select_related("history_user").order_by("-history_date")[: limit + 1]
    )
    return history_entries(records, limit=limit)


def contacts_of_account(*, user: User, account_id: int) -> QuerySet[Contact]:
    return (
        contact_base(user=user)
        .filter(account_id=account_id, archived_at__isnull=True)
        .select_related("owner")
        .annotate(email_consent=latest_consent_action())
        .order_by("last_name", "first_name", "id")
    )


def contact_duplicates(
    *,
    email: str = "",
    phone_digits: tuple[str, ...] = (),
    first_name: str = "",
    last_name: str = "",
    account_id: int | None = None,
    exclude_pk: int | None = None,
) -> QuerySet[Contact]:
    """Contacts that are likely the same person: same email, a shared phone, or same name at
    the same account."""
    condition = Q(pk__in=[])
    if email:
        # The partial unique index on lower(email) WHERE email <> '' (iexact's UPPER() has none).
        condition |= Q(email_lower=email.lower()) & ~Q(email="")
    for number in (n for n in phone_digits if n):
        condition |= Q(phone_digits=number) | Q(mobile_digits=number)
    if first_name and account_id:
        condition |= Q(
            first_name__iexact=first_name, last_name__iexact=last_name, account_id=account_id
        )
    qs = (
        Contact.objects.alias(email_lower=Lower("email"))
        .filter(condition)
        .select_related("account", "owner")
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("last_name")[:10]


def import_runs(*, user: User) -> QuerySet[ImportRun]:
    """The imports a user may see: their own; an administrator, everybody's."""
    runs = ImportRun.objects.select_related("created_by", "undone_by")
    return runs if user.is_admin_role else runs.filter(created_by=user)
