import pytest
from django.utils import timezone

from accounts.models import Account, Status, Tier
from accounts.selectors import (
    account_choices,
    account_detail,
    account_duplicates,
    account_editable,
    account_history,
    account_list,
)
from accounts.services import account_update
from accounts.tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def names(queryset) -> list[str]:
    return [account.name for account in queryset]


# Visibility


@pytest.mark.parametrize(
    "role_fixture", ["rep", "other_rep", "manager", "support", "marketing", "admin_user"]
)
def test_every_role_reads_the_shared_portfolio(request, role_fixture, rep, other_rep):
    user = request.getfixturevalue(role_fixture)
    AccountFactory(owner=rep, name="Uno")
    AccountFactory(owner=other_rep, name="Dos")
    assert names(account_list(user=user)) == ["Dos", "Uno"]


def test_editable_accounts_per_role(rep, other_rep, manager, support, marketing, admin_user):
    mine = AccountFactory(owner=rep)
    managers_own = AccountFactory(owner=manager)
    other = AccountFactory(owner=other_rep)

    def editable(user):
        return set(account_editable(user=user))

    assert editable(rep) == {mine}
    assert editable(other_rep) == {other}
    assert editable(manager) == {mine, managers_own}
    assert editable(support) == set()
    assert editable(marketing) == set()
    assert editable(admin_user) == {mine, managers_own, other}


def test_detail_says_whether_the_user_may_edit(rep, other_rep, manager, support):
    account = AccountFactory(owner=rep)
    assert account_detail(user=rep, pk=account.pk).can_edit is True
    assert account_detail(user=manager, pk=account.pk).can_edit is True
    assert account_detail(user=other_rep, pk=account.pk).can_edit is False
    assert account_detail(user=support, pk=account.pk).can_edit is False


def test_detail_of_a_missing_account_raises_does_not_exist(rep):
    with pytest.raises(Account.DoesNotExist):
        account_detail(user=rep, pk=999999)


# Search


def test_search_by_name_ignores_accents_and_case(rep):
    AccountFactory(owner=rep, name="Ferretería Pérez", legal_name="")
    AccountFactory(owner=rep, name="Ferretería López", legal_name="")

    assert names(account_list(user=rep, filters={"q": "perez"})) == ["Ferretería Pérez"]
    assert names(account_list(user=rep, filters={"q": "PÉREZ ferreteria"})) == ["Ferretería Pérez"]
    assert names(account_list(user=rep, filters={"q": "ferre"})) == [
        "Ferretería López",
        "Ferretería Pérez",
    ]
    assert names(account_list(user=rep, filters={"q": "perez lopez"})) == []


def test_search_by_legal_name_and_email(rep):
    AccountFactory(
        owner=rep, name="La Güera", legal_name="Distribuidora Ñandú S.A.", email="hola@guera.mx"
    )
    AccountFactory(owner=rep, name="Otra", legal_name="Otra S.A.", email="otra@otra.mx")
    assert names(account_list(user=rep, filters={"q": "nandu"})) == ["La Güera"]
    assert names(account_list(user=rep, filters={"q": "hola@guera"})) == ["La Güera"]


@pytest.mark.parametrize(
    "query", ["55 1234 5678", "+52 1 55-1234-5678", "5512345678", "+525512345678", "1234 5678"]
)
def test_search_by_phone_in_any_format(rep, query):
    AccountFactory(owner=rep, name="Con teléfono", phone="+525512345678")
    AccountFactory(owner=rep, name="Otro teléfono", phone="+523398765432")
    assert names(account_list(user=rep, filters={"q": query})) == ["Con teléfono"]


def test_search_by_three_digits_of_the_phone(rep):
    AccountFactory(owner=rep, name="Con teléfono", phone="+525512345678")
    AccountFactory(owner=rep, name="Otro teléfono", phone="+523398765432")
    assert names(account_list(user=rep, filters={"q": "678"})) == ["Con teléfono"]


@pytest.mark.parametrize("query", ["MAB9307148T4", "mab9307148t4"])
def test_search_by_tax_id(rep, query):
    AccountFactory(owner=rep, name="Con RFC", tax_id="MAB9307148T4")
    AccountFactory(owner=rep, name="Otro RFC", tax_id="GODE561231GR8")
    assert names(account_list(user=rep, filters={"q": query})) == ["Con RFC"]


def test_an_empty_query_lists_everything(rep):
    AccountFactory.create_batch(3, owner=rep)
    assert account_list(user=rep, filters={"q": "   "}).count() == 3


# Filters


def test_archived_accounts_leave_the_list_and_have_their_own(rep):
    AccountFactory(owner=rep, name="Activa")
    AccountFactory(owner=rep, name="Archivada", archived_at=timezone.now())
    assert names(account_list(user=rep)) == ["Activa"]
    assert names(account_list(user=rep, filters={"archived": True})) == ["Archivada"]
    assert names(account_choices(user=rep)) == ["Activa"]


def test_filter_by_status(rep):
    AccountFactory(owner=rep, name="A", status=Status.ACTIVE)
    AccountFactory(owner=rep, name="B", status=Status.PROSPECT)
    AccountFactory(owner=rep, name="C", status=Status.INACTIVE)
    filters = {"status": [Status.ACTIVE, Status.INACTIVE]}
    assert names(account_list(user=rep, filters=filters)) == ["A", "C"]


def test_filter_by_tier_uses_the_override_over_the_automatic_tier(rep):
    AccountFactory(owner=rep, name="Auto A", tier_auto=Tier.A)
    AccountFactory(owner=rep, name="Subida a A", tier_auto=Tier.C, tier_override=Tier.A)
    AccountFactory(owner=rep, name="Bajada a B", tier_auto=Tier.A, tier_override=Tier.B)
    assert names(account_list(user=rep, filters={"tier": [Tier.A]})) == ["Auto A", "Subida a A"]
    assert names(account_list(user=rep, filters={"tier": [Tier.B]})) == ["Bajada a B"]
    assert names(account_list(user=rep, filters={"sort": "tier"})) == [
        "Auto A",
        "Subida a A",
        "Bajada a B",
    ]


