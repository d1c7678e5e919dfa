"""The Duplicados pages and the Fusionar screen (crm.top.views_merge)."""

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from crm.core.submit_once import new_token
from crm.top.merge import MAX_SHOWN
from opportunities.models import Activity
from opportunities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db

ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
MERGERS = {"manager", "admin_user"}
PAGES = [
    "crm:merge-contact-duplicates",
    "crm:merge-account-duplicates",
    "crm:merge-contacts",
    "crm:merge-accounts",
]


@pytest.fixture
def twins(rep):
    account = AccountFactory(owner=rep)
    first = ContactFactory(
        owner=rep, account=account, first_name="Lucía", last_name="Ortega", job_title=""
    )
    second = ContactFactory(
        owner=rep, account=account, first_name="Lucia", last_name="Ortega", job_title="Gerente"
    )
    return first, second


@pytest.mark.parametrize("role", ROLES)
def test_who_may_open_the_pages(request, client_for, twins, role):
    client = client_for(request.getfixturevalue(role))
    ids = f"?ids={twins[0].pk}&ids={twins[1].pk}"
    accounts = f"?ids={twins[0].account_id}"
    for name, query in zip(PAGES, ["", "", ids, accounts], strict=True):
        expected = 200 if role in MERGERS else 403
        assert client.get(reverse(name) + query).status_code == expected, name


def test_the_list_pages_link_to_the_duplicates(client_for, manager, rep):
    page = client_for(manager).get(reverse("contacts:contact-list")).text
    assert reverse("crm:merge-contact-duplicates") in page
    page = client_for(manager).get(reverse("accounts:account-list")).text
    assert reverse("crm:merge-account-duplicates") in page
    page = client_for(rep).get(reverse("contacts:contact-list")).text
    assert reverse("crm:merge-contact-duplicates") not in page


def test_the_duplicates_page_lists_the_group(client_for, manager, twins):
    response = client_for(manager).get(reverse("crm:merge-contact-duplicates") + "?criterio=nombre")
    page = response.text
    assert "Lucía Ortega" in page and "Lucia Ortega" in page
    assert f'value="{twins[1].pk}"' in page
    assert "Fusionar los marcados" in page


def test_a_manager_does_not_see_another_teams_duplicates(client_for, manager, other_rep):
    account = AccountFactory(owner=other_rep)
    ContactFactory.create_batch(
        2, owner=other_rep, account=account, first_name="Ana", last_name="Ruiz"
    )
    page = client_for(manager).get(reverse("crm:merge-contact-duplicates") + "?criterio=nombre")
    assert "Ana Ruiz" not in page.text
    assert "No hay duplicados por este criterio." in page.text


def test_the_duplicates_page_queries_are_bounded(
    client_for, admin_user, rep, django_assert_max_num_queries
):
    """Many groups, big and small: the page's queries do not grow with them."""
    account = AccountFactory(owner=rep)
    for n in range(60):
        ContactFactory.create_batch(
            2, owner=rep, account=account, phone=f"+52551000{n:04d}", mobile=""
        )
    ContactFactory.create_batch(
        MAX_SHOWN + 1, owner=rep, account=account, phone="+525599999999", mobile=""
    )
    client = client_for(admin_user)
    url = reverse("crm:merge-contact-duplicates") + "?criterio=telefono"
    client.get(url)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    assert "Siguiente" in response.text
    with django_assert_max_num_queries(12):
        assert client.get(url + "&page=3").status_code == 200


def test_the_merge_screen_shows_fields_defaults_and_what_moves(client_for, manager, rep, twins):
    first, second = twins
    ActivityFactory.create_batch(2, owner=rep, account=first.account, contact=second)
    url = reverse("crm:merge-contacts") + f"?ids={first.pk}&ids={second.pk}"
    page = client_for(manager).get(url).text
    # The survivor's blank job title defaults to the other's.
    assert re.search(rf'id="f_job_title_{second.pk}"\s+value="{second.pk}"\s+checked', page)
    assert "Actividades: <strong>2</strong>" in page
    assert "Se conserva" in page


