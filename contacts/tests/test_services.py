from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.models import Consent, ConsentLatest, Contact, Lifecycle
from contacts.selectors import contact_consent_state, contact_has_consent
from contacts.services import (
    consent_latest_rebuild,
    consent_record,
    contact_archive,
    contact_create,
    contact_restore,
    contact_update,
)
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import AuditEvent, Role
from crm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def valid_data(**overrides) -> dict:
    data = {
        "first_name": "José",
        "last_name": "Pérez Núñez",
        "email": "jose.perez@ejemplo.com.mx",
        "phone": "55 1234 5678",
        "mobile": "",
        "lifecycle": Lifecycle.LEAD,
        "country": "MX",
    }
    return {**data, **overrides}


# Create


def test_rep_creates_a_contact_with_normalised_fields(rep):
    account = AccountFactory(owner=rep)
    contact = contact_create(
        actor=rep,
        data=valid_data(
            email="Jose.Perez@Ejemplo.COM.mx", mobile="+52 1 33-1234-5678", account=account
        ),
        tags=["feria-2025"],
    )

    contact.refresh_from_db()
    assert contact.owner == rep
    assert contact.account == account
    assert contact.email == "jose.perez@ejemplo.com.mx"
    assert contact.phone == "+525512345678"
    assert contact.mobile == "+523312345678"
    assert contact.phone_digits == "525512345678"
    assert contact.mobile_digits == "523312345678"
    assert contact.search_text == "jose perez nunez jose.perez@ejemplo.com.mx"
    assert list(contact.tags.names()) == ["feria-2025"]


def test_email_is_stored_without_surrounding_spaces(rep):
    """Contact.clean() strips the email: pasted or imported addresses often carry spaces."""
    contact = contact_create(actor=rep, data=valid_data(email="  Jose.Perez@Ejemplo.com.mx "))
    contact.refresh_from_db()
    assert contact.email == "jose.perez@ejemplo.com.mx"


def test_phones_are_read_in_the_contacts_country(rep):
    contact = contact_create(
        actor=rep, data=valid_data(country="ES", phone="612 34 56 78", mobile="91 234 56 78")
    )
    assert contact.phone == "+34612345678"
    assert contact.mobile == "+34912345678"


def test_an_invalid_phone_raises_on_its_field_and_saves_nothing(rep):
    with pytest.raises(ValidationError) as exc_info:
        contact_create(actor=rep, data=valid_data(mobile="12345"), tags=["x"])
    assert set(exc_info.value.message_dict) == {"mobile"}
    assert not Contact.objects.exists()
    assert not Contact.history.exists()


def test_a_malformed_email_is_rejected(rep):
    with pytest.raises(ValidationError) as exc_info:
        contact_create(actor=rep, data=valid_data(email="jose@"))
    assert "email" in exc_info.value.message_dict
    assert not Contact.objects.exists()


def test_lead_score_above_100_is_rejected(rep):
    with pytest.raises(ValidationError):
        contact_create(actor=rep, data=valid_data(lead_score=101))
    assert not Contact.objects.exists()


def test_email_is_unique_whatever_its_case(rep, other_rep):
    ContactFactory(owner=other_rep, email="ana.lopez@ejemplo.com.mx")

    with pytest.raises(ValidationError) as exc_info:
        contact_create(actor=rep, data=valid_data(email="Ana.Lopez@EJEMPLO.com.mx"))

    assert "email" in exc_info.value.message_dict
    assert Contact.objects.count() == 1


def test_email_unique_error_says_so_in_spanish(rep, other_rep):
    ContactFactory(owner=other_rep, email="ana.lopez@ejemplo.com.mx")
    with pytest.raises(ValidationError) as exc_info:
        contact_create(actor=rep, data=valid_data(email="ANA.LOPEZ@ejemplo.com.mx"))
    assert "Ya existe un contacto con este correo electrónico." in exc_info.value.messages


def test_updating_to_another_contacts_email_is_rejected_and_saves_nothing(rep):
    ContactFactory(owner=rep, email="ana.lopez@ejemplo.com.mx")
    contact = ContactFactory(owner=rep, first_name="Luis", email="luis@ejemplo.com.mx")

    with pytest.raises(ValidationError) as exc_info:
        contact_update(
            actor=rep,
            contact=contact,
            data={"first_name": "Luisa", "email": "ANA.LOPEZ@ejemplo.com.mx"},
        )

    assert "email" in exc_info.value.message_dict
    contact.refresh_from_db()
    assert contact.first_name == "Luis"
    assert contact.email == "luis@ejemplo.com.mx"


