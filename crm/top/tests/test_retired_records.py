"""A contact merged into another, or a person whose data were erased, stays as the record of
what happened: the services refuse to edit or restore it, and the pages say why."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services as account_services
from accounts.tests.factories import AccountFactory
from contacts import services as contact_services
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from crm.top.merge import accounts_merge, contacts_merge
from crm.top.privacy import person_erase

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return UserFactory(role=Role.ADMINISTRADOR)


def test_a_merged_contact_is_neither_edited_nor_restored(admin, client_for):
    survivor = ContactFactory(owner=admin, first_name="Ana")
    loser = ContactFactory(owner=admin, first_name="Ana María")
    contacts_merge(actor=admin, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    loser.refresh_from_db()
    with pytest.raises(ValidationError, match="se fusionó"):
        contact_services.contact_update(actor=admin, contact=loser, data={"city": "Puebla"})
    with pytest.raises(ValidationError, match="se fusionó"):
        contact_services.contact_restore(actor=admin, contact=loser)
    response = client_for(admin).post(
        reverse("contacts:contact-restore", args=[loser.pk]), follow=True
    )
    assert response.status_code == 200 and "se fusionó en otro" in response.text
    loser.refresh_from_db()
    assert loser.archived_at is not None and loser.city != "Puebla"


def test_an_erased_person_is_neither_edited_nor_restored(admin, client_for):
    contact = ContactFactory(owner=admin, first_name="Lucía", email="lucia@ejemplo.mx")
    person_erase(actor=admin, contact=contact, reason="Solicitud 2026-118")
    contact = Contact.objects.get(pk=contact.pk)
    with pytest.raises(ValidationError, match="eliminaron"):
        contact_services.contact_update(actor=admin, contact=contact, data={"first_name": "Lucía"})
    response = client_for(admin).post(
        reverse("contacts:contact-restore", args=[contact.pk]), follow=True
    )
    assert "se eliminaron a petición suya" in response.text
    contact.refresh_from_db()
    assert contact.archived_at is not None and contact.first_name != "Lucía"


def test_a_merged_account_is_neither_edited_nor_restored(admin, client_for):
    survivor = AccountFactory(owner=admin, name="Grupo Torres")
    loser = AccountFactory(owner=admin, name="Grupo Torres SA")
    accounts_merge(actor=admin, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    loser.refresh_from_db()
    with pytest.raises(ValidationError, match="se fusionó"):
        account_services.account_update(actor=admin, account=loser, data={"city": "Puebla"})
    response = client_for(admin).post(
        reverse("accounts:account-restore", args=[loser.pk]), follow=True
    )
    assert "se fusionó en otra" in response.text
    loser.refresh_from_db()
    assert loser.archived_at is not None
