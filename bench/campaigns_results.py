"""The campaign results page under load: 100,000 ledger rows and 50,000 tracking events.

Issue 8's target: the results page (campaigns:campaign-results) p95 ≤ 80 ms. `ensure_campaign()`
finds the bench campaign ("Bench: resultados") or builds it in bulk: one ledger row per address
of the §4 contacts (bench/data.py builds those with seed_demo first), topped up to exactly
100,000 rows with archived contacts of a bench user (the §4 data has fewer distinct
addresses), and exactly 50,000 tracking events over the opened rows. The pages are then
measured by bench/measure.py's `_measure` as a marketing user, through `results_pages()`.

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
from crm.core.models import Role, User  # noqa: E402

BENCH_NAME = "Bench: resultados"
LEDGER_ROWS = 100_000
EVENTS = 50_000
BATCH = 5_000
# The ledger rows the §4 contacts cannot give (see _extra_contacts).
EXTRA_USER = "bench_resultados"
EXTRA_DOMAIN = "resultados.bench.example.com"


def _marketing_user() -> User:
    user = User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()
    if user is None:
        user = User.objects.create_user(
            username="bench_marketing", password=None, role=Role.MARKETING
        )
    return user


def _extra_contacts(n: int, *, at) -> list[int]:
    """`n` archived contacts of their own for the ledger rows the §4 data cannot give.

    The §4 data has 100,000 contacts but fewer distinct addresses (some have none, a few share
    one), and the ledger holds one row per address. The rest of the 100,000 rows go to contacts
    of a bench user, archived (as people are after a campaign) so that no list, count or
    segment of the other rows sees them. Made once: later runs find them in the ledger."""
    user, _created = User.objects.get_or_create(
        username=EXTRA_USER, defaults={"role": Role.MARKETING, "first_name": "Bench"}
    )
    start = Contact.objects.filter(owner=user).count()
    made = Contact.objects.bulk_create(
        (
            Contact(
                first_name=f"Resultado{i}",
                last_name="Bench",
                email=f"r{i}@{EXTRA_DOMAIN}",
                owner=user,
                archived_at=at,
            )
            for i in range(start, start + n)
        ),
        batch_size=BATCH,
    )
    return [c.pk for c in made]


def _events_for(campaign: Campaign, events: int, links: list, rng: random.Random) -> int:
    """Exactly `events` tracking events over the campaign's opened messages: the human open,
    a second open for some, a click for some, a proxy's machine open for a few."""
    built = []
    rows = (
        campaign.sends.filter(first_opened_at__isnull=False)
        .order_by("pk")
        .values_list("pk", "contact_id", "first_opened_at", "first_clicked_at")
    )
    for send_id, contact_id, opened_at, clicked_at in rows.iterator(chunk_size=BATCH):
        if len(built) >= events:
            break
        common = {"send_id": send_id, "campaign_id": campaign.pk, "contact_id": contact_id}
        built.append(TrackingEvent(kind=TrackingEvent.Kind.OPEN, at=opened_at, **common))
        if rng.random() < 0.3:
            built.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.OPEN, at=opened_at + timedelta(hours=20), **common
                )
            )
        if clicked_at:
            built.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.CLICK, at=clicked_at, link=rng.choice(links), **common
                )
            )
        if rng.random() < 0.05:
            built.append(
                TrackingEvent(kind=TrackingEvent.Kind.OPEN, at=opened_at, is_machine=True, **common)
            )
    TrackingEvent.objects.bulk_create(built[:events], batch_size=BATCH)
    return min(len(built), events)


def ensure_campaign(*, rows: int = LEDGER_ROWS, events: int = EVENTS) -> Campaign:
    """The bench campaign with exactly `rows` ledger rows and `events` events (built once; an
    older, smaller one is topped up)."""
    campaign = Campaign.objects.filter(name=BENCH_NAME).first()
    if (
        campaign is not None
        and campaign.sends.count() >= rows
        and campaign.events.count() >= events
    ):
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
        missing = max(rows - len(have), 0)
        # The §4 contacts first (one row per address), in id order.
        picked = (
            Contact.objects.exclude(email="")
            .exclude(pk__in=have)
            .exclude(owner__username__in=(EXTRA_USER, "bench_envios"))
            .order_by("pk")
            .values_list("pk", "email")
        )
        seen = set(campaign.sends.values_list("email", flat=True))
        recipients = []
        for pk, email in picked.iterator(chunk_size=BATCH):
            if len(recipients) >= missing:
                break
            email = email.lower()
            if email in seen:
                continue
            seen.add(email)
            recipients.append((pk, email))
        short = missing - len(recipients)
        if short:
            extra = _extra_contacts(short, at=sent_at + timedelta(days=1))
            recipients += [
                (pk, email)
                for pk, email in Contact.objects.filter(pk__in=extra).values_list("pk", "email")
            ]
        sends = []
        for pk, email in recipients:
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
        if campaign.events.count() < events:
            campaign.events.all().delete()
            _events_for(campaign, events, links, rng)
    if connection.vendor == "postgresql":
        # Fresh bulk rows without statistics get nested-loop plans that take minutes.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE contacts_contact, campaigns_send, campaigns_trackingevent")
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
    """Measure the pages with bench/measure.py's own `_measure` (its Row per page)."""
    from django.test import Client

    from bench.measure import PAGE_TARGET, _measure

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
