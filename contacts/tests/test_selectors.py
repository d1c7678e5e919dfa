from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.models import Consent, Lifecycle
from contacts.selectors import (
    contact_consent_ledger,
    contact_consent_state,
    contact_detail,
    contact_duplicates,
    contact_editable,
    contact_filtered,
    contact_history,
    contact_list,
    contacts_of_account,
)
from contacts.services import consent_record, contact_update
from contacts.tests.factories import ConsentFactory, ContactFactory

pytestmark = pytest.mark.django_db


def names(queryset) -> list[str]:
    return [contact.full_name for contact in queryset]


# Visibility


@pytest.mark.parametrize(
    "role_fixture", ["rep", "other_rep", "manager", "support", "marketing", "admin_user"]
)
def test_every_role_reads_the_shared_portfolio(request, role_fixture, rep, other_rep):
    user = request.getfixturevalue(role_fixture)
    ContactFactory(owner=rep, first_name="Ana", last_name="Uno")
    ContactFactory(owner=other_rep, first_name="Beto", last_name="Dos")
    assert names(contact_list(user=user)) == ["Beto Dos", "Ana Uno"]


def test_editable_contacts_per_role(rep, other_rep, manager, support, marketing, admin_user):
    mine = ContactFactory(owner=rep)
    managers_own = ContactFactory(owner=manager)
    other = ContactFactory(owner=other_rep)

    assert set(contact_editable(user=rep)) == {mine}
    assert set(contact_editable(user=manager)) == {mine, managers_own}
    assert set(contact_editable(user=other_rep)) == {other}
    assert set(contact_editable(user=support)) == set()
    assert set(contact_editable(user=marketing)) == set()
    assert set(contact_editable(user=admin_user)) == {mine, managers_own, other}


def test_detail_says_whether_the_user_may_edit(rep, other_rep, manager, marketing):
    contact = ContactFactory(owner=rep)
    assert contact_detail(user=rep, pk=contact.pk).can_edit is True
    assert contact_detail(user=manager, pk=contact.pk).can_edit is True
    assert contact_detail(user=other_rep, pk=contact.pk).can_edit is False
    assert contact_detail(user=marketing, pk=contact.pk).can_edit is False


# Search


def test_search_by_name_ignores_accents_and_case(rep):
    ContactFactory(owner=rep, first_name="José", last_name="Pérez", email="jp@ejemplo.mx")
    ContactFactory(owner=rep, first_name="Josefina", last_name="Núñez", email="jn@ejemplo.mx")

    assert names(contact_list(user=rep, filters={"q": "perez"})) == ["José Pérez"]
    assert names(contact_list(user=rep, filters={"q": "JOSE PEREZ"})) == ["José Pérez"]
    assert names(contact_list(user=rep, filters={"q": "nunez"})) == ["Josefina Núñez"]
    assert names(contact_list(user=rep, filters={"q": "jose"})) == ["Josefina Núñez", "José Pérez"]


def test_search_by_email(rep):
    ContactFactory(owner=rep, first_name="Ana", last_name="A", email="ana@fabrica.mx")
    ContactFactory(owner=rep, first_name="Bea", last_name="B", email="bea@taller.mx")
    assert names(contact_list(user=rep, filters={"q": "FABRICA.MX"})) == ["Ana A"]


@pytest.mark.parametrize(
    "query", ["55 1234 5678", "+52 1 55-1234-5678", "5512345678", "(55) 1234-5678", "345678"]
)
def test_search_by_phone_or_mobile_in_any_format(rep, query):
    ContactFactory(owner=rep, first_name="Fijo", last_name="A", phone="+525512345678", mobile="")
    ContactFactory(owner=rep, first_name="Móvil", last_name="B", phone="", mobile="+525512345678")
    ContactFactory(owner=rep, first_name="Otro", last_name="C", phone="+523398765432", mobile="")
    assert names(contact_list(user=rep, filters={"q": query})) == ["Fijo A", "Móvil B"]


# Filters


def test_archived_contacts_leave_the_list_and_have_their_own(rep):
    ContactFactory(owner=rep, first_name="Activo", last_name="A")
    ContactFactory(owner=rep, first_name="Archivado", last_name="B", archived_at=timezone.now())
    assert names(contact_list(user=rep)) == ["Activo A"]
    assert names(contact_list(user=rep, filters={"archived": True})) == ["Archivado B"]


