"""The data-rights pages of a contact (crm.top.views_privacy): administrators only, every
download audited, the erasure confirmed by a typed word and said once."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
EMAIL = "ana.torres@ejemplo.mx"


@pytest.fixture
def contact(rep):
    contact = ContactFactory(owner=rep, first_name="Ana", last_name="Torres", email=EMAIL)
    ConsentFactory(contact=contact)
    return contact


def _urls(contact) -> dict[str, str]:
    return {
        name: reverse(f"crm:{name}", args=[contact.pk])
        for name in ("privacy-contact", "privacy-contact-json", "privacy-contact-pdf")
    }


@pytest.mark.parametrize("role", ROLES)
def test_only_administrators_reach_the_pages(request, client_for, contact, role):
    client = client_for(request.getfixturevalue(role))
    allowed = role == "admin_user"
    for name, url in _urls(contact).items():
        if name == "privacy-contact-pdf" and allowed:
            continue  # rendered once below: WeasyPrint is slow
        assert client.get(url).status_code == (200 if allowed else 403), url
    response = client.post(
        reverse("crm:privacy-contact-erase", args=[contact.pk]),
        {"reason": "Solicitud 1", "confirm": "BORRAR"},
    )
    assert response.status_code == (302 if allowed else 403)
    contact.refresh_from_db()
    assert (contact.erased_at is not None) is allowed
    assert (contact.email == EMAIL) is not allowed


@pytest.mark.parametrize("role", ROLES)
def test_the_contact_sheet_shows_the_action_to_administrators_only(
    request, client_for, contact, role
):
    html = client_for(request.getfixturevalue(role)).get(contact.get_absolute_url()).content
    url = reverse("crm:privacy-contact", args=[contact.pk]).encode()
    assert (url in html) is (role == "admin_user")


def test_an_unknown_contact_answers_404(client_for, admin_user):
    client = client_for(admin_user)
    for name in ("privacy-contact", "privacy-contact-json", "privacy-contact-pdf"):
        assert client.get(reverse(f"crm:{name}", args=[987654])).status_code == 404
    response = client.post(
        reverse("crm:privacy-contact-erase", args=[987654]),
        {"reason": "x", "confirm": "BORRAR"},
    )
    assert response.status_code == 404


def test_the_page_lists_what_is_held_and_carries_a_guarded_form(client_for, admin_user, contact):
    response = client_for(admin_user).get(reverse("crm:privacy-contact", args=[contact.pk]))
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "top/privacy/privacy_contact.html"
    html = response.content.decode()
    assert 'name="_once"' in html and "csrfmiddlewaretoken" in html
    assert "data-confirm=" in html
    assert reverse("crm:privacy-contact-pdf", args=[contact.pk]) in html
    assert "Consentimientos registrados" in html


def test_the_json_download_is_everything_and_audited(client_for, admin_user, contact):
    response = client_for(admin_user).get(reverse("crm:privacy-contact-json", args=[contact.pk]))
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["contact"]["email"] == EMAIL
    assert len(data["consents"]) == 1
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT)
    assert event.actor == admin_user
    assert event.target == f"contacts.contact:{contact.pk}"
    assert event.detail == {"privacy": "json"}


def test_the_pdf_download_is_audited(client_for, admin_user, contact):
    response = client_for(admin_user).get(reverse("crm:privacy-contact-pdf", args=[contact.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.EXPORT, detail__privacy="pdf"
    ).exists()


def test_the_erasure_needs_the_typed_word_and_a_reason(client_for, admin_user, contact):
    client = client_for(admin_user)
    url = reverse("crm:privacy-contact-erase", args=[contact.pk])
    response = client.post(url, {"reason": "Solicitud 2", "confirm": "borrar no"})
    assert response.status_code == 422
    assert "Escribe BORRAR para confirmar la supresión." in response.content.decode()
    assert client.post(url, {"confirm": "BORRAR"}).status_code == 422
    contact.refresh_from_db()
    assert contact.erased_at is None and contact.email == EMAIL
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DELETE).exists()


def test_erasing_twice_says_nothing_changed(client_for, admin_user, contact):
    client = client_for(admin_user)
    url = reverse("crm:privacy-contact-erase", args=[contact.pk])
    first = client.post(url, {"reason": "Solicitud 3", "confirm": "borrar"})
    assert first.status_code == 302
    assert first["Location"] == reverse("crm:privacy-contact", args=[contact.pk])
    assert "Datos personales eliminados" in str(list(get_messages(first.wsgi_request))[0])

    page = client.get(first["Location"]).content.decode()
    assert "Persona eliminada" in page and 'action="' + url not in page

    second = client.post(url, {"reason": "Solicitud 3", "confirm": "BORRAR"})
    assert second.status_code == 302
    assert "ya estaban eliminados" in str(list(get_messages(second.wsgi_request))[-1])
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELETE).count() == 1
