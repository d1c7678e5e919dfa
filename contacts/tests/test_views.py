import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from contacts import services
from contacts.models import Consent, Contact
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.tests.pages import form_values, rows_naming

pytestmark = pytest.mark.django_db


def _valid(account) -> dict:
    return {
        "first_name": "María José",
        "last_name": "Pérez Gómez",
        "email": "MJ.Perez@Ejemplo.MX",
        "mobile": "55 1234 5678",
        "phone": "",
        "job_title": "Compras",
        "account": account.pk,
        "lifecycle": "lead",
        "lead_source": "web",
        "lead_score": 30,
        "country": "MX",
        "tags": "feria",
    }


def test_list_and_filters(rep, client_for):
    granted = ContactFactory(owner=rep, first_name="Ana", last_name="Zapata", lifecycle="mql")
    ConsentFactory(contact=granted)
    ContactFactory(owner=rep, first_name="Beto", last_name="Yáñez", lifecycle="lead")
    client = client_for(rep)
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 200
    assert "Ana Zapata" in response.text and "Beto Yáñez" in response.text
    response = client.get(
        reverse("contacts:contact-list"), {"lifecycle": "mql", "consent": "grant"}
    )
    assert "Ana Zapata" in response.text and "Beto Yáñez" not in response.text
    response = client.get(reverse("contacts:contact-list"), {"q": "yanez"}, HTTP_HX_REQUEST="true")
    assert "Beto Yáñez" in response.text and "<html" not in response.text


def test_list_rows_show_their_tags_alphabetically_and_their_consent(rep, client_for):
    tagged = ContactFactory(
        owner=rep, first_name="Ana", last_name="Zapata", tags=["feria", "clientes"]
    )
    ConsentFactory(contact=tagged)
    ContactFactory(owner=rep, first_name="Beto", last_name="Yáñez")
    response = client_for(rep).get(reverse("contacts:contact-list"))
    rows = rows_naming(response.text, "Ana Zapata", "Beto Yáñez")
    assert rows["Ana Zapata"].index(">clientes<") < rows["Ana Zapata"].index(">feria<")
    assert "Sí" in rows["Ana Zapata"] and "Sin registro" in rows["Beto Yáñez"]
    assert "border tag" not in rows["Beto Yáñez"]


def test_list_filtered_by_account_names_it(rep, client_for):
    contact = ContactFactory(owner=rep)
    response = client_for(rep).get(
        reverse("contacts:contact-list"), {"account": contact.account_id}
    )
    assert contact.account.name in response.text
    assert contact.full_name in response.text


def test_list_query_count_is_constant(rep, client_for, django_assert_max_num_queries):
    for i in range(60):
        contact = ContactFactory(owner=rep, tags=[f"t{i % 4}"])
        if i % 2:
            ConsentFactory(contact=contact)
    client = client_for(rep)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("contacts:contact-list")).status_code == 200
    with django_assert_max_num_queries(8):
        client.get(
            reverse("contacts:contact-list"), {"page": 2, "consent": "grant", "sort": "account"}
        )


def test_detail_shows_consent_and_history(rep, client_for, django_assert_max_num_queries):
    contact = ContactFactory(owner=rep)
    ConsentFactory(contact=contact, text_version="aviso v3")
    client = client_for(rep)
    with django_assert_max_num_queries(12):
        response = client.get(contact.get_absolute_url())
    assert response.status_code == 200
    assert contact.full_name in response.text
    assert "Otorgado" in response.text and "aviso v3" in response.text
    assert "Historial de cambios" in response.text


def test_create_contact_normalises_and_redirects(rep, client_for):
    account = AccountFactory(owner=rep)
    response = client_for(rep).post(reverse("contacts:contact-create"), _valid(account))
    contact = Contact.objects.get()
    assert response.status_code == 302 and response.url == contact.get_absolute_url()
    assert contact.email == "mj.perez@ejemplo.mx"
    assert contact.mobile == "+525512345678"
    assert contact.owner == rep and contact.account == account


def test_the_edit_form_does_not_type_the_score(rep, client_for):
    """The lead score is the rules' (contacts.scoring): a posted value is not taken."""
    contact = ContactFactory(owner=rep, first_name="Ana", lead_score=10)
    client = client_for(rep)
    url = reverse("contacts:contact-update", args=[contact.pk])
    page = client.get(url).text
    assert 'name="lead_score"' not in page
    response = client.post(url, {**form_values(page), "first_name": "Anita", "lead_score": 90})
    contact.refresh_from_db()
    assert response.status_code == 302 and contact.first_name == "Anita"
    assert contact.lead_score == 10


