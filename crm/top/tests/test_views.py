import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent
from crm.core.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("accounts:account-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("crm:login"))


def test_login_page_is_spanish_by_default(client):
    response = client.get(reverse("crm:login"))
    assert response.status_code == 200
    assert "Entrar al CRM" in response.text
    assert 'lang="es"' in response.text


def test_login_rotates_the_session_and_is_audited(client, rep):
    client.get(reverse("crm:login"))
    before = client.cookies.get("sessionid")
    response = client.post(reverse("crm:login"), {"username": rep.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("crm:home")
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert AuditEvent.objects.filter(action="login", actor=rep).exists()


def test_login_is_throttled_after_repeated_failures(client, rep):
    for _ in range(4):
        response = client.post(reverse("crm:login"), {"username": rep.username, "password": "mal"})
        assert response.status_code == 200
        assert "nombre de usuario" in response.text  # Django's own Spanish error
    client.post(reverse("crm:login"), {"username": rep.username, "password": "mal"})
    response = client.post(reverse("crm:login"), {"username": rep.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Demasiados intentos fallidos" in response.text
    assert AuditEvent.objects.filter(action="login_failed").count() >= 5


def test_a_user_name_longer_than_any_is_the_forms_error_not_a_failed_login(client):
    """django-axes stored it in its 255 characters: PostgreSQL refused it with a 500."""
    response = client.post(reverse("crm:login"), {"username": "x" * 100_000, "password": "y"})
    assert response.status_code == 200
    assert "150 caracteres" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert not AuditEvent.objects.filter(action="login_failed").exists()


def test_logout_needs_post(client_for, rep):
    client = client_for(rep)
    response = client.post(reverse("crm:logout"))
    assert response.status_code == 302
    assert client.get(reverse("crm:home")).status_code == 302


def test_password_change(client_for, rep):
    client = client_for(rep)
    assert client.get(reverse("crm:password-change")).status_code == 200
    response = client.post(
        reverse("crm:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Otra-Clave-2026!",
            "new_password2": "Otra-Clave-2026!",
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password("Otra-Clave-2026!")


def test_home_counts_the_reps_portfolio(client_for, rep, other_rep):
    AccountFactory.create_batch(3, owner=rep)
    AccountFactory.create_batch(2, owner=other_rep)
    ContactFactory(owner=rep)
    response = client_for(rep).get(reverse("crm:home"))
    assert response.status_code == 200
    assert response.context["accounts_count"] == 4  # three, plus the contact's account
    assert response.context["contacts_count"] == 1
    assert "Cambios recientes" in response.text


def test_home_for_manager_counts_the_team(client_for, manager, rep, other_rep):
    AccountFactory.create_batch(2, owner=rep)
    AccountFactory(owner=other_rep)
    response = client_for(manager).get(reverse("crm:home"))
    assert response.context["accounts_count"] == 2


def test_navigation_shows_admin_only_to_administrators(client_for, rep, admin_user):
    assert reverse("admin:index") not in client_for(rep).get(reverse("crm:home")).text
    assert reverse("admin:index") in client_for(admin_user).get(reverse("crm:home")).text


def test_language_switch_to_english(client_for, rep):
    client = client_for(rep)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("crm:home"))
    assert 'lang="en"' in response.text
    assert "Accounts" in response.text


@pytest.mark.parametrize(
    "query",
    ["55 1234 5678", "+52 1 55-1234-5678", "5512345678", "(55) 1234-5678"],
)
def test_search_finds_a_contact_by_phone_in_any_format(client_for, rep, query):
    contact = ContactFactory(first_name="Lucía", last_name="Pérez", mobile="+525512345678")
    ContactFactory(first_name="Otro", mobile="+523398765432")
    response = client_for(rep).get(reverse("crm:search"), {"q": query})
    assert response.status_code == 200
    assert contact.full_name in response.text
    assert "Otro" not in response.text


def test_search_is_accent_insensitive_and_covers_email_and_tax_id(client_for, rep):
    contact = ContactFactory(first_name="José", last_name="Pérez Núñez", email="jose.pn@ejemplo.mx")
    account = AccountFactory(name="Café Órale", tax_id="GODE561231GR8")
    client = client_for(rep)
    assert contact.full_name in client.get(reverse("crm:search"), {"q": "perez nunez"}).text
    assert contact.full_name in client.get(reverse("crm:search"), {"q": "jose.pn@"}).text
    assert account.name in client.get(reverse("crm:search"), {"q": "cafe orale"}).text
    assert account.name in client.get(reverse("crm:search"), {"q": "gode561231"}).text


def test_search_htmx_answers_the_suggestions_only(client_for, rep):
    ContactFactory(first_name="Lucía", last_name="Pérez")
    response = client_for(rep).get(reverse("crm:search"), {"q": "lucia"}, HTTP_HX_REQUEST="true")
    assert 'id="search-results"' in response.text
    assert "<html" not in response.text


def test_search_query_count_is_constant(client_for, rep, django_assert_max_num_queries):
    for _ in range(30):
        ContactFactory(last_name="García")
    client = client_for(rep)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("crm:search"), {"q": "garcia"})
    assert response.status_code == 200


def test_search_too_short_or_empty(client_for, rep):
    client = client_for(rep)
    assert client.get(reverse("crm:search"), {"q": "a"}).status_code == 200
    assert client.get(reverse("crm:search")).status_code == 200


def test_admin_pages_for_users_and_teams(client_for, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client = client_for(admin_user)
    assert client.get(reverse("admin:crm_user_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_team_changelist")).status_code == 200
    user = UserFactory()
    assert client.get(reverse("admin:crm_user_change", args=[user.pk])).status_code == 200


def test_ids_in_links_are_never_grouped_like_numbers(client_for, rep):
    """Links like "?account=12 345" broke once: ids above 999 must stay plain digits."""
    account = AccountFactory(pk=12345, owner=rep)
    client = client_for(rep)
    sheet = client.get(account.get_absolute_url()).text
    panel = client.get(reverse("contacts:account-contacts-panel", args=[account.pk])).text
    assert "?account=12345" in sheet + panel
    assert "12 345" not in sheet + panel and "12\xa0345" not in sheet + panel


def test_the_signed_in_user_comes_with_their_team_in_one_query(client_for, rep):
    client = client_for(rep)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("accounts:account-list"))
    assert rep.team.name in response.text  # the navigation shows the team
    assert not [q for q in queries.captured_queries if 'FROM "crm_team"' in q["sql"]]
