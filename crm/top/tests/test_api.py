"""The REST API (issue 11): personal keys and their scopes, the same visibility and rules as the
pages, problem details, cursor pages, ETag / If-Match, sparse fields, the caller lookup and the
OpenAPI schema."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from contacts.models import Consent, Contact
from contacts.tests.factories import ContactFactory
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import ApiToken, AuditEvent, Role
from crm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def api(user, scopes=None, days=90) -> APIClient:
    _token, key = token_create(
        user=user, name="Tienda en línea", scopes=scopes or SCOPES, days=days
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_key_is_stored_hashed_shown_once_and_audited(rep):
    token, key = token_create(user=rep, name="ERP", scopes=["accounts:read"], days=30)
    assert key.startswith(f"crm_{token.prefix}_") and len(key) > 40
    assert key not in token.key_hash and len(token.key_hash) == 64
    assert AuditEvent.objects.filter(action="create", target=f"api_token:{token.pk}").exists()
    assert "ERP" in str(token)


def test_no_key_a_bad_key_an_expired_or_revoked_key_get_401_problems(rep):
    url = reverse("api:account-list")
    anonymous = APIClient().get(url)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM
    assert anonymous.json()["title"] == "Falta autenticación"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer crm_00000000_nope")
    response = wrong.get(url)
    assert response.status_code == 401
    assert "no es válida" in response.json()["detail"]

    client = api(rep)
    assert client.get(url).status_code == 200
    token = ApiToken.objects.get(user=rep)
    assert token.last_used_at is not None
    token.expires_at = timezone.now()
    token.save()
    assert client.get(url).status_code == 401
    token.expires_at = timezone.now() + timezone.timedelta(days=1)
    token.revoked_at = timezone.now()
    token.save()
    assert client.get(url).status_code == 401
    rep.is_active = False
    rep.save()
    token.revoked_at = None
    token.save()
    assert client.get(url).status_code == 401


def test_scopes_limit_a_key_to_its_areas(rep):
    client = api(rep, scopes=["accounts:read"])
    assert client.get(reverse("api:account-list")).status_code == 200
    refused = client.post(reverse("api:account-list"), {"name": "Nueva"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["title"] == "Sin permiso"
    assert client.get(reverse("api:contact-list")).status_code == 403
    assert not Account.objects.filter(name="Nueva").exists()


def test_accounts_round_trip_through_the_services(rep):
    client = api(rep)
    created = client.post(
        reverse("api:account-list"),
        {
            "name": "Papelería Guadalupe",
            "tax_id": "GODE561231GR8",
            "phone": "55 1234 5678",
            "tags": ["mayoreo"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    account = Account.objects.get(name="Papelería Guadalupe")
    assert account.owner == rep and account.phone == "+525512345678"
    assert account.history.count() == 1  # written by the service, with its history
    body = created.json()
    assert body["owner"] == rep.pk and body["tags"] == ["mayoreo"]

    url = reverse("api:account-detail", args=[account.pk])
    read = client.get(url)
    etag = read["ETag"]
    assert read.json()["name"] == "Papelería Guadalupe"
    no_version = client.patch(url, {"city": "Puebla"}, format="json")
    assert no_version.status_code == 428
    changed = client.patch(url, {"city": "Puebla"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()
    assert changed["ETag"] != etag
    stale = client.patch(url, {"city": "Tlaxcala"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale["Content-Type"] == PROBLEM
    account.refresh_from_db()
    assert account.city == "Puebla"


def test_bad_input_is_a_translated_problem_and_writes_nothing(rep):
    client = api(rep)
    response = client.post(
        reverse("api:account-list"), {"name": "Fiscal", "tax_id": "XXX"}, format="json"
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Datos no válidos"
    assert "tax_id" in problem["errors"]
    assert not Account.objects.filter(name="Fiscal").exists()
    english = client.post(
        reverse("api:account-list"), {"tax_id": "XXX"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.json()["errors"]["name"] == ["This field is required."]


def test_the_same_rules_as_the_pages(rep, other_rep):
    theirs = AccountFactory(owner=other_rep, name="Ajena")
    client = api(rep)
    # Every role reads every account (DESIGN.md §1), but a rep changes only their own.
    read = client.get(reverse("api:account-detail", args=[theirs.pk]))
    assert read.status_code == 200
    refused = client.patch(
        reverse("api:account-detail", args=[theirs.pk]),
        {"name": "Mía"},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "No puedes modificar esta cuenta."
    assert (
        client.post(
            reverse("api:account-list"), {"name": "X", "owner": other_rep.pk}, format="json"
        ).status_code
        == 400
    )
    support = api(UserFactory(role=Role.SOPORTE))
    assert (
        support.post(reverse("api:contact-list"), {"first_name": "A"}, format="json").status_code
        == 403
    )
    assert client.get(reverse("api:account-detail", args=[999999])).status_code == 404


def test_contacts_filters_cursor_pages_and_sparse_fields(rep, django_assert_max_num_queries):
    account = AccountFactory(owner=rep, name="Grupo Torres")
    for index in range(130):
        ContactFactory(owner=rep, account=account, first_name=f"Persona{index}", lifecycle="lead")
    ContactFactory(owner=rep, lifecycle="mql", first_name="Marta")
    client = api(rep)
    url = reverse("api:contact-list")
    with django_assert_max_num_queries(8):
        first = client.get(url, {"page_size": 50})
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 50 and "count" not in page  # no COUNT
    seen = [row["id"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert len(seen) == len(set(seen)) == 131
    assert seen == sorted(seen, reverse=True)

    mql = client.get(url, {"lifecycle": "mql"}).json()["results"]
    assert [row["first_name"] for row in mql] == ["Marta"]
    sparse = client.get(url, {"fields": "id,email", "page_size": 2}).json()["results"]
    assert set(sparse[0]) == {"id", "email"}
    bad = client.get(url, {"fields": "id,salary"})
    assert bad.status_code == 400 and "salary" in bad.json()["errors"]["fields"][0]
    assert client.get(url, {"ordering": "password"}).status_code == 400
    by_name = client.get(url, {"ordering": "last_name", "page_size": 3})
    assert by_name.status_code == 200


def test_the_lead_score_is_read_not_written(rep):
    """The score is the rules' (contacts.scoring): the API shows it and ignores a written one."""
    contact = ContactFactory(owner=rep, first_name="Ana", lead_score=10)
    client = api(rep)
    url = reverse("api:contact-detail", args=[contact.pk])
    etag = client.get(url)["ETag"]
    answer = client.patch(
        url, {"first_name": "Anita", "lead_score": 90}, format="json", HTTP_IF_MATCH=etag
    )
    assert answer.status_code == 200 and answer.json()["lead_score"] == 10
    contact.refresh_from_db()
    assert (contact.first_name, contact.lead_score) == ("Anita", 10)