def test_filter_by_owner_and_mine(rep, other_rep):
    AccountFactory(owner=rep, name="Mía")
    AccountFactory(owner=other_rep, name="Ajena")
    assert names(account_list(user=rep, filters={"owner": other_rep.pk})) == ["Ajena"]
    assert names(account_list(user=rep, filters={"mine": True})) == ["Mía"]


def test_filter_by_tags_lists_each_account_once(rep):
    AccountFactory(owner=rep, name="Dos etiquetas", tags=["vip", "norte"])
    AccountFactory(owner=rep, name="Solo norte", tags=["norte"])
    AccountFactory(owner=rep, name="Sin etiquetas")
    assert names(account_list(user=rep, filters={"tags": ["vip", "norte"]})) == [
        "Dos etiquetas",
        "Solo norte",
    ]
    assert names(account_list(user=rep, filters={"tags": ["vip"]})) == ["Dos etiquetas"]


def test_filter_by_city_ignores_case(rep):
    AccountFactory(owner=rep, name="GDL", city="Guadalajara")
    AccountFactory(owner=rep, name="MTY", city="Monterrey")
    assert names(account_list(user=rep, filters={"city": "guadalajara"})) == ["GDL"]


def test_filters_combine(rep, other_rep):
    AccountFactory(owner=rep, name="Sí", status=Status.ACTIVE, city="Puebla", tags=["vip"])
    AccountFactory(owner=rep, name="Otra ciudad", status=Status.ACTIVE, city="León", tags=["vip"])
    AccountFactory(owner=other_rep, name="Otro dueño", status=Status.ACTIVE, city="Puebla")
    filters = {"status": [Status.ACTIVE], "city": "Puebla", "owner": rep.pk, "tags": ["vip"]}
    assert names(account_list(user=rep, filters=filters)) == ["Sí"]


def test_sorts(rep, other_rep):
    AccountFactory(owner=rep, name="Beta", city="Zacatecas")
    AccountFactory(owner=rep, name="Alfa", city="Mérida")
    assert names(account_list(user=rep, filters={"sort": "-name"})) == ["Beta", "Alfa"]
    assert names(account_list(user=rep, filters={"sort": "city"})) == ["Alfa", "Beta"]
    assert names(account_list(user=rep, filters={"sort": "no-existe"})) == ["Alfa", "Beta"]


def test_list_runs_a_constant_number_of_queries(rep, django_assert_max_num_queries):
    for index in range(30):
        AccountFactory(owner=rep, name=f"Cuenta {index:02d}", tags=["vip"])
    with django_assert_max_num_queries(2):  # the accounts with their owners, then the tags
        rows = list(account_list(user=rep))
        assert [item.tag.name for row in rows for item in row.tag_items] == ["vip"] * 30
        assert {row.owner.username for row in rows} == {rep.username}


# Duplicates


def test_duplicates_by_tax_id_email_or_phone(rep, other_rep):
    same_tax_id = AccountFactory(owner=rep, tax_id="MAB9307148T4")
    same_email = AccountFactory(owner=other_rep, email="Ventas@Empresa.mx")
    same_phone = AccountFactory(owner=rep, phone="+525512345678")
    AccountFactory(owner=rep)

    found = account_duplicates(
        tax_id="MAB9307148T4", email="ventas@empresa.mx", phone_digits="525512345678"
    )
    assert set(found) == {same_tax_id, same_email, same_phone}
    assert set(account_duplicates(tax_id="MAB9307148T4")) == {same_tax_id}


def test_duplicates_exclude_the_account_itself_and_ignore_empty_keys(rep):
    account = AccountFactory(owner=rep, tax_id="MAB9307148T4", email="", phone="")
    AccountFactory(owner=rep, tax_id="", email="", phone="")
    assert list(account_duplicates(tax_id="MAB9307148T4", exclude_pk=account.pk)) == []
    assert list(account_duplicates()) == []


def test_duplicates_include_archived_accounts(rep):
    archived = AccountFactory(owner=rep, tax_id="MAB9307148T4", archived_at=timezone.now())
    assert list(account_duplicates(tax_id="MAB9307148T4")) == [archived]


# History


def test_history_lists_changes_newest_first_with_readable_values(rep):
    account = AccountFactory(owner=rep, name="Antes", status=Status.PROSPECT)
    account_update(actor=rep, account=account, data={"name": "Después", "status": Status.ACTIVE})

    entries = account_history(account=account)

    assert len(entries) == 2
    assert entries[0]["record"].history_type == "~"
    changes = {str(change["field"]): change for change in entries[0]["changes"]}
    assert changes["nombre comercial"]["old"] == "Antes"
    assert changes["nombre comercial"]["new"] == "Después"
    assert changes["situación"]["old"] == "Prospecto"
    assert changes["situación"]["new"] == "Activo"
    assert entries[1]["record"].history_type == "+"
    assert entries[1]["changes"] == []


def test_history_is_limited_and_diffs_the_oldest_shown_entry(rep):
    account = AccountFactory(owner=rep, city="Uno")
    for city in ("Dos", "Tres", "Cuatro"):
        account_update(actor=rep, account=account, data={"city": city})

    entries = account_history(account=account, limit=2)

    assert len(entries) == 2
    assert [entry["changes"][0]["new"] for entry in entries] == ["Cuatro", "Tres"]
    assert entries[1]["changes"][0]["old"] == "Dos"
