import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Account, Status, Tier
from accounts.services import account_archive, account_create, account_restore, account_update
from accounts.tests.factories import AccountFactory
from crm.core.models import AuditEvent, Role
from crm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def valid_data(**overrides) -> dict:
    data = {
        "name": "Abarrotes Pérez",
        "legal_name": "Abarrotes Pérez S.A. de C.V.",
        "tax_id": "MAB9307148T4",
        "phone": "55 1234 5678",
        "email": "ventas@abarrotesperez.com.mx",
        "city": "Ciudad de México",
        "country": "MX",
        "status": Status.PROSPECT,
    }
    return {**data, **overrides}


# Create


def test_rep_creates_an_account_owned_by_themselves_with_normalised_fields(rep):
    account = account_create(actor=rep, data=valid_data(tax_id="mab-930714-8t4"), tags=["vip"])

    account.refresh_from_db()
    assert account.owner == rep
    assert account.tax_id == "MAB9307148T4"
    assert account.phone == "+525512345678"
    assert account.phone_digits == "525512345678"
    assert account.search_text == (
        "abarrotes perez abarrotes perez s.a. de c.v. mab9307148t4 ventas@abarrotesperez.com.mx"
    )
    assert list(account.tags.names()) == ["vip"]


def test_create_ignores_fields_that_are_not_editable(rep, other_rep):
    account = account_create(
        actor=rep, data=valid_data(owner=other_rep, tier_auto=Tier.A, archived_at="2020-01-01")
    )
    account.refresh_from_db()
    assert account.owner == rep
    assert account.tier_auto == Tier.D
    assert account.archived_at is None


def test_spanish_account_is_validated_with_spanish_rules(rep):
    account = account_create(
        actor=rep, data=valid_data(country="ES", tax_id="b58378431", phone="912 34 56 78")
    )
    assert account.tax_id == "B58378431"
    assert account.phone == "+34912345678"


def test_create_with_an_invalid_tax_id_raises_and_saves_nothing(rep):
    with pytest.raises(ValidationError) as exc_info:
        account_create(actor=rep, data=valid_data(tax_id="MAB9307148T5"), tags=["vip"])

    assert "tax_id" in exc_info.value.message_dict
    assert not Account.objects.exists()
    assert not Account.history.exists()


def test_create_with_an_invalid_phone_raises_and_saves_nothing(rep):
    with pytest.raises(ValidationError) as exc_info:
        account_create(actor=rep, data=valid_data(phone="123"))

    assert "phone" in exc_info.value.message_dict
    assert not Account.objects.exists()


def test_create_reports_tax_id_and_phone_errors_together(rep):
    with pytest.raises(ValidationError) as exc_info:
        account_create(actor=rep, data=valid_data(tax_id="XXX", phone="abc"))
    assert {"tax_id", "phone"} <= set(exc_info.value.message_dict)


def test_create_without_a_name_is_rejected(rep):
    with pytest.raises(ValidationError) as exc_info:
        account_create(actor=rep, data=valid_data(name=""))
    assert "name" in exc_info.value.message_dict
    assert not Account.objects.exists()


@pytest.mark.parametrize("role_fixture", ["support", "marketing"])
def test_support_and_marketing_cannot_create_accounts(request, role_fixture):
    user = request.getfixturevalue(role_fixture)
    with pytest.raises(PermissionDenied):
        account_create(actor=user, data=valid_data())
    assert not Account.objects.exists()


def test_rep_cannot_assign_a_new_account_to_someone_else(rep, other_rep, manager):
    for owner in (other_rep, manager):
        with pytest.raises(ValidationError) as exc_info:
            account_create(actor=rep, data=valid_data(), owner=owner)
        assert "owner" in exc_info.value.message_dict
    assert not Account.objects.exists()


def test_manager_assigns_accounts_to_their_team_but_not_to_other_teams(manager, rep, other_rep):
    account = account_create(actor=manager, data=valid_data(), owner=rep)
    assert account.owner == rep
    assert account_create(actor=manager, data=valid_data()).owner == manager

    with pytest.raises(ValidationError) as exc_info:
        account_create(actor=manager, data=valid_data(name="Otra"), owner=other_rep)
    assert "owner" in exc_info.value.message_dict
    assert not Account.objects.filter(name="Otra").exists()


def test_admin_assigns_accounts_to_any_active_rep_or_manager(admin_user, other_rep, manager):
    assert account_create(actor=admin_user, data=valid_data(), owner=other_rep).owner == other_rep
    assert account_create(actor=admin_user, data=valid_data(), owner=manager).owner == manager


