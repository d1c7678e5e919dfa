import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Account
from accounts.tests.factories import AccountFactory
from crm.core.tests.pages import form_values, loaded_version, rows_naming

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Ferretería La Paloma",
    "legal_name": "Ferretería La Paloma S.A. de C.V.",
    "tax_id": "GODE561231GR8",
    "country": "MX",
    "industry": "comercio",
    "size": "pequeno",
    "relationship": "cliente",
    "status": "activo",
    "phone": "33 1234 5678",
    "email": "ventas@lapaloma.mx",
    "tier_override": "",
    "tags": "ferretería, jalisco",
}


def test_list_shows_accounts_and_filters(rep, client_for):
    AccountFactory(name="Aceros del Norte", owner=rep, status="activo", tier_auto="A")
    AccountFactory(name="Botanas Sol", owner=rep, status="prospecto")
    client = client_for(rep)
    response = client.get(reverse("accounts:account-list"))
    assert response.status_code == 200
    assert "accounts/account_list.html" in [t.name for t in response.templates]
    assert "Aceros del Norte" in response.text and "Botanas Sol" in response.text
    response = client.get(reverse("accounts:account-list"), {"status": "activo", "tier": "A"})
    assert "Aceros del Norte" in response.text and "Botanas Sol" not in response.text


def test_list_rows_show_their_tags_alphabetically(rep, client_for):
    AccountFactory(name="Aceros del Norte", owner=rep, tags=["norte", "acero"])
    AccountFactory(name="Botanas Sol", owner=rep, tags=[])
    response = client_for(rep).get(reverse("accounts:account-list"))
    rows = rows_naming(response.text, "Aceros del Norte", "Botanas Sol")
    assert rows["Aceros del Norte"].index(">acero<") < rows["Aceros del Norte"].index(">norte<")
    assert "border tag" not in rows["Botanas Sol"]


