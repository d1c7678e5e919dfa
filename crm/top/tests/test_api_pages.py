"""Paging through the API's contacts (crm.core.api.auth.CursorPage): without filters the pages
are read by SQL kept per shape (crm.core.db.KeptQuery), with filters by the ORM; forwards and
back, every live contact once, in order. A changed cursor is a clear 404, never a 500."""

import base64
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from crm.top.tests.test_api_rows import api

pytestmark = pytest.mark.django_db

URL = reverse("api:contact-list")


def _walk(client, params: dict, link: str = "next") -> list[list[int]]:
    """The ids of each page, following `link` from the first page (or from `params`)."""
    pages, answer = [], client.get(URL, params).json()
    while True:
        pages.append([row["id"] for row in answer["results"]])
        if not answer[link]:
            return pages
        answer = client.get(answer[link]).json()


@pytest.mark.parametrize("filters", [{}, {"lifecycle": ["lead", "mql", "cliente"]}])
def test_every_live_contact_once_forwards_and_back(rep, filters):
    ContactFactory.create_batch(7, owner=rep, lifecycle="lead")
    ContactFactory(owner=rep, lifecycle="mql", archived_at=timezone.now())
    client = api(rep)
    live = Contact.objects.filter(archived_at=None).order_by("-id")
    live = list(live.values_list("pk", flat=True))

    pages = _walk(client, {"page_size": 3, **filters})

    assert pages == [live[0:3], live[3:6], live[6:7]]
    last = client.get(URL, {"page_size": 3, **filters}).json()
    while last["next"]:
        last = client.get(last["next"]).json()
    back = [[row["id"] for row in last["results"]]]
    while last["previous"]:
        last = client.get(last["previous"]).json()
        back.append([row["id"] for row in last["results"]])
    assert back == pages[::-1]


def test_by_name_and_by_id_the_same_contacts(rep):
    for name in ("Zamora", "Arias", "Luna", "Arias", "Mejía"):
        ContactFactory(owner=rep, last_name=name)
    client = api(rep)

    by_name = _walk(client, {"page_size": 2, "ordering": "last_name"})
    by_id = _walk(client, {"page_size": 2})

    assert sorted(sum(by_name, [])) == sorted(sum(by_id, [])) and len(sum(by_id, [])) == 5
    names = dict(Contact.objects.values_list("pk", "last_name"))
    assert [names[pk] for pk in sum(by_name, [])] == sorted(names.values())


def _cursor(**tokens) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.parametrize("filters", [{}, {"lifecycle": "lead"}])
@pytest.mark.parametrize("position", ["abc", "-5", "1e3", "99999999999999999999999", "٣"])
def test_a_changed_cursor_is_a_clear_404(rep, filters, position, settings):
    settings.LANGUAGE_CODE = "es"
    ContactFactory(owner=rep, lifecycle="lead")
    client = api(rep)

    answer = client.get(URL, {"cursor": _cursor(p=position), **filters})

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"] == "El cursor no es válido: pide la primera página otra vez."


def test_a_cursor_past_every_contact_is_an_empty_page(rep):
    contact = ContactFactory(owner=rep)
    client = api(rep)

    answer = client.get(URL, {"cursor": _cursor(p=str(contact.pk))})

    assert answer.status_code == 200 and answer.json()["results"] == []