def test_many_contacts_may_have_no_email(rep):
    contact_create(actor=rep, data=valid_data(email="", phone=""))
    contact_create(actor=rep, data=valid_data(email="", phone=""))
    assert Contact.objects.filter(email="").count() == 2


def test_a_contact_keeps_its_own_email_on_update(rep):
    contact = ContactFactory(owner=rep, email="ana@ejemplo.com.mx")
    contact_update(actor=rep, contact=contact, data={"email": "ANA@ejemplo.com.mx"})
    contact.refresh_from_db()
    assert contact.email == "ana@ejemplo.com.mx"


@pytest.mark.parametrize("role_fixture", ["support", "marketing"])
def test_support_and_marketing_cannot_create_contacts(request, role_fixture):
    user = request.getfixturevalue(role_fixture)
    with pytest.raises(PermissionDenied):
        contact_create(actor=user, data=valid_data())
    assert not Contact.objects.exists()


def test_rep_cannot_give_a_new_contact_to_someone_else(rep, other_rep):
    with pytest.raises(ValidationError) as exc_info:
        contact_create(actor=rep, data=valid_data(), owner=other_rep)
    assert "owner" in exc_info.value.message_dict
    assert not Contact.objects.exists()


def test_manager_gives_contacts_to_the_team_only(manager, rep, other_rep):
    assert contact_create(actor=manager, data=valid_data(), owner=rep).owner == rep
    with pytest.raises(ValidationError):
        contact_create(actor=manager, data=valid_data(email="otro@ejemplo.mx"), owner=other_rep)
    assert Contact.objects.count() == 1


def test_admin_gives_contacts_to_anyone_who_sells(admin_user, other_rep):
    assert contact_create(actor=admin_user, data=valid_data(), owner=other_rep).owner == other_rep


# Update


def test_rep_updates_their_own_contact(rep):
    contact = ContactFactory(owner=rep, lifecycle=Lifecycle.LEAD)
    contact_update(
        actor=rep, contact=contact, data={"lifecycle": Lifecycle.SQL, "phone": "(55) 1234-5678"}
    )
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.SQL
    assert contact.phone == "+525512345678"


@pytest.mark.parametrize("role_fixture", ["other_rep", "support", "marketing"])
def test_others_cannot_update_a_reps_contact(request, role_fixture, rep):
    user = request.getfixturevalue(role_fixture)
    contact = ContactFactory(owner=rep, first_name="Ana")
    with pytest.raises(PermissionDenied):
        contact_update(actor=user, contact=contact, data={"first_name": "Otra"})
    contact.refresh_from_db()
    assert contact.first_name == "Ana"


def test_manager_updates_team_contacts_but_not_other_teams(manager, rep, other_rep):
    mine = ContactFactory(owner=rep)
    contact_update(actor=manager, contact=mine, data={"job_title": "Director de compras"})
    mine.refresh_from_db()
    assert mine.job_title == "Director de compras"

    theirs = ContactFactory(owner=other_rep, job_title="Gerente")
    with pytest.raises(PermissionDenied):
        contact_update(actor=manager, contact=theirs, data={"job_title": "Otro"})
    theirs.refresh_from_db()
    assert theirs.job_title == "Gerente"


def test_admin_updates_and_reassigns_any_contact(admin_user, rep, other_rep):
    contact = ContactFactory(owner=rep)
    contact_update(actor=admin_user, contact=contact, data={}, owner=other_rep)
    contact.refresh_from_db()
    assert contact.owner == other_rep


def test_rep_cannot_hand_their_contact_to_another_rep(rep, other_rep):
    contact = ContactFactory(owner=rep, first_name="Ana")
    with pytest.raises(ValidationError) as exc_info:
        contact_update(actor=rep, contact=contact, data={"first_name": "X"}, owner=other_rep)
    assert "owner" in exc_info.value.message_dict
    contact.refresh_from_db()
    assert contact.owner == rep
    assert contact.first_name == "Ana"


def test_update_with_an_invalid_phone_saves_nothing(rep):
    contact = ContactFactory(owner=rep, phone="+525512345678", tags=["vip"])
    history_count = contact.history.count()
    with pytest.raises(ValidationError) as exc_info:
        contact_update(
            actor=rep, contact=contact, data={"phone": "abc", "first_name": "Otro"}, tags=["x"]
        )
    assert "phone" in exc_info.value.message_dict
    contact.refresh_from_db()
    assert contact.phone == "+525512345678"
    assert contact.first_name != "Otro"
    assert list(contact.tags.names()) == ["vip"]
    assert contact.history.count() == history_count


