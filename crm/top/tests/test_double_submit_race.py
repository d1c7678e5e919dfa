"""A double tap for real: the same form twice at the same instant (crm.core.submit_once).

A transactional test lives in its own file: pytest-django runs transactional tests after the
others, and with xdist's --dist loadfile a file is handed out whole.
"""

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Account
from accounts.tests.test_views import VALID as ACCOUNT
from crm.core.models import Role, SubmittedForm
from crm.core.submit_once import new_token
from crm.core.tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_two_requests_of_the_same_form_at_once_create_one_account(monkeypatch):
    """The second request arrives while the first is still saving: it waits on the token's
    unique index until the first commits, then answers with the first one's result."""
    if connection.vendor != "postgresql":
        pytest.skip("two requests at once need PostgreSQL (the SQLite test database is memory)")
    rep = UserFactory(username="vendedor", role=Role.VENDEDOR)
    real_create = services.account_create
    started = threading.Event()

    def slow_create(**kwargs):
        started.set()
        time.sleep(0.5)  # the second tap lands while this one is inside its transaction
        return real_create(**kwargs)

    monkeypatch.setattr(services, "account_create", slow_create)
    data = {**ACCOUNT, "_once": new_token()}
    url = reverse("accounts:account-create")
    answers: dict[str, object] = {}

    def tap(name: str):
        client = Client()
        client.force_login(rep)
        try:
            if name == "second":
                started.wait(5)
            answers[name] = client.post(url, data)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    account = Account.objects.get()
    assert answers["first"].status_code == 302
    assert answers["second"].status_code == 303
    assert answers["first"].url == answers["second"].url == account.get_absolute_url()
    assert SubmittedForm.objects.get().location == account.get_absolute_url()