def test_the_merge_screen_404s_on_records_the_user_may_not_merge(client_for, manager, other_rep):
    mine = ContactFactory(owner=manager)
    theirs = ContactFactory(owner=other_rep)
    url = reverse("crm:merge-contacts") + f"?ids={mine.pk}&ids={theirs.pk}"
    assert client_for(manager).get(url).status_code == 404


def test_one_record_lists_its_likely_duplicates(client_for, manager, twins):
    first, second = twins
    Contact.objects.filter(pk=second.pk).update(mobile_digits=first.mobile_digits)
    page = client_for(manager).get(reverse("crm:merge-contacts") + f"?ids={first.pk}").text
    assert f"?ids={first.pk}&amp;ids={second.pk}" in page


def test_confirm_merges_and_redirects_to_the_survivor(client_for, manager, rep, twins):
    first, second = twins
    activity = ActivityFactory(owner=rep, account=first.account, contact=second)
    data = {
        "ids": [first.pk, second.pk],
        "survivor": second.pk,
        "f_first_name": first.pk,
        "_once": new_token(),
    }
    client = client_for(manager)
    response = client.post(reverse("crm:merge-contacts"), data)
    assert response.status_code == 302
    assert response.url == second.get_absolute_url()
    second.refresh_from_db()
    first.refresh_from_db()
    activity.refresh_from_db()
    assert second.first_name == "Lucía" and second.job_title == "Gerente"
    assert first.merged_into_id == second.pk
    assert activity.contact_id == second.pk
    page = client.get(response.url).text
    assert "Registros fusionados en «Lucía Ortega»." in page
    merged_page = client.get(first.get_absolute_url()).text
    assert "Fusionado en" in merged_page and second.get_absolute_url() in merged_page


def test_sending_the_merge_twice_merges_once(client_for, manager, twins):
    first, second = twins
    data = {"ids": [first.pk, second.pk], "survivor": first.pk, "_once": new_token()}
    client = client_for(manager)
    one = client.post(reverse("crm:merge-contacts"), data)
    two = client.post(reverse("crm:merge-contacts"), data)
    assert one.status_code == 302 and two.status_code == 303
    assert Contact.objects.filter(merged_into=first).count() == 1


def test_merging_again_from_a_stale_page_changes_nothing(client_for, manager, twins):
    first, second = twins
    client = client_for(manager)
    data = {"ids": [first.pk, second.pk], "survivor": first.pk}
    client.post(reverse("crm:merge-contacts"), {**data, "_once": new_token()})
    # The merged record is archived: it is not offered again (404), nothing changes.
    again = client.post(reverse("crm:merge-contacts"), {**data, "_once": new_token()})
    assert again.status_code == 404


def test_a_refused_merge_says_why_and_changes_nothing(client_for, manager, rep, twins):
    first, second = twins
    ActivityFactory(owner=rep, account=first.account, contact=second)
    Contact.objects.filter(pk=second.pk).update(phone="12")
    data = {
        "ids": [first.pk, second.pk],
        "survivor": first.pk,
        "f_phone": second.pk,
        "_once": new_token(),
    }
    response = client_for(manager).post(reverse("crm:merge-contacts"), data)
    assert response.status_code == 422
    assert "No se ha fusionado nada" in response.text
    assert Activity.objects.get().contact_id == second.pk
    assert not Contact.objects.filter(merged_into__isnull=False).exists()


def test_accounts_merge_from_the_screen(client_for, admin_user, rep):
    one = AccountFactory(owner=rep, name="Ferretería Díaz")
    two = AccountFactory(owner=rep, name="Ferreteria Diaz")
    contact = ContactFactory(owner=rep, account=two)
    data = {"ids": [one.pk, two.pk], "survivor": one.pk, "_once": new_token()}
    response = client_for(admin_user).post(reverse("crm:merge-accounts"), data)
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.account_id == one.pk
    page = client_for(admin_user).get(two.get_absolute_url()).text
    assert "Fusionada en" in page