def test_consent_filter_reads_the_latest_email_entry(rep):
    granted = ContactFactory(owner=rep, first_name="Otorgó", last_name="A")
    withdrawn = ContactFactory(owner=rep, first_name="Retiró", last_name="B")
    regranted = ContactFactory(owner=rep, first_name="Volvió", last_name="C")
    ContactFactory(owner=rep, first_name="Nunca", last_name="D")
    only_sms = ContactFactory(owner=rep, first_name="Solo SMS", last_name="E")

    now = timezone.now()
    ConsentFactory(contact=granted, action="grant", at=now - timedelta(days=3))
    ConsentFactory(contact=withdrawn, action="grant", at=now - timedelta(days=3))
    ConsentFactory(contact=withdrawn, action="withdraw", at=now - timedelta(days=1))
    ConsentFactory(contact=regranted, action="withdraw", at=now - timedelta(days=3))
    ConsentFactory(contact=regranted, action="grant", at=now - timedelta(days=1))
    ConsentFactory(contact=only_sms, channel=Consent.Channel.SMS, action="grant")

    def listed(consent):
        return names(contact_list(user=rep, filters={"consent": consent}))

    assert listed("grant") == ["Otorgó A", "Volvió C"]
    assert listed("withdraw") == ["Retiró B"]
    assert listed("none") == ["Nunca D", "Solo SMS E"]
    states = {c.first_name: c.email_consent for c in contact_list(user=rep)}
    assert states == {
        "Otorgó": "grant",
        "Retiró": "withdraw",
        "Volvió": "grant",
        "Nunca": None,
        "Solo SMS": None,
    }


def test_consent_entries_at_the_same_instant_are_ordered_by_insertion(rep):
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    consent_record(contact=contact, action="grant", source="formulario", at=now)
    consent_record(contact=contact, action="withdraw", source="baja", at=now)
    assert contact_list(user=rep).get().email_consent == "withdraw"


def test_filter_by_lifecycle_source_owner_and_mine(rep, other_rep):
    ContactFactory(owner=rep, first_name="Lead", last_name="A", lifecycle=Lifecycle.LEAD)
    ContactFactory(owner=rep, first_name="Mql", last_name="B", lifecycle=Lifecycle.MQL)
    ContactFactory(owner=other_rep, first_name="Ajeno", last_name="C", lifecycle=Lifecycle.MQL)

    assert names(contact_list(user=rep, filters={"lifecycle": [Lifecycle.MQL]})) == [
        "Mql B",
        "Ajeno C",
    ]
    assert names(contact_list(user=rep, filters={"owner": other_rep.pk})) == ["Ajeno C"]
    assert names(contact_list(user=rep, filters={"mine": True})) == ["Lead A", "Mql B"]


def test_filter_by_account_city_score_and_tags(rep):
    account = AccountFactory(owner=rep)
    ContactFactory(
        owner=rep, first_name="Sí", last_name="A", account=account, city="Querétaro",
        lead_score=80, tags=["vip", "norte"],
    )  # fmt: skip
    ContactFactory(owner=rep, first_name="No", last_name="B", city="Querétaro", lead_score=20)

    assert names(contact_list(user=rep, filters={"account": account.pk})) == ["Sí A"]
    assert names(contact_list(user=rep, filters={"city": "querétaro"})) == ["Sí A", "No B"]
    assert names(contact_list(user=rep, filters={"min_score": 50})) == ["Sí A"]
    assert names(contact_list(user=rep, filters={"min_score": 0})) == ["Sí A", "No B"]
    assert names(contact_list(user=rep, filters={"tags": ["vip", "norte"]})) == ["Sí A"]


def test_sort_by_score(rep):
    ContactFactory(owner=rep, first_name="Bajo", last_name="A", lead_score=5)
    ContactFactory(owner=rep, first_name="Alto", last_name="B", lead_score=95)
    assert names(contact_list(user=rep, filters={"sort": "-score"})) == ["Alto B", "Bajo A"]


def test_list_runs_a_constant_number_of_queries(rep, django_assert_max_num_queries):
    for index in range(30):
        contact = ContactFactory(owner=rep, last_name=f"Apellido {index:02d}", tags=["vip"])
        ConsentFactory(contact=contact)
    with django_assert_max_num_queries(2):  # contacts with owner, account, consent; then tags
        rows = list(contact_list(user=rep))
        assert len(rows) == 30
        assert all(row.email_consent == "grant" for row in rows)
        assert all(row.account.owner_id == rep.pk for row in rows)
        assert [item.tag.name for row in rows for item in row.tag_items] == ["vip"] * 30