def test_create_form_preselects_account(rep, client_for):
    account = AccountFactory(owner=rep, name="Aceros del Norte")
    response = client_for(rep).get(reverse("contacts:contact-create"), {"account": account.pk})
    assert response.status_code == 200
    assert f'value="{account.pk}"' in response.text and "Aceros del Norte" in response.text


def test_same_email_in_other_case_is_refused(rep, client_for):
    account = AccountFactory(owner=rep)
    ContactFactory(email="mj.perez@ejemplo.mx")
    response = client_for(rep).post(reverse("contacts:contact-create"), _valid(account))
    assert response.status_code == 422
    assert "Ya existe un contacto con este correo electrónico" in response.text
    assert Contact.objects.count() == 1


def test_same_phone_warns_of_duplicate(rep, client_for):
    account = AccountFactory(owner=rep)
    ContactFactory(mobile="+525512345678", first_name="Otra")
    client = client_for(rep)
    response = client.post(reverse("contacts:contact-create"), _valid(account))
    assert "Puede que este contacto ya exista" in response.text
    assert Contact.objects.count() == 1
    response = client.post(
        reverse("contacts:contact-create"), {**_valid(account), "confirm_duplicates": "1"}
    )
    assert response.status_code == 302 and Contact.objects.count() == 2


def test_bad_phone_is_a_field_error(rep, client_for):
    account = AccountFactory(owner=rep)
    response = client_for(rep).post(
        reverse("contacts:contact-create"), {**_valid(account), "mobile": "12"}
    )
    assert response.status_code == 422
    assert "no es un número de teléfono" in response.text
    assert not Contact.objects.exists()


def test_record_consent_withdrawal(rep, client_for):
    contact = ContactFactory(owner=rep)
    ConsentFactory(contact=contact)
    response = client_for(rep).post(
        reverse("contacts:contact-consent", args=[contact.pk]),
        {
            "channel": "email",
            "action": "withdraw",
            "source": "telefono",
            "legal_basis": "consentimiento",
        },
    )
    assert response.status_code == 302
    assert contact.consents.count() == 2
    latest = contact.consents.order_by("-at", "-id").first()
    assert latest.action == Consent.Action.WITHDRAW and latest.recorded_by == rep


def test_record_consent_with_bad_data_changes_nothing(rep, client_for):
    contact = ContactFactory(owner=rep)
    client_for(rep).post(
        reverse("contacts:contact-consent", args=[contact.pk]),
        {"channel": "fax", "action": "grant"},
    )
    assert contact.consents.count() == 0


def test_archive_and_restore(rep, client_for):
    contact = ContactFactory(owner=rep)
    client = client_for(rep)
    client.post(reverse("contacts:contact-archive", args=[contact.pk]))
    contact.refresh_from_db()
    assert contact.is_archived
    client.post(reverse("contacts:contact-restore", args=[contact.pk]))
    contact.refresh_from_db()
    assert not contact.is_archived


def test_untouched_filter_selects_do_not_filter(rep, client_for):
    ContactFactory(owner=rep, first_name="Ana", last_name="Zapata")
    response = client_for(rep).get(
        reverse("contacts:contact-list"),
        {"q": "zapata", "lifecycle": "", "consent": "", "lead_source": "", "min_score": ""},
    )
    assert "Ana Zapata" in response.text


def test_edit_form_shows_phones_as_people_write_them(rep, client_for):
    contact = ContactFactory(owner=rep, mobile="+525512345678")
    response = client_for(rep).get(reverse("contacts:contact-update", args=[contact.pk]))
    assert 'value="+52 55 1234 5678"' in response.text


def test_count_of_the_filtered_list(rep, client_for):
    for i in range(4):
        contact = ContactFactory(owner=rep)
        if i % 2:
            ConsentFactory(contact=contact)
    response = client_for(rep).get(reverse("contacts:contact-count"), {"consent": "grant"})
    assert response.status_code == 200 and "de 2 en total" in response.text


