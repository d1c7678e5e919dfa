"""Every read of accounts: who sees what, with the relations each page needs."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Account
from crm.core.db import get_prepared
from crm.core.history import history_entries
from crm.core.models import User
from crm.core.permissions import editable_by_owner_q
from crm.core.search_query import tag_names, tag_prefetch, text_query_q

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "tier": ("tier", "name", "id"),
    "city": ("city", "name", "id"),
    "-updated": ("-updated_at", "-id"),
    "owner": ("owner__first_name", "owner__last_name", "name", "id"),
}


def account_base(*, user: User) -> QuerySet[Account]:
    """The shared portfolio: every role reads every account (DESIGN.md §1)."""
    return Account.objects.all()


def account_editable(*, user: User) -> QuerySet[Account]:
    return Account.objects.filter(editable_by_owner_q(user))


def account_api_list(*, user: User, filters: dict | None = None) -> QuerySet[Account]:
    """The accounts of the list with these filters for the API (accounts/api.py), with their
    `tag_names` in the row's own query. The answer names the owner by id only: no owner joined,
    no second query for the tags."""
    return (
        account_list(user=user, filters=filters)
        .select_related(None)
        .prefetch_related(None)
        .annotate(tag_names=tag_names(Account))
    )


def account_list(*, user: User, filters: dict | None = None) -> QuerySet[Account]:
    filters = filters or {}
    qs = account_base(user=user).select_related("owner").prefetch_related(tag_prefetch())
    if filters.get("archived"):
        qs = qs.filter(archived_at__isnull=False)
    else:
        qs = qs.filter(archived_at__isnull=True)
    if condition := text_query_q(
        filters.get("q", ""), text_field="search_text", digit_fields=("phone_digits",)
    ):
        qs = qs.filter(condition)
    for field in ("status", "industry", "size", "relationship", "tier", "country"):
        if values := filters.get(field):
            qs = qs.filter(**{f"{field}__in": values})
    if owner := filters.get("owner"):
        qs = qs.filter(owner=owner)
    if filters.get("mine"):
        qs = qs.filter(owner=user)
    for field in ("city", "region"):
        if value := filters.get(field):
            qs = qs.filter(**{f"{field}__iexact": value})
    if tags := filters.get("tags"):
        qs = qs.filter(tags__name__in=tags).distinct()
    return qs.order_by(*SORTS.get(filters.get("sort") or "name", SORTS["name"]))


# What a row of the account list shows (accounts/account_list.html), and nothing more.
LIST_ROW_FIELDS = (
    "name",
    "archived_at",
    "industry",
    "tax_id",
    "tier",
    "status",
    "city",
    "region",
    "phone",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def account_list_rows(*, user: User) -> QuerySet[Account]:
    """The rows of a page of the account list, read by id after `account_list` found the page's
    ids (crm.core.forms_utils.paginate): the columns the row shows and its tags' names, in one
    query."""
    return (
        account_base(user=user)
        .select_related("owner")
        .only(*LIST_ROW_FIELDS)
        .annotate(tag_names=tag_names(Account))
    )


def account_detail(*, user: User, pk: int) -> Account:
    """The account with what its sheet shows, and whether this user may change it."""
    return get_prepared(
        account_base(user=user)
        .select_related("owner", "owner__team")
        .prefetch_related("tags")
        .annotate(can_edit=Exists(account_editable(user=user).filter(pk=OuterRef("pk")))),
        pk=pk,
    )


def account_history(*, account: Account, limit: int = 20) -> list[dict]:
    """The latest changes with who made them and what changed, newest first."""
    records = list(
        account.history.select_related("history_user").order_by("-history_date")[: limit + 1]
    )
    return history_entries(records, limit=limit)


def account_duplicates(
    *, tax_id: str = "", email: str = "", phone_digits: str = "", exclude_pk: int | None = None
) -> QuerySet[Account]:
    """Accounts that are likely the same company: same tax id, email or phone."""
    condition = Q(pk__in=[])
    if tax_id:
        condition |= Q(tax_id=tax_id)
    if email:
        condition |= Q(email__iexact=email)
    if phone_digits:
        condition |= Q(phone_digits=phone_digits)
    qs = Account.objects.filter(condition).select_related("owner")
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("name")[:10]


def account_choices(*, user: User) -> QuerySet[Account]:
    return account_base(user=user).filter(archived_at__isnull=True).only("id", "name")


def account_by_pk(*, user: User, pk: int) -> Account | None:
    return account_base(user=user).filter(pk=pk).first()
