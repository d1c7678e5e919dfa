"""The one-click unsubscribe under concurrency (PostgreSQL row locks).

A transactional test lives in its own file: pytest-django runs transactional tests after the
others, and with xdist's --dist loadfile a file is handed out whole, so a mixed file would flush
the migrations' data (the default pipeline, the SLA calendar) before other files' tests.
"""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from campaigns import links
from campaigns.models import TrackingEvent
from campaigns.tests.factories import SendFactory, consenting_contact
from contacts.models import Consent


def _path(url: str) -> str:
    return urlsplit(url).path


@pytest.mark.django_db(transaction=True)
def test_a_one_click_post_during_another_writes_no_second_withdrawal():
    """The send row is locked: a POST arriving while another is still in its transaction waits
    for it, then finds the withdrawal already current (without the lock it would write one
    more entry)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from campaigns.services import tracking

    with transaction.atomic():  # the consent factory locks the ledger's projection
        contact = consenting_contact()
        send = SendFactory(contact=contact, sent_at=timezone.now() - timedelta(hours=1))
    url = _path(links.unsubscribe_url(send.pk))
    responses = []

    def second_post():
        try:
            responses.append(Client().post(url, {"List-Unsubscribe": "One-Click"}).status_code)
        finally:
            connection.close()

    with transaction.atomic():
        tracking.unsubscribe(send=send, everything=False, ip_address=None, user_agent="")
        thread = threading.Thread(target=second_post)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the first POST's lock
    thread.join(timeout=10)
    assert responses == [200]
    assert Consent.objects.filter(contact=contact, action="withdraw").count() == 1
    assert TrackingEvent.objects.filter(send=send, kind="baja").count() == 1
