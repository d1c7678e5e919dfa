"""The REST API (issue 11) against its targets: the contact list endpoint (p50 ≤ 30 ms, p95 ≤ 80
ms, ≤ 8 queries at 100,000 contacts) and the caller lookup endpoint (p95 ≤ 50 ms), requested as
an integration would: with a personal key of the sales rep, through the test client like the
pages (bench/measure.py). The key is made for the run and removed after it, with its audit
record, so the bench database stays as it was."""

from __future__ import annotations

from bench.measure import Row, Target, _measure
from contacts.models import Contact
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import AuditEvent, User

LIST_TARGET = Target(median_ms=30, p95_ms=80, queries=8)
CALLER_TARGET = Target(median_ms=None, p95_ms=50, queries=None)


def measure(rep: User) -> list[Row]:
    from django.test import Client

    token, key = token_create(user=rep, name="bench", scopes=SCOPES, days=30)
    try:
        client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")
        mobile = (
            Contact.objects.filter(owner=rep).exclude(mobile="").values_list("mobile", flat=True)
        ).first() or ""
        return [
            _measure(client, "API: contactos", "api:contact-list", (), {}, LIST_TARGET),
            _measure(
                client,
                "API: contactos filtrados",
                "api:contact-list",
                (),
                {"lifecycle": "mql", "q": "gar"},
                LIST_TARGET,
            ),
            _measure(
                client,
                "API: quién llama",
                "api:caller-list",
                (),
                {"phone": mobile[-8:]},
                CALLER_TARGET,
            ),
        ]
    finally:
        AuditEvent.objects.filter(target=f"api_token:{token.pk}").delete()
        token.delete()


if __name__ == "__main__":
    from bench.pages import _rep

    for row in measure(_rep()):
        print(row)