def test_list_htmx_returns_only_the_results(rep, client_for):
    AccountFactory(name="Aceros del Norte", owner=rep)
    response = client_for(rep).get(
        reverse("accounts:account-list"), {"q": "aceros"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Aceros del Norte" in response.text
    assert "<html" not in response.text and "navbar" not in response.text


def test_list_invalid_filter_is_ignored_not_an_error(rep, client_for):
    AccountFactory(owner=rep)
    response = client_for(rep).get(
        reverse("accounts:account-list"), {"status": "nope", "page": "abc", "sort": "zzz"}
    )
    assert response.status_code == 200


def test_list_query_count_is_constant(rep, client_for, django_assert_max_num_queries):
    for i in range(60):
        AccountFactory(owner=rep, tags=["norte", f"t{i % 3}"])
    client = client_for(rep)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:account-list"))
    assert response.status_code == 200
    with django_assert_max_num_queries(8):
        client.get(reverse("accounts:account-list"), {"page": 3, "tag": "norte", "sort": "owner"})


def test_detail_shows_sheet_history_and_panel(rep, client_for, django_assert_max_num_queries):
    account = AccountFactory(owner=rep, name="Aceros del Norte", tags=["acero"])
    client = client_for(rep)
    url = reverse("accounts:account-update", args=[account.pk])
    client.post(
        url,
        {
            **VALID,
            "name": "Aceros del Norte SA",
            "tax_id": account.tax_id,
            "email": "",
            "version": loaded_version(client, url),
        },
    )
    with django_assert_max_num_queries(12):
        response = client.get(account.get_absolute_url())
    assert response.status_code == 200
    assert "Aceros del Norte SA" in response.text
    assert "Historial de cambios" in response.text
    assert reverse("contacts:account-contacts-panel", args=[account.pk]) in response.text
    assert reverse("accounts:account-update", args=[account.pk]) in response.text


def test_detail_of_unknown_account_is_404(rep, client_for):
    assert client_for(rep).get(reverse("accounts:account-detail", args=[999999])).status_code == 404


def test_create_account(rep, client_for):
    response = client_for(rep).post(reverse("accounts:account-create"), VALID)
    account = Account.objects.get(name="Ferretería La Paloma")
    assert response.status_code == 302 and response.url == account.get_absolute_url()
    assert account.owner == rep
    assert account.phone == "+523312345678"
    assert sorted(t.name for t in account.tags.all()) == ["ferretería", "jalisco"]


def test_create_with_wrong_rfc_shows_spanish_error_and_saves_nothing(rep, client_for):
    response = client_for(rep).post(
        reverse("accounts:account-create"), {**VALID, "tax_id": "GODE561231GR9"}
    )
    assert response.status_code == 422
    assert "dígito verificador" in response.text
    assert not Account.objects.exists()


def test_create_warns_of_duplicates_then_creates_on_confirmation(rep, client_for):
    existing = AccountFactory(tax_id="GODE561231GR8", name="La Paloma")
    client = client_for(rep)
    response = client.post(reverse("accounts:account-create"), VALID)
    assert response.status_code == 200
    assert "Puede que esta cuenta ya exista" in response.text
    assert existing.get_absolute_url() in response.text
    assert Account.objects.count() == 1
    response = client.post(reverse("accounts:account-create"), {**VALID, "confirm_duplicates": "1"})
    assert response.status_code == 302
    assert Account.objects.count() == 2


def test_update_archive_restore(rep, client_for):
    account = AccountFactory(owner=rep)
    client = client_for(rep)
    response = client.get(reverse("accounts:account-update", args=[account.pk]))
    assert response.status_code == 200
    response = client.post(reverse("accounts:account-archive", args=[account.pk]))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.is_archived
    assert (
        "archivada" in client.get(account.get_absolute_url()).text
    )  # shows, and uses, the message
    listing = client.get(reverse("accounts:account-list"))
    assert account.name not in listing.text
    assert account.name in client.get(reverse("accounts:account-list"), {"archived": "on"}).text
    client.post(reverse("accounts:account-restore", args=[account.pk]))
    account.refresh_from_db()
    assert not account.is_archived


def test_archive_needs_post(rep, client_for):
    account = AccountFactory(owner=rep)
    response = client_for(rep).get(reverse("accounts:account-archive", args=[account.pk]))
    assert response.status_code == 405


def test_picker_suggests_accounts(rep, client_for):
    AccountFactory(name="Aceros del Norte")
    response = client_for(rep).get(
        reverse("accounts:account-picker"), {"account__search": "acer"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "data-pick-id" in response.text and "Aceros del Norte" in response.text


def test_untouched_filter_selects_do_not_filter(rep, client_for):
    """The filter bar sends every select, the empty ones too: "—" means any value."""
    AccountFactory(name="Aceros del Norte", owner=rep)
    response = client_for(rep).get(
        reverse("accounts:account-list"),
        {"q": "", "status": "", "tier": "", "industry": "", "country": "", "owner": "", "sort": ""},
    )
    assert "Aceros del Norte" in response.text


def test_list_pages_without_counting_and_counts_on_its_own_request(
    rep, client_for, django_assert_max_num_queries
):
    for _ in range(30):
        AccountFactory(owner=rep, status="activo")
    AccountFactory(owner=rep, status="prospecto")
    client = client_for(rep)
    first = client.get(reverse("accounts:account-list"))
    assert "1–25" in first.text and "?page=2" in first.text
    second = client.get(reverse("accounts:account-list"), {"page": 2})
    assert "26–31" in second.text and "?page=3" not in second.text
    beyond = client.get(reverse("accounts:account-list"), {"page": 99})
    assert beyond.status_code == 200 and "No hay cuentas" in beyond.text
    with django_assert_max_num_queries(3):
        total = client.get(
            reverse("accounts:account-count"), {"status": "activo"}, HTTP_HX_REQUEST="true"
        )
    assert "de 30 en total" in total.text


def test_a_tag_longer_than_the_tag_table_holds_is_the_forms_error(rep, client_for):
    """SQLite kept it; PostgreSQL refused it with a 500."""
    client = client_for(rep)
    response = client.post(reverse("accounts:account-create"), {**VALID, "tags": "x" * 101})
    assert response.status_code == 422
    assert "Cada etiqueta admite como máximo 100 caracteres." in response.content.decode()
    assert not Account.objects.exists()


# No lost update (issue 13 §2) ------------------------------------------------------------


def test_a_stale_edit_overwrites_nothing_and_saving_again_reapplies(rep, manager, client_for):
    account = AccountFactory(owner=rep, name="Aceros del Norte", notes="")
    client = client_for(rep)
    url = reverse("accounts:account-update", args=[account.pk])
    data = form_values(client.get(url).text)
    # Meanwhile the manager saves the same account.
    services.account_update(actor=manager, account=account, data={"name": "Aceros del Bajío"})

    response = client.post(url, {**data, "name": "Aceros Norteños", "notes": "Visita el lunes"})

    assert response.status_code == 409
    account.refresh_from_db()
    assert (account.name, account.notes) == ("Aceros del Bajío", "")
    page = response.text
    assert f"{manager} guardó cambios en «Aceros del Bajío»" in page
    assert "Revisa lo que cambió y vuelve a guardar." in page
    assert "Nombre comercial</td>" in page and "<td>Aceros del Norte</td>" in page
    again = form_values(page)
    assert (again["name"], again["notes"]) == ("Aceros Norteños", "Visita el lunes")
    assert again["version"] != data["version"]

    response = client.post(url, again)

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.notes) == ("Aceros Norteños", "Visita el lunes")


def test_an_edit_without_its_version_is_refused_like_a_stale_one(rep, client_for):
    account = AccountFactory(owner=rep, name="Aceros del Norte")
    client = client_for(rep)
    url = reverse("accounts:account-update", args=[account.pk])
    data = form_values(client.get(url).text)
    del data["version"]  # a page from before the check

    response = client.post(url, {**data, "name": "Aceros Norteños"})

    assert response.status_code == 409
    assert "no indica qué versión" in response.text
    account.refresh_from_db()
    assert account.name == "Aceros del Norte"
    assert client.post(url, form_values(response.text)).status_code == 302
    account.refresh_from_db()
    assert account.name == "Aceros Norteños"