def test_consent_is_read_with_the_contact_and_changed_through_the_ledger(rep):
    contact = ContactFactory(owner=rep, email="ana@ejemplo.mx")
    client = api(rep)
    url = reverse("api:contact-detail", args=[contact.pk])
    assert client.get(url).json()["email_consent"] is None
    # Not a field: writing it changes nothing.
    etag = client.get(url)["ETag"]
    client.patch(url, {"email_consent": "grant"}, format="json", HTTP_IF_MATCH=etag)
    assert not Consent.objects.filter(contact=contact).exists()
    consent_url = reverse("api:contact-consent", args=[contact.pk])
    granted = client.post(
        consent_url,
        {"action": "grant", "legal_basis": "consentimiento", "source": "formulario"},
        format="json",
        HTTP_USER_AGENT="Tienda/1.0",
    )
    assert granted.status_code == 201, granted.json()
    entry = Consent.objects.get(contact=contact)
    assert entry.recorded_by == rep and entry.user_agent == "Tienda/1.0"
    assert client.get(url).json()["email_consent"] == "grant"
    client.post(consent_url, {"action": "withdraw"}, format="json")
    assert client.get(url).json()["email_consent"] == "withdraw"
    assert [row["action"] for row in client.get(consent_url).json()] == ["withdraw", "grant"]
    bad = client.post(consent_url, {"action": "maybe"}, format="json")
    assert bad.status_code == 400 and Consent.objects.filter(contact=contact).count() == 2


def test_caller_lookup(rep):
    contact = ContactFactory(
        owner=rep, first_name="Elena", last_name="Duarte", mobile="+525512345678"
    )
    client = api(rep, scopes=["contacts:read"])
    response = client.get(reverse("api:caller-list"), {"phone": "55 1234 5678"})
    assert response.status_code == 200
    hits = response.json()["contacts"]
    assert hits[0]["id"] == contact.pk and hits[0]["name"] == "Elena Duarte"
    assert hits[0]["phones"][0]["matched"] is True
    short = client.get(reverse("api:caller-list"), {"phone": "5"})
    assert short.status_code == 400
    assert (
        api(rep, scopes=["accounts:read"])
        .get(reverse("api:caller-list"), {"phone": "5512345678"})
        .status_code
        == 403
    )


