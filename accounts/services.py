"""Every write to accounts: validated, atomic, by an actor who may make it."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from crm.core.audit import audit
from crm.core.concurrency import check_version
from crm.core.models import AuditEvent, User
from crm.core.permissions import assignable_owners, can_create_records, editable_by_owner_q

ACCOUNT_FIELDS = (
    "name",
    "legal_name",
    "tax_id",
    "industry",
    "size",
    "relationship",
    "status",
    "phone",
    "email",
    "website",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
    "tier_override",
)


def _check_owner(*, actor: User, owner: User) -> None:
    if not assignable_owners(actor).filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": _("No puedes asignar registros a %(user)s.") % {"user": owner}}
        )


def _check_can_edit(*, actor: User, account: Account) -> None:
    if not Account.objects.filter(editable_by_owner_q(actor), pk=account.pk).exists():
        raise PermissionDenied(_("No puedes modificar esta cuenta."))


def _check_not_merged(account: Account) -> None:
    """An account merged into another (crm.top.merge) stays as it was, archived."""
    if account.merged_into_id is not None:
        raise ValidationError(_("Esta cuenta se fusionó en otra: modifica la que se conservó."))


@transaction.atomic
def account_create(
    *, actor: User, data: dict, owner: User | None = None, tags: list[str] | None = None
) -> Account:
    if not can_create_records(actor):
        raise PermissionDenied(_("Tu rol no puede crear cuentas."))
    owner = owner or actor
    _check_owner(actor=actor, owner=owner)
    account = Account(owner=owner, **{k: v for k, v in data.items() if k in ACCOUNT_FIELDS})
    account.full_clean()
    account._change_reason = _("Alta")
    account._history_user = actor
    account.save()
    if tags:
        account.tags.set(tags)
    return account


@transaction.atomic
def account_update(
    *,
    actor: User,
    account: Account,
    data: dict,
    owner: User | None = None,
    tags: list[str] | None = None,
    version: str | None = None,
) -> Account:
    """`version`: what the edit form was loaded with; a stale one raises StaleEdit
    (crm.core.concurrency), nothing written."""
    _check_can_edit(actor=actor, account=account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    _check_not_merged(account)
    check_version(account, version, fields=(*ACCOUNT_FIELDS, "owner", "tags"))
    for field, value in data.items():
        if field in ACCOUNT_FIELDS:
            setattr(account, field, value)
    if owner is not None and owner.pk != account.owner_id:
        _check_owner(actor=actor, owner=owner)
        account.owner = owner
    account._history_user = actor
    account.full_clean()
    account.save()
    if tags is not None:
        account.tags.set(tags)
    return account


@transaction.atomic
def account_archive(*, actor: User, account: Account) -> Account:
    """Archive instead of delete: the account leaves the lists, its history stays."""
    _check_can_edit(actor=actor, account=account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.archived_at is None:
        account.archived_at = timezone.now()
        account._change_reason = _("Archivada")
        account._history_user = actor
        account.save(update_fields=["archived_at", "updated_at", "search_text", "phone_digits"])
        audit(actor=actor, action=AuditEvent.Action.ARCHIVE, target=account)
    return account


@transaction.atomic
def account_restore(*, actor: User, account: Account) -> Account:
    _check_can_edit(actor=actor, account=account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    _check_not_merged(account)
    if account.archived_at is not None:
        account.archived_at = None
        account._change_reason = _("Restaurada")
        account._history_user = actor
        account.save(update_fields=["archived_at", "updated_at", "search_text", "phone_digits"])
    return account