def test_contacts_of_account_skip_archived_ones(rep):
    account = AccountFactory(owner=rep)
    ContactFactory(owner=rep, account=account, first_name="Activo", last_name="A")
    ContactFactory(
        owner=rep, account=account, first_name="Archivado", last_name="B",
        archived_at=timezone.now(),
    )  # fmt: skip
    ContactFactory(owner=rep, first_name="Otra cuenta", last_name="C")
    assert names(contacts_of_account(user=rep, account_id=account.pk)) == ["Activo A"]


# Consent state and ledger


def test_consent_state_and_ledger(rep):
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    grant = ConsentFactory(contact=contact, action="grant", at=now - timedelta(days=2))
    withdraw = ConsentFactory(contact=contact, action="withdraw", at=now - timedelta(days=1))
    whatsapp = ConsentFactory(contact=contact, channel="whatsapp", action="grant", at=now)

    state = {row["channel"]: row for row in contact_consent_state(contact=contact)}
    assert state["email"]["current"] == withdraw
    assert state["email"]["granted"] is False
    assert state["whatsapp"]["granted"] is True
    assert state["sms"]["current"] is None
    assert list(contact_consent_ledger(contact=contact)) == [whatsapp, withdraw, grant]


# Duplicates


def test_duplicates_by_email_phone_or_name_at_the_same_account(rep, other_rep):
    account = AccountFactory(owner=rep)
    by_email = ContactFactory(owner=other_rep, email="ana@ejemplo.mx")
    by_phone = ContactFactory(owner=rep, phone="+525512345678")
    by_mobile = ContactFactory(owner=rep, phone="", mobile="+525587654321")
    by_name = ContactFactory(owner=rep, first_name="Ana", last_name="López", account=account)
    ContactFactory(owner=rep, first_name="Ana", last_name="López")  # another company

    found = contact_duplicates(
        email="ANA@ejemplo.mx",
        phone_digits=("525512345678", "525587654321", ""),
        first_name="ana",
        last_name="lópez",
        account_id=account.pk,
    )
    assert set(found) == {by_email, by_phone, by_mobile, by_name}


def test_duplicates_exclude_the_contact_itself_and_ignore_empty_keys(rep):
    contact = ContactFactory(owner=rep, email="ana@ejemplo.mx")
    ContactFactory(owner=rep, email="", phone="", mobile="")
    assert list(contact_duplicates(email="ana@ejemplo.mx", exclude_pk=contact.pk)) == []
    assert list(contact_duplicates(phone_digits=("", ""))) == []
    assert list(contact_duplicates(first_name="Ana")) == []  # a name alone is not enough


# History


def test_history_shows_what_changed(rep):
    contact = ContactFactory(owner=rep, lifecycle=Lifecycle.LEAD)
    contact_update(actor=rep, contact=contact, data={"lifecycle": Lifecycle.SQL})
    entries = contact_history(contact=contact)
    assert len(entries) == 2
    [change] = entries[0]["changes"]
    assert (str(change["field"]), change["old"], change["new"]) == (
        "etapa",
        "Lead",
        "SQL (calificado por ventas)",
    )


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"sort": "-score"},
        {"sort": "account"},
        {"consent": "grant"},
        {"tags": ["feria"]},
        {"archived": True},
        {"q": "ana"},
        {"lifecycle": [Lifecycle.MQL], "min_score": 20},
    ],
)
def test_the_list_pages_ids_come_from_the_same_contacts_in_the_same_order(rep, filters):
    for i, name in enumerate(["Ana", "Beto", "Ana María", "Carla", "Dora"]):
        contact = ContactFactory(
            owner=rep,
            first_name=name,
            last_name=f"Ruiz {i % 2}",
            lead_score=10 * i,
            lifecycle=Lifecycle.MQL if i % 2 else Lifecycle.LEAD,
            tags=["feria"] if i < 3 else [],
            archived_at=timezone.now() if i == 4 else None,
        )
        if i % 3 == 0:
            ConsentFactory(contact=contact)
    ids = list(contact_filtered(user=rep, filters=filters).values_list("pk", flat=True))
    assert ids == [contact.pk for contact in contact_list(user=rep, filters=filters)]
    assert ids
