"""The navbar's sections are drawn once per process for each set of what they read
({% nav_menu %}, crm_tags): whoever asks next, the menu is still theirs, for their page and in
their language."""

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from crm.core.templatetags import crm_tags

pytestmark = pytest.mark.django_db


def _menu(html: str) -> str:
    return re.search(r'<ul class="navbar-nav me-auto">.*?</ul>\s*<form', html, re.S).group(0)


def _active(html: str) -> list[str]:
    return re.findall(r'class="nav-link (?:dropdown-toggle )?active"\s+href="([^"]+)"', _menu(html))


@pytest.fixture(autouse=True)
def _no_menus_kept():
    crm_tags._MENUS.clear()
    yield
    crm_tags._MENUS.clear()


def test_each_role_keeps_its_own_sections(client_for, rep, marketing, support, admin_user):
    clients = {user: client_for(user) for user in (rep, marketing, support, admin_user)}
    home = reverse("crm:home")
    first = {user: _menu(client.get(home).text) for user, client in clients.items()}
    again = {user: _menu(client.get(home).text) for user, client in reversed(clients.items())}
    assert first == again
    assert reverse("campaigns:campaign-list") in first[marketing]
    assert reverse("campaigns:campaign-list") not in first[rep]
    assert reverse("opportunities:board") in first[rep]
    assert reverse("opportunities:board") not in first[support]
    assert reverse("admin:index") in first[admin_user]
    assert reverse("admin:index") not in first[rep]


def test_the_active_section_follows_the_page(client_for, rep):
    client = client_for(rep)
    for _ in range(2):  # drawn, then kept
        assert _active(client.get(reverse("contacts:contact-list")).text) == [
            reverse("contacts:contact-list")
        ]
        assert _active(client.get(reverse("accounts:account-list")).text) == [
            reverse("accounts:account-list")
        ]
        assert _active(client.get(reverse("opportunities:agenda")).text) == [
            reverse("opportunities:agenda")
        ]
        assert _active(client.get(reverse("opportunities:forecast")).text) == [
            reverse("opportunities:board")
        ]


def test_the_menu_speaks_the_users_language(client_for, rep):
    spanish, english = client_for(rep), client_for(rep)
    english.post(reverse("set_language"), {"language": "en", "next": "/"})
    for _ in range(2):
        assert ">Cuentas</a>" in _menu(spanish.get(reverse("crm:home")).text)
        assert ">Accounts</a>" in _menu(english.get(reverse("crm:home")).text)


def test_a_kept_menu_is_the_menu_drawn_afresh(client_for, manager):
    client = client_for(manager)
    url = reverse("opportunities:quotas")
    client.get(url)
    kept = client.get(url).text
    assert crm_tags._MENUS
    with override_settings(DEBUG=True):  # drawn each time
        fresh = client.get(url).text
    assert _menu(kept) == _menu(fresh)
    assert reverse("opportunities:quotas") in _menu(kept)