def test_update_revalidates_phones_against_a_new_country(rep):
    contact = ContactFactory(owner=rep, country="MX", phone="+525512345678", mobile="")
    contact_update(actor=rep, contact=contact, data={"country": "ES", "mobile": "612345678"})
    contact.refresh_from_db()
    assert contact.phone == "+525512345678"  # already international, it stays as it was
    assert contact.mobile == "+34612345678"


# Archive and restore


def test_archive_and_restore(rep):
    contact = ContactFactory(owner=rep)

    contact_archive(actor=rep, contact=contact)
    contact.refresh_from_db()
    assert contact.is_archived
    event = AuditEvent.objects.get(action=AuditEvent.Action.ARCHIVE)
    assert event.actor == rep
    assert event.target == f"contacts.contact:{contact.pk}"

    contact_restore(actor=rep, contact=contact)
    contact.refresh_from_db()
    assert not contact.is_archived


def test_archive_twice_keeps_the_first_date(rep):
    contact = ContactFactory(owner=rep)
    first = contact_archive(actor=rep, contact=contact).archived_at
    assert contact_archive(actor=rep, contact=contact).archived_at == first
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ARCHIVE).count() == 1


@pytest.mark.parametrize("role_fixture", ["other_rep", "support", "marketing"])
def test_only_who_may_edit_archives(request, role_fixture, rep):
    user = request.getfixturevalue(role_fixture)
    contact = ContactFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        contact_archive(actor=user, contact=contact)
    contact.refresh_from_db()
    assert not contact.is_archived

    contact_archive(actor=rep, contact=contact)
    with pytest.raises(PermissionDenied):
        contact_restore(actor=user, contact=contact)
    contact.refresh_from_db()
    assert contact.is_archived


# History


def test_every_write_leaves_a_history_record(rep):
    contact = contact_create(actor=rep, data=valid_data())
    contact_update(actor=rep, contact=contact, data={"lifecycle": Lifecycle.MQL})
    contact_archive(actor=rep, contact=contact)
    contact_restore(actor=rep, contact=contact)

    records = list(contact.history.order_by("history_date", "history_id"))
    assert [r.history_type for r in records] == ["+", "~", "~", "~"]
    assert [r.history_change_reason for r in records] == ["Alta", None, "Archivado", "Restaurado"]
    assert records[1].lifecycle == Lifecycle.MQL


def test_history_records_who_made_the_change(rep, manager):
    contact = contact_create(actor=rep, data=valid_data())
    contact_update(actor=manager, contact=contact, data={"lifecycle": Lifecycle.SQL})
    records = list(contact.history.order_by("history_date", "history_id"))
    assert [r.history_user for r in records] == [rep, manager]


# The consent ledger


def test_consent_record_appends_a_full_entry_and_audits_it(rep):
    contact = ContactFactory(owner=rep)

    entry = consent_record(
        contact=contact,
        action=Consent.Action.GRANT,
        source=Consent.Source.IN_PERSON,
        actor=rep,
        text_version="aviso-v3",
        ip_address="201.141.12.7",
        user_agent="Mozilla/5.0",
        note="Firmó en la feria",
    )

    entry.refresh_from_db()
    assert entry.contact == contact
    assert entry.channel == Consent.Channel.EMAIL
    assert entry.legal_basis == Consent.LegalBasis.CONSENT
    assert entry.recorded_by == rep
    assert entry.text_version == "aviso-v3"
    assert entry.ip_address == "201.141.12.7"
    assert entry.at is not None and entry.at.utcoffset() == timedelta(0)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONSENT)
    assert event.actor == rep
    assert event.target == f"contacts.contact:{contact.pk}"
    assert event.detail == {
        "channel": "email",
        "topic": "",
        "action": "grant",
        "source": "presencial",
    }
    assert event.ip_address == "201.141.12.7"


