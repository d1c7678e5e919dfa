"""The campaign results page under load: 100,000 ledger rows and 50,000 tracking events.

Issue 8's target: the results page (campaigns:campaign-results) p95 ≤ 80 ms. `ensure_campaign()`
finds the bench campaign ("Bench: resultados") or builds it in bulk over the first 100,000
contacts with an address (bench/__main__.py builds those with seed_demo first); the page is
then measured by bench/__main__.py's `_measure` as a marketing user, through `results_pages()`.

Run alone (after `manage.py migrate` and the §4 data): `python -m bench.campaigns_results`.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()  # idempotent: a no-op when bench/__main__.py has set Django up

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.models import Campaign, CampaignLink, Send, TrackingEvent  # noqa: E402
from contacts.models import Contact, Topic  # noqa: E402
from crm.models import Role, User  # noqa: E402

BENCH_NAME = "Bench: resultados"
LEDGER_ROWS = 100_000
EVENTS = 50_000
BATCH = 5_000


def _marketing_user() -> User:
    user = User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()
    if user is None:
        user = User.objects.create_user(
            username="bench_marketing", password=None, role=Role.MARKETING
        )
    return user


def ensure_campaign(*, rows: int = LEDGER_ROWS, events: int = EVENTS) -> Campaign:
    """The bench campaign with `rows` ledger rows and about `events` events (built once)."""
    campaign = Campaign.objects.filter(name=BENCH_NAME).first()
    # Built once: addresses shared by two contacts get one message, so a little under `rows`.
    if campaign is not None and campaign.sends.count() >= 0.9 * min(rows, Contact.objects.count()):
        return campaign
    started = time.perf_counter()
    rng = random.Random(8)
    now = timezone.now()
    sent_at = now - timedelta(days=12)
    with transaction.atomic():
        if campaign is None:
            topic, _ = Topic.objects.get_or_create(name="Novedades")
            campaign = Campaign.objects.create(
                name=BENCH_NAME,
                topic=topic,
                subject="Novedades para {{ nombre }}",
                subject_b="Precios nuevos esta semana",
                status=Campaign.Status.SENT,
                cost=Decimal("25000.00"),
                conversion_window_days=30,
                started_at=sent_at,
                finished_at=sent_at + timedelta(hours=1),
                materialized_at=sent_at,
                created_by=_marketing_user(),
            )
        links = [
            CampaignLink.objects.get_or_create(campaign=campaign, url=url)[0]
            for url in (
                "https://ejemplo.com.mx/ofertas",
                "https://ejemplo.com.mx/catalogo",
                "https://ejemplo.com.mx/contacto",
            )
        ]
        have = set(campaign.sends.values_list("contact_id", flat=True))
        picked = (
            Contact.objects.exclude(email="")
            .exclude(pk__in=have)
            .order_by("pk")
            .values_list("pk", "email")[: max(rows - len(have), 0)]
        )
        seen = set(campaign.sends.values_list("email", flat=True))
        sends = []
        for pk, email in picked.iterator(chunk_size=BATCH):
            email = email.lower()
            if email in seen:
                continue
            seen.add(email)
            at = sent_at + timedelta(seconds=rng.randint(0, 3600))
            opened = rng.random() < 0.3
            clicked = opened and rng.random() < 0.35
            sends.append(
                Send(
                    campaign=campaign,
                    contact_id=pk,
                    email=email,
                    variant="ab"[rng.random() < 0.5],
                    status=Send.Status.SENT,
                    attempts=1,
                    sent_at=at,
                    bounced_at=at if rng.random() < 0.01 else None,
                    first_opened_at=at + timedelta(minutes=30) if opened else None,
                    first_clicked_at=at + timedelta(minutes=31) if clicked else None,
                )
            )
        Send.objects.bulk_create(sends, batch_size=BATCH)
        if not campaign.events.exists():
            built = []
            rows_for_events = campaign.sends.filter(first_opened_at__isnull=False).values_list(
                "pk", "contact_id", "first_opened_at", "first_clicked_at"
            )
            for send_id, contact_id, opened_at, clicked_at in rows_for_events.iterator(
                chunk_size=BATCH
            ):
                if len(built) >= events:
                    break
                common = {"send_id": send_id, "campaign_id": campaign.pk, "contact_id": contact_id}
                built.append(TrackingEvent(kind=TrackingEvent.Kind.OPEN, at=opened_at, **common))
                if clicked_at:
                    built.append(
                        TrackingEvent(
                            kind=TrackingEvent.Kind.CLICK,
                            at=clicked_at,
                            link=rng.choice(links),
                            **common,
                        )
                    )
                if rng.random() < 0.05:
                    built.append(
                        TrackingEvent(
                            kind=TrackingEvent.Kind.OPEN, at=opened_at, is_machine=True, **common
                        )
                    )
            TrackingEvent.objects.bulk_create(built[:events], batch_size=BATCH)
    if connection.vendor == "postgresql":
        # Fresh bulk rows without statistics get nested-loop plans that take minutes.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaigns_send, campaigns_trackingevent")
    print(
        f"Campaña de bench construida: {campaign.sends.count():,} envíos, "
        f"{campaign.events.count():,} eventos en {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return campaign


def results_pages(target) -> tuple[User, list[tuple]]:
    """(marketing user, [(label, URL name, args, query, target), ...]) for bench `_measure`."""
    campaign = ensure_campaign()
    pages = [
        ("campañas: resultados", "campaigns:campaign-results", (campaign.pk,), {}, target),
        (
            "campañas: resultados por etapa",
            "campaigns:campaign-results",
            (campaign.pk,),
            {"por": "lifecycle"},
            target,
        ),
        ("campañas: resumen de resultados", "campaigns:results-overview", (), {}, target),
    ]
    return _marketing_user(), pages


def measure() -> list:
    """Measure the pages with bench/__main__.py's own `_measure` (its Row per page)."""
    from django.test import Client

    from bench.__main__ import PAGE_TARGET, _measure

    user, pages = results_pages(PAGE_TARGET)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return [_measure(client, *page) for page in pages]


if __name__ == "__main__":
    for row in measure():
        print(
            f"{row.page:40} {row.status:>4} med {row.median_ms} ms  p95 {row.p95_ms} ms  "
            f"{row.queries} consultas  {'OK' if row.passed else row.problems}"
        )
