"""Every URL, for every role: what each may read and change (DESIGN.md §1).

Records belong to `rep`; `manager` leads rep's team; `other_rep` is in another team.
"""

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
EDITORS = {"rep", "manager", "admin_user"}
CREATORS = {"rep", "manager", "other_rep", "admin_user"}
CONSENT_RECORDERS = EDITORS | {"marketing"}


@pytest.fixture
def records(rep):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account)
    return {"account": account, "contact": contact}


def _read_urls(records) -> list[str]:
    account, contact = records["account"], records["contact"]
    return [
        reverse("crm:home"),
        reverse("crm:search") + "?q=a",
        reverse("crm:password-change"),
        reverse("accounts:account-list"),
        reverse("accounts:account-detail", args=[account.pk]),
        reverse("accounts:account-picker") + "?q=a",
        reverse("accounts:account-count"),
        reverse("contacts:contact-list"),
        reverse("contacts:contact-count"),
        reverse("contacts:contact-detail", args=[contact.pk]),
        reverse("contacts:account-contacts-panel", args=[account.pk]),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_shared_portfolio(request, client_for, records, role):
    client = client_for(request.getfixturevalue(role))
    for url in _read_urls(records):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ROLES)
def test_create_pages(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if role in CREATORS else 403
    assert client.get(reverse("accounts:account-create")).status_code == expected
    assert client.get(reverse("contacts:contact-create")).status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_edit_pages_answer_404_to_whoever_may_not_edit(request, client_for, records, role):
    client = client_for(request.getfixturevalue(role))
    account, contact = records["account"], records["contact"]
    expected = 200 if role in EDITORS else 404
    assert client.get(reverse("accounts:account-update", args=[account.pk])).status_code == expected
    assert client.get(reverse("contacts:contact-update", args=[contact.pk])).status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_edits_by_post(request, client_for, records, role):
    client = client_for(request.getfixturevalue(role))
    account, contact = records["account"], records["contact"]
    allowed = role in EDITORS
    response = client.post(reverse("accounts:account-update", args=[account.pk]), {"name": "X"})
    assert response.status_code == (422 if allowed else 404)  # allowed, but the form is incomplete
    for name in ("account-archive", "account-restore"):
        response = client.post(reverse(f"accounts:{name}", args=[account.pk]))
        assert response.status_code == (302 if allowed else 404)
    for name in ("contact-archive", "contact-restore"):
        response = client.post(reverse(f"contacts:{name}", args=[contact.pk]))
        assert response.status_code == (302 if allowed else 404)
    account.refresh_from_db()
    contact.refresh_from_db()
    assert account.name != "X" and not account.is_archived and not contact.is_archived


@pytest.mark.parametrize("role", ROLES)
def test_consent_changes(request, client_for, records, role):
    client = client_for(request.getfixturevalue(role))
    contact = records["contact"]
    response = client.post(
        reverse("contacts:contact-consent", args=[contact.pk]),
        {
            "channel": "email",
            "action": "grant",
            "source": "telefono",
            "legal_basis": "consentimiento",
        },
    )
    if role in CONSENT_RECORDERS:
        assert response.status_code == 302
        assert contact.consents.count() == 1
    else:
        assert response.status_code == 403
        assert contact.consents.count() == 0


def test_unknown_ids_answer_404(client_for, rep):
    client = client_for(rep)
    for name in (
        "accounts:account-detail",
        "accounts:account-update",
        "contacts:contact-detail",
        "contacts:contact-update",
    ):
        assert client.get(reverse(name, args=[987654])).status_code == 404