def test_nobody_assigns_accounts_to_inactive_users_or_to_support(admin_user, support):
    inactive = UserFactory(role=Role.VENDEDOR, is_active=False)
    for owner in (inactive, support):
        with pytest.raises(ValidationError):
            account_create(actor=admin_user, data=valid_data(), owner=owner)
    assert not Account.objects.exists()


# Update


def test_rep_updates_their_own_account(rep):
    account = AccountFactory(owner=rep, name="Viejo nombre")

    updated = account_update(
        actor=rep, account=account, data={"name": "Nuevo Nombre", "phone": "+52 1 55-1234-5678"}
    )

    account.refresh_from_db()
    assert updated.pk == account.pk
    assert account.name == "Nuevo Nombre"
    assert account.phone == "+525512345678"
    assert "nuevo nombre" in account.search_text


def test_rep_cannot_update_another_reps_account(rep, other_rep):
    account = AccountFactory(owner=other_rep, name="Ajena")
    with pytest.raises(PermissionDenied):
        account_update(actor=rep, account=account, data={"name": "Mía"})
    account.refresh_from_db()
    assert account.name == "Ajena"


def test_manager_updates_accounts_of_their_team_but_not_of_other_teams(manager, rep, other_rep):
    team_account = AccountFactory(owner=rep)
    account_update(actor=manager, account=team_account, data={"status": Status.ACTIVE})
    team_account.refresh_from_db()
    assert team_account.status == Status.ACTIVE

    other_account = AccountFactory(owner=other_rep, status=Status.PROSPECT)
    with pytest.raises(PermissionDenied):
        account_update(actor=manager, account=other_account, data={"status": Status.ACTIVE})
    other_account.refresh_from_db()
    assert other_account.status == Status.PROSPECT


@pytest.mark.parametrize("role_fixture", ["support", "marketing"])
def test_support_and_marketing_cannot_update_accounts(request, role_fixture, rep):
    user = request.getfixturevalue(role_fixture)
    account = AccountFactory(owner=rep, name="Intacta")
    with pytest.raises(PermissionDenied):
        account_update(actor=user, account=account, data={"name": "Cambiada"})
    account.refresh_from_db()
    assert account.name == "Intacta"


def test_admin_updates_any_account_and_reassigns_it(admin_user, rep, other_rep):
    account = AccountFactory(owner=rep)
    account_update(actor=admin_user, account=account, data={"city": "Monterrey"}, owner=other_rep)
    account.refresh_from_db()
    assert account.city == "Monterrey"
    assert account.owner == other_rep


def test_rep_cannot_hand_their_account_to_another_rep(rep, other_rep):
    account = AccountFactory(owner=rep, name="Mía")
    with pytest.raises(ValidationError) as exc_info:
        account_update(actor=rep, account=account, data={"name": "Cambiada"}, owner=other_rep)
    assert "owner" in exc_info.value.message_dict
    account.refresh_from_db()
    assert account.owner == rep
    assert account.name == "Mía"


def test_manager_reassigns_within_the_team_only(manager, rep, other_rep):
    teammate = UserFactory(role=Role.VENDEDOR, team=rep.team)
    account = AccountFactory(owner=rep)

    account_update(actor=manager, account=account, data={}, owner=teammate)
    account.refresh_from_db()
    assert account.owner == teammate

    with pytest.raises(ValidationError):
        account_update(actor=manager, account=account, data={}, owner=other_rep)
    account.refresh_from_db()
    assert account.owner == teammate


def test_update_with_an_invalid_tax_id_raises_and_saves_nothing(rep):
    account = AccountFactory(owner=rep, name="Original", tax_id="MAB9307148T4", tags=["vip"])
    history_count = account.history.count()

    with pytest.raises(ValidationError) as exc_info:
        account_update(
            actor=rep,
            account=account,
            data={"name": "Cambiada", "tax_id": "MAB9307148T5"},
            tags=["otra"],
        )

    assert "tax_id" in exc_info.value.message_dict
    account.refresh_from_db()
    assert account.name == "Original"
    assert account.tax_id == "MAB9307148T4"
    assert list(account.tags.names()) == ["vip"]
    assert account.history.count() == history_count


def test_update_with_an_invalid_phone_raises_and_saves_nothing(rep):
    account = AccountFactory(owner=rep, phone="+525512345678")
    with pytest.raises(ValidationError) as exc_info:
        account_update(actor=rep, account=account, data={"phone": "55 1234", "city": "León"})
    assert "phone" in exc_info.value.message_dict
    account.refresh_from_db()
    assert account.phone == "+525512345678"
    assert account.city != "León"


