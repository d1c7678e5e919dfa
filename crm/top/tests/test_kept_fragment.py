"""The contact list's filter bar is drawn once per process for each set of what it is drawn
from ({% kept_fragment %}, crm_tags; ListFilterForm.fragment_key): whoever asks next, with
whatever filters, in whatever language, after any owner changed name, the bar is the one
drawn afresh for them."""

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from crm.core.templatetags import crm_tags
from crm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _bar(html: str) -> str:
    return re.search(r'<form class="card card-body filters.*?</form>', html, re.S).group(0)


@pytest.fixture(autouse=True)
def _nothing_kept():
    crm_tags._FRAGMENTS.clear()
    yield
    crm_tags._FRAGMENTS.clear()


QUERIES = [
    {},
    {"q": "ana"},
    {"q": "<b>beto</b>", "lifecycle": ["mql", "sql"], "consent": "grant"},
    {"country": "ES", "min_score": "20", "city": "Madrid"},  # the folded filters, open
    {"min_score": "abc", "sort": "nada"},  # values the form refuses
    {"mine": "on", "archived": "on", "account": "12"},
]


def test_the_kept_bar_is_the_one_drawn_afresh(client_for, rep, manager):
    ContactFactory(owner=rep)
    url = reverse("contacts:contact-list")
    clients = [client_for(rep), client_for(manager)]
    with override_settings(DEBUG=True):  # drawn each time, never kept
        fresh = [_bar(clients[0].get(url, query).text) for query in QUERIES]
    assert not crm_tags._FRAGMENTS
    kept = [_bar(clients[0].get(url, query).text) for query in QUERIES]
    again = [_bar(clients[1].get(url, query).text) for query in reversed(QUERIES)]
    assert kept == fresh == list(reversed(again))
    assert len(crm_tags._FRAGMENTS) == len(QUERIES)
    assert 'value="&lt;b&gt;beto&lt;/b&gt;"' in fresh[2]
    assert '<details class="mt-2" open>' in fresh[3]
    assert 'value="Madrid"' in fresh[3] and 'value="Madrid"' not in fresh[0]


def test_an_owner_renamed_or_added_is_in_the_next_bar(client_for, rep):
    client = client_for(rep)
    url = reverse("contacts:contact-list")
    assert "Rigoberto" not in _bar(client.get(url).text)
    rep.first_name = "Rigoberto"
    rep.save()
    UserFactory(first_name="Zacarías", last_name="Nuevo", role=rep.role)
    bar = _bar(client.get(url).text)
    assert "Rigoberto" in bar and "Zacarías Nuevo" in bar


def test_each_language_keeps_its_own_bar(client_for, rep):
    client = client_for(rep)
    url = reverse("contacts:contact-list")
    spanish = _bar(client.get(url, headers={"accept-language": "es"}).text)
    client.cookies["django_language"] = "en"
    english = _bar(client.get(url).text)
    assert "Más filtros" in spanish and "More filters" in english
    del client.cookies["django_language"]
    assert _bar(client.get(url, headers={"accept-language": "es"}).text) == spanish


def test_the_tag_needs_a_name_and_a_key():
    with pytest.raises(TemplateSyntaxError):
        Template('{% load crm_tags %}{% kept_fragment "solo" %}x{% endkept_fragment %}')
    page = Template('{% load crm_tags %}{% kept_fragment "t" key %}{{ v }}{% endkept_fragment %}')
    assert page.render(Context({"key": 1, "v": "uno"})) == "uno"
    assert page.render(Context({"key": 1, "v": "otro"})) == "uno"  # the key says what it shows
    assert page.render(Context({"key": 2, "v": "dos"})) == "dos"


def test_without_a_key_nothing_is_kept():
    """A context without the key (a template included elsewhere) draws the markup each time."""
    page = Template('{% load crm_tags %}{% kept_fragment "t" nada %}{{ v }}{% endkept_fragment %}')
    assert page.render(Context({"v": "uno"})) == "uno"
    assert page.render(Context({"v": "dos"})) == "dos"
    assert not crm_tags._FRAGMENTS


@pytest.mark.parametrize("query", QUERIES + [{"page": "3"}], ids=str)
def test_the_bars_key_is_the_forms_own_without_the_form(query, rep):
    from django.http import QueryDict

    from contacts.forms import ContactFilterForm

    data = QueryDict(mutable=True)
    for name, value in query.items():
        data.setlist(name, value if isinstance(value, list) else [value])
    form = ContactFilterForm(data or None)
    assert ContactFilterForm.fragment_key_of(data) == form.fragment_key()


def test_an_unfiltered_page_with_its_bar_kept_builds_no_form(client_for, rep, monkeypatch):
    from contacts.forms import ContactFilterForm

    built = []
    original = ContactFilterForm.__init__

    def counted(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ContactFilterForm, "__init__", counted)
    client = client_for(rep)
    url = reverse("contacts:contact-list")
    first = _bar(client.get(url).text)
    assert len(built) == 1  # drawn once, for the bar to keep
    assert _bar(client.get(url).text) == first
    built.clear()
    client.get(url)
    client.get(reverse("contacts:contact-count"))
    assert built == []  # nothing filtered: neither the list nor its count builds the form
    client.get(url, {"q": "ana"})
    assert len(built) == 1  # a filter asked for: the form cleans it, and draws the new bar


def test_the_bars_key_is_worked_out_only_where_the_bar_is_drawn(client_for, rep, monkeypatch):
    from contacts.forms import ContactFilterForm

    keyed = []
    original = ContactFilterForm.fragment_key_of.__func__

    def counted(cls, data):
        keyed.append(data)
        return original(cls, data)

    monkeypatch.setattr(ContactFilterForm, "fragment_key_of", classmethod(counted))
    client = client_for(rep)
    url = reverse("contacts:contact-list")
    client.get(url, {"q": "ana"})
    assert len(keyed) == 1
    results = client.get(url, {"q": "anab"}, headers={"hx-request": "true"})
    assert results.status_code == 200 and "filters" not in results.text.split("<table")[0]
    assert len(keyed) == 1  # the results alone: no bar, no key
