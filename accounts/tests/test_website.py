"""A website is a link only when a browser may safely follow it (issue 13 §5): `javascript:` and
`data:` addresses are refused by the form and never rendered as links."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from accounts.tests.test_views import VALID

pytestmark = pytest.mark.django_db

HOSTILE = [
    "javascript:alert(document.cookie)",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
]
HREF = re.compile(r'href="([^"]*)"')


@pytest.mark.parametrize("website", HOSTILE)
def test_the_form_refuses_a_script_address_in_spanish_and_saves_nothing(rep, client_for, website):
    response = client_for(rep).post(
        reverse("accounts:account-create"), {**VALID, "website": website}
    )
    assert response.status_code == 422
    assert "Introduzca una URL válida." in response.text
    assert not Account.objects.exists()


def test_a_web_address_is_a_link(rep, client_for):
    account = AccountFactory(owner=rep, website="https://www.lapaloma.mx/")
    html = client_for(rep).get(account.get_absolute_url()).text
    assert '<a href="https://www.lapaloma.mx/" rel="noopener noreferrer"' in html


@pytest.mark.parametrize("website", HOSTILE)
def test_a_stored_script_address_is_shown_as_text_not_as_a_link(rep, client_for, website):
    account = AccountFactory(owner=rep)
    Account.objects.filter(pk=account.pk).update(website=website)  # an import, an old version
    html = client_for(rep).get(account.get_absolute_url()).text
    hrefs = [re.sub(r"[\s\x00-\x1f]", "", href).lower() for href in HREF.findall(html)]
    assert not [href for href in hrefs if href.startswith(("javascript:", "data:", "vbscript:"))]
    assert escape(website.strip()) in html  # shown, as text