def test_changing_the_country_revalidates_the_tax_id(rep):
    account = AccountFactory(owner=rep, tax_id="MAB9307148T4", country="MX")
    with pytest.raises(ValidationError) as exc_info:
        account_update(actor=rep, account=account, data={"country": "ES"})
    assert "tax_id" in exc_info.value.message_dict


def test_update_sets_and_clears_tags_only_when_given(rep):
    account = AccountFactory(owner=rep, tags=["vip", "norte"])
    account_update(actor=rep, account=account, data={"city": "Puebla"})
    assert sorted(account.tags.names()) == ["norte", "vip"]
    account_update(actor=rep, account=account, data={}, tags=[])
    assert list(account.tags.names()) == []


# Tier


def test_tier_is_the_automatic_one_unless_overridden(rep):
    account = AccountFactory(owner=rep, tier_auto=Tier.C)
    account.refresh_from_db()
    assert account.tier == Tier.C

    account_update(actor=rep, account=account, data={"tier_override": Tier.A})
    account.refresh_from_db()
    assert account.tier == Tier.A
    assert account.effective_tier == Tier.A

    account_update(actor=rep, account=account, data={"tier_override": ""})
    account.refresh_from_db()
    assert account.tier == Tier.C


def test_tier_override_must_be_a_known_tier(rep):
    account = AccountFactory(owner=rep)
    with pytest.raises(ValidationError) as exc_info:
        account_update(actor=rep, account=account, data={"tier_override": "Z"})
    assert "tier_override" in exc_info.value.message_dict


# Archive and restore


def test_archive_and_restore_keep_the_account_and_audit_the_archive(rep):
    account = AccountFactory(owner=rep)

    archived = account_archive(actor=rep, account=account)
    account.refresh_from_db()
    assert archived.is_archived
    assert account.archived_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.ARCHIVE)
    assert event.actor == rep
    assert event.target == f"accounts.account:{account.pk}"

    restored = account_restore(actor=rep, account=account)
    account.refresh_from_db()
    assert not restored.is_archived
    assert account.archived_at is None


def test_archive_twice_keeps_the_first_date_and_audits_once(rep):
    account = AccountFactory(owner=rep)
    first = account_archive(actor=rep, account=account).archived_at
    second = account_archive(actor=rep, account=account).archived_at
    assert first == second
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ARCHIVE).count() == 1


def test_restore_of_an_active_account_changes_nothing(rep):
    account = AccountFactory(owner=rep)
    history_count = account.history.count()
    account_restore(actor=rep, account=account)
    account.refresh_from_db()
    assert account.archived_at is None
    assert account.history.count() == history_count


@pytest.mark.parametrize("role_fixture", ["other_rep", "support", "marketing"])
def test_only_who_may_edit_archives_or_restores(request, role_fixture, rep):
    user = request.getfixturevalue(role_fixture)
    account = AccountFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        account_archive(actor=user, account=account)
    account.refresh_from_db()
    assert account.archived_at is None
    assert not AuditEvent.objects.exists()

    account_archive(actor=rep, account=account)
    with pytest.raises(PermissionDenied):
        account_restore(actor=user, account=account)
    account.refresh_from_db()
    assert account.archived_at is not None


def test_manager_and_admin_archive_team_accounts(manager, admin_user, rep):
    account = AccountFactory(owner=rep)
    account_archive(actor=manager, account=account)
    account_restore(actor=admin_user, account=account)
    account.refresh_from_db()
    assert account.archived_at is None


# History


def test_every_write_leaves_a_history_record_with_its_reason(rep):
    account = account_create(actor=rep, data=valid_data())
    account_update(actor=rep, account=account, data={"name": "Abarrotes Pérez Hermanos"})
    account_archive(actor=rep, account=account)
    account_restore(actor=rep, account=account)

    records = list(account.history.order_by("history_date", "history_id"))
    assert [r.history_type for r in records] == ["+", "~", "~", "~"]
    assert [r.history_change_reason for r in records] == ["Alta", None, "Archivada", "Restaurada"]
    assert records[0].name == "Abarrotes Pérez"
    assert records[1].name == "Abarrotes Pérez Hermanos"
    assert records[2].archived_at is not None
    assert records[3].archived_at is None


def test_history_records_who_made_the_change(rep, manager):
    account = account_create(actor=rep, data=valid_data())
    account_update(actor=manager, account=account, data={"status": Status.ACTIVE})

    records = list(account.history.order_by("history_date", "history_id"))
    assert [r.history_user for r in records] == [rep, manager]