# The panel on an account's sheet: the accounts app only links to it, never imports this one.
def test_contacts_panel_lists_contacts(rep, client_for, django_assert_max_num_queries):
    account = AccountFactory(owner=rep)
    for _ in range(25):
        ContactFactory(owner=rep, account=account)
    client = client_for(rep)
    with django_assert_max_num_queries(6):
        response = client.get(
            reverse("contacts:account-contacts-panel", args=[account.pk]), HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert "Ver todos los contactos" in response.text


HUGE = "9" * 40  # digits past any database integer (SQLite raised OverflowError)


def test_ids_no_account_can_have_answer_a_form_error_or_404_never_500(rep, client_for):
    account = AccountFactory(owner=rep)
    client = client_for(rep)
    client.raise_request_exception = False
    for bad in ("abc", "²", HUGE):  # "²" passes str.isdigit(), not int()
        assert client.get(reverse("contacts:contact-create"), {"account": bad}).status_code == 200
        response = client.post(
            reverse("contacts:contact-create"), {**_valid(account), "account": bad}
        )
        assert response.status_code == 422
        assert 'name="account"' in response.content.decode()
    assert not Contact.objects.exists()
    for name in ("contacts:contact-list", "contacts:contact-count"):
        assert client.get(reverse(name), {"account": HUGE}).status_code == 200
    panel = client.get(f"/contactos/de-cuenta/{HUGE}/")
    assert panel.status_code == 404


def test_a_tag_longer_than_the_tag_table_holds_is_the_forms_error(rep, client_for):
    """SQLite kept it; PostgreSQL refused it with a 500."""
    account = AccountFactory(owner=rep)
    client = client_for(rep)
    response = client.post(
        reverse("contacts:contact-create"), {**_valid(account), "tags": "feria, " + "x" * 101}
    )
    assert response.status_code == 422
    assert "Cada etiqueta admite como máximo 100 caracteres." in response.content.decode()
    assert not Contact.objects.exists()


# No lost update (issue 13 §2) ------------------------------------------------------------


def test_a_stale_edit_overwrites_nothing_and_saving_again_reapplies(rep, manager, client_for):
    contact = ContactFactory(owner=rep, first_name="Ana", job_title="Compras")
    client = client_for(rep)
    url = reverse("contacts:contact-update", args=[contact.pk])
    data = form_values(client.get(url).text)
    # Meanwhile the manager saves the same contact.
    services.contact_update(actor=manager, contact=contact, data={"job_title": "Directora"})

    response = client.post(url, {**data, "first_name": "Anita"})

    assert response.status_code == 409
    contact.refresh_from_db()
    assert (contact.first_name, contact.job_title) == ("Ana", "Directora")
    page = response.text
    assert f"{manager} guardó cambios en «" in page
    assert "Revisa lo que cambió y vuelve a guardar." in page
    assert "<td>Puesto</td>" in page and "<td>Compras</td>" in page and "<td>Directora</td>" in page
    again = form_values(page)
    assert again["first_name"] == "Anita" and again["version"] != data["version"]

    # The user takes the other change into their entries, and saves again.
    response = client.post(url, {**again, "job_title": "Directora"})

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.first_name, contact.job_title) == ("Anita", "Directora")


def test_a_stale_edit_names_who_saved_even_when_the_contact_had_no_history(
    rep, manager, client_for
):
    # Contacts loaded in bulk (the demo data, an import) have no history record yet.
    contact = ContactFactory(owner=rep, job_title="Compras")
    contact.history.all().delete()
    client = client_for(rep)
    url = reverse("contacts:contact-update", args=[contact.pk])
    data = form_values(client.get(url).text)
    services.contact_update(actor=manager, contact=contact, data={"job_title": "Directora"})
    response = client.post(url, {**data, "job_title": "Gerente"})
    assert response.status_code == 409
    assert f"{manager} guardó cambios en «" in response.text


def test_an_edit_without_its_version_is_refused_like_a_stale_one(rep, client_for):
    contact = ContactFactory(owner=rep, first_name="Ana")
    client = client_for(rep)
    url = reverse("contacts:contact-update", args=[contact.pk])
    data = form_values(client.get(url).text)
    data.pop("version")

    response = client.post(url, {**data, "first_name": "Anita"})

    assert response.status_code == 409 and "no indica qué versión" in response.text
    contact.refresh_from_db()
    assert contact.first_name == "Ana"
    assert client.post(url, form_values(response.text)).status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "Anita"


def test_the_form_keeps_the_contacts_time_zone(rep, client_for):
    contact = ContactFactory(owner=rep, time_zone="")
    client = client_for(rep)
    url = reverse("contacts:contact-update", args=[contact.pk])
    page = client.get(url).text
    assert "España: península y Baleares" in page
    bad = client.post(url, {**form_values(page), "time_zone": "Marte/Olympus"})
    assert bad.status_code == 422 and "Marte/Olympus" in bad.text
    contact.refresh_from_db()
    assert contact.time_zone == ""
    client.post(url, {**form_values(page), "time_zone": "Europe/Madrid"})
    contact.refresh_from_db()
    assert contact.time_zone == "Europe/Madrid"


def test_the_sheet_shows_the_local_time_of_a_contact_elsewhere(rep, client_for):
    madrid = ContactFactory(owner=rep, country="ES", time_zone="")
    here = ContactFactory(owner=rep, country="MX", time_zone="")
    client = client_for(rep)
    page = client.get(madrid.get_absolute_url()).text
    assert "Hora local" in page and "España: península y Baleares" in page
    assert "Hora local" not in client.get(here.get_absolute_url()).text