def test_the_schema_lists_every_endpoint_and_validates(rep):
    from openapi_spec_validator import validate

    response = api(rep).get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    paths = set(schema["paths"])
    assert {
        "/api/v1/accounts/",
        "/api/v1/accounts/{id}/",
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/contacts/{id}/consent/",
        "/api/v1/caller/",
    } <= paths
    assert APIClient().get(reverse("api:schema")).status_code == 401


def test_the_documentation_page_needs_a_session(rep, client_for):
    assert APIClient().get(reverse("api:docs")).status_code == 302  # to the sign-in page
    page = client_for(rep).get(reverse("api:docs"))
    assert page.status_code == 200
    assert "swagger" in page.text.lower()


def test_a_key_is_rate_limited(rep, settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "3/min"},
    }
    api_settings.reload()
    from crm.core.api.auth import TokenRateThrottle

    TokenRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        client = api(rep)
        codes = [client.get(reverse("api:account-list")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        other = api(rep)  # another key has its own allowance
        assert other.get(reverse("api:account-list")).status_code == 200
    finally:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"api": "600/min"},
        }
        api_settings.reload()
        TokenRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        cache.clear()


def test_a_key_opens_no_session(rep):
    from django.contrib.sessions.models import Session

    response = api(rep).get(reverse("api:contact-list"))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert not Session.objects.exists()


def test_keys_are_created_shown_once_and_revoked_in_the_profile(rep, other_rep, client_for):
    client = client_for(rep)
    url = reverse("crm:api-tokens")
    assert client.get(reverse("crm:security")).status_code == 200
    assert "Claves de API" in client.get(reverse("crm:security")).text
    created = client.post(
        url,
        {"name": "Centralita", "days": 90, "area_contacts": "read", "area_support": "write"},
        follow=True,
    )
    token = ApiToken.objects.get(user=rep)
    assert token.scopes == ["contacts:read", "support:write"]
    key = created.context["new_key"]
    assert key.startswith(f"crm_{token.prefix}_") and key in created.text
    again = client.get(url)
    assert key not in again.text and "crm_" + token.prefix in again.text  # shown once
    # The key works, with its scopes.
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert keyed.get(reverse("api:contact-list")).status_code == 200
    assert keyed.get(reverse("api:account-list")).status_code == 403

    mine = client_for(other_rep).post(reverse("crm:api-token-revoke", args=[token.pk]))
    assert mine.status_code == 404
    revoked = client.post(reverse("crm:api-token-revoke", args=[token.pk]), follow=True)
    assert "revocada" in revoked.text
    assert keyed.get(reverse("api:contact-list")).status_code == 401
    assert AuditEvent.objects.filter(action="delete", target=f"api_token:{token.pk}").exists()


def test_a_key_without_a_name_or_scope_is_refused(rep, client_for):
    response = client_for(rep).post(reverse("crm:api-tokens"), {"name": "Tienda", "days": 90})
    assert response.status_code == 200
    assert "Elige al menos un permiso" in response.text
    nameless = client_for(rep).post(
        reverse("crm:api-tokens"), {"name": "", "days": 90, "area_accounts": "read"}
    )
    assert "name" in nameless.context["form"].errors
    assert not ApiToken.objects.exists()
    odd = client_for(rep).post(
        reverse("crm:api-tokens"), {"name": "X", "days": 7, "area_campaigns": "write"}
    )
    assert "days" in odd.context["form"].errors and "area_campaigns" in odd.context["form"].errors
    assert not ApiToken.objects.exists()


def test_an_etag_stays_the_same_while_the_record_does(rep, monkeypatch):
    import time

    account = AccountFactory(owner=rep, name="Papelería Guadalupe")
    client = api(rep)
    url = reverse("api:account-detail", args=[account.pk])
    etag = client.get(url)["ETag"]
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)  # signed tokens carry their time
    assert client.get(url)["ETag"] == etag
    changed = client.patch(url, {"city": "Puebla"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200


def test_a_contacts_time_zone_is_one_of_the_offered_ones(rep):
    client = api(rep)
    refused = client.post(
        reverse("api:contact-list"),
        {"first_name": "Lucía", "time_zone": "Marte/Olympus"},
        format="json",
    )
    assert refused.status_code == 400 and "time_zone" in refused.json()["errors"]
    assert not Contact.objects.filter(first_name="Lucía").exists()
    created = client.post(
        reverse("api:contact-list"),
        {"first_name": "Lucía", "time_zone": "Europe/Madrid"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["time_zone"] == "Europe/Madrid"