def test_the_ledger_only_grows_and_the_latest_entry_wins(rep):
    contact = ContactFactory(owner=rep)
    grant = consent_record(contact=contact, action="grant", source=Consent.Source.FORM)
    assert contact_has_consent(contact=contact)

    withdrawal = consent_record(contact=contact, action="withdraw", source="baja")
    assert not contact_has_consent(contact=contact)

    regrant = consent_record(contact=contact, action="grant", source=Consent.Source.FORM)
    assert contact_has_consent(contact=contact)

    assert list(contact.consents.order_by("id")) == [grant, withdrawal, regrant]
    grant.refresh_from_db()
    assert grant.action == "grant"  # earlier entries are never edited
    withdrawal.refresh_from_db()
    assert withdrawal.action == "withdraw"


def test_current_state_follows_the_time_of_the_entries_not_their_insertion(rep):
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    consent_record(contact=contact, action="withdraw", source="baja", at=now)
    # A paper form signed the day before, typed in afterwards, does not undo the withdrawal.
    consent_record(contact=contact, action="grant", source="presencial", at=now - timedelta(days=1))
    assert not contact_has_consent(contact=contact)


def test_consent_is_per_channel(rep):
    contact = ContactFactory(owner=rep)
    consent_record(contact=contact, action="grant", channel="whatsapp", source="telefono")
    assert contact_has_consent(contact=contact, channel="whatsapp")
    assert not contact_has_consent(contact=contact)

    state = {row["channel"]: row for row in contact_consent_state(contact=contact)}
    assert state["whatsapp"]["granted"] is True
    assert state["email"]["granted"] is False
    assert state["email"]["current"] is None


def test_the_contact_acting_themselves_needs_no_actor(rep):
    contact = ContactFactory(owner=rep)
    entry = consent_record(contact=contact, action="withdraw", source="baja")
    assert entry.recorded_by is None
    assert AuditEvent.objects.get(action=AuditEvent.Action.CONSENT).actor is None


def test_marketing_records_consent_for_any_contact(marketing, rep):
    contact = ContactFactory(owner=rep)
    consent_record(contact=contact, action="grant", source="importacion", actor=marketing)
    assert contact.consents.count() == 1


@pytest.mark.parametrize("role_fixture", ["other_rep", "support"])
def test_who_may_not_edit_the_contact_cannot_record_consent(request, role_fixture, rep):
    user = request.getfixturevalue(role_fixture)
    contact = ContactFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        consent_record(contact=contact, action="grant", source="usuario", actor=user)
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_unknown_action_or_source_saves_nothing(rep):
    contact = ContactFactory(owner=rep)
    with pytest.raises(ValidationError):
        consent_record(contact=contact, action="maybe", source="formulario")
    with pytest.raises(ValidationError):
        consent_record(contact=contact, action="grant", source="telepatia")
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_long_user_agent_is_cut_to_fit(rep):
    contact = ContactFactory(owner=rep)
    entry = consent_record(
        contact=contact, action="grant", source="formulario", user_agent="x" * 500
    )
    entry.refresh_from_db()
    assert entry.user_agent == "x" * 300


def test_consent_factory_builds_a_grant():
    entry = ConsentFactory()
    assert entry.is_grant
    assert contact_has_consent(contact=entry.contact)


def test_contacts_factory_makes_valid_contacts():
    for contact in ContactFactory.create_batch(5, owner=UserFactory(role=Role.VENDEDOR)):
        contact.full_clean()
        assert contact.account.owner == contact.owner


def _projection() -> set[tuple]:
    return set(ConsentLatest.objects.values_list("contact_id", "channel", "entry_id", "action"))


def test_latest_consent_projection_follows_the_ledger_even_when_backdated(rep):
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    grant = consent_record(contact=contact, action="grant", source="formulario", at=now)
    # An older withdrawal typed in later (e.g. from a paper form) does not become "current".
    consent_record(
        contact=contact, action="withdraw", source="usuario", actor=rep,
        at=now - timedelta(days=3),
    )  # fmt: skip
    latest = ConsentLatest.objects.get(contact=contact, channel="email")
    assert latest.entry == grant and latest.action == "grant"
    withdrawal = consent_record(contact=contact, action="withdraw", source="baja")
    latest.refresh_from_db()
    assert latest.entry == withdrawal and latest.action == "withdraw"


def test_projection_rebuilt_from_the_ledger_is_the_same(rep):
    for i in range(6):
        contact = ContactFactory(owner=rep)
        consent_record(contact=contact, action="grant", source="formulario")
        if i % 2:
            consent_record(contact=contact, action="withdraw", source="baja")
        if i % 3 == 0:
            consent_record(contact=contact, action="grant", channel="whatsapp", source="telefono")
    maintained = _projection()
    assert consent_latest_rebuild() == len(maintained)
    assert _projection() == maintained
