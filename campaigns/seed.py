"""Demo data of the campaigns module: topics, segments, past campaigns with their ledger and
tracking, one scheduled, one draft, and a suppression list.

Called by `seed_demo` after the contacts, accounts and deals exist. The recipients of each past
campaign are what the product itself would pick (the segment compiled and filtered by the
eligibility rule, deduplicated by address); only the outcomes (opens, clicks, bounces,
unsubscribes) are drawn at random, at rates typical of B2B email in Mexico and Spain, from a
random sequence of its own (seeded with the load's seed), so the campaigns do not change with
how much the other apps drew.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from campaigns import content
from campaigns.eligibility import eligible_q
from campaigns.models import Campaign, CampaignLink, Segment, Send, Suppression, TrackingEvent
from campaigns.segments import segment_queryset
from contacts.models import Consent, ConsentLatest, Topic
from contacts.services import consent_latest_advance
from crm.core.models import Role, User
from crm.core.seeding import Demo

BATCH = 2000

TOPICS = [
    ("Novedades", "Lanzamientos de productos y noticias de la empresa."),
    ("Ofertas y promociones", "Descuentos por temporada y precios especiales."),
    ("Eventos y ferias", "Invitaciones a ferias, webinars y presentaciones."),
    ("Boletín mensual", "Resumen del mes con casos de clientes y consejos."),
]

SEGMENTS = [
    (
        "Clientes A y B",
        "Las cuentas que más aportan: cuidar la relación.",
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [{"field": "tier", "op": "in", "value": ["A", "B"]}],
                },
            ],
        },
    ),
    (
        "Leads calificados (MQL y SQL)",
        "Contactos listos para una oferta.",
        {
            "match": "all",
            "groups": [
                {
                    "match": "any",
                    "conditions": [
                        {"field": "lifecycle", "op": "in", "value": ["mql", "sql"]},
                        {"field": "lead_score", "op": "gte", "value": 60},
                    ],
                },
            ],
        },
    ),
    (
        "Manufactura y construcción",
        "Sectores industriales para la feria.",
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "industry", "op": "in", "value": ["manufactura", "construccion"]},
                    ],
                },
            ],
        },
    ),
    (
        "Toda la base con correo",
        "Cualquier contacto vivo: el boletín mensual.",
        {"match": "all", "groups": []},
    ),
]

# The merge fields ({{ … }}) are the campaign's own; [intro], [path], [slug] and [cta] are
# filled in here (str.format would eat the merge fields' braces).
BODY = """<h1>Hola {{ nombre|default:"cliente" }},</h1>
<p>[intro]</p>
<p><a href="https://www.ejemplo.com.mx/[path]?utm_source=crm&utm_campaign=[slug]">[cta]</a></p>
<p>Si tienes dudas, responde a este correo o escribe a {{ vendedor|default:"tu asesor" }}.</p>
<p>Un saludo,<br>El equipo comercial</p>"""

# name, topic, segment, subject, intro, path, cta, days ago, cost
CAMPAIGNS = [
    (
        "Lanzamiento línea industrial",
        0,
        2,
        'Nueva línea industrial para {{ empresa|default:"tu empresa" }}',
        "Presentamos la nueva línea de equipos con entrega en 48 horas.",
        "linea-industrial",
        "Ver la línea completa",
        150,
        "4500.00",
    ),
    (
        "Promoción de verano",
        1,
        1,
        '{{ nombre|default:"Hola" }}, 15 % de descuento este mes',
        "Durante julio, 15 % de descuento en pedidos de más de 20 piezas.",
        "promocion-verano",
        "Aprovechar la promoción",
        120,
        "3200.00",
    ),
    (
        "Invitación Expo Industrial",
        2,
        2,
        "Te esperamos en la Expo Industrial",
        "Visítanos en el stand 214 y conoce las novedades en persona.",
        "expo",
        "Reservar cita",
        90,
        "12000.00",
    ),
    (
        "Boletín de octubre",
        3,
        3,
        "Boletín de octubre: casos de éxito y consejos",
        "Tres clientes nos cuentan cómo redujeron sus tiempos de entrega.",
        "boletin-octubre",
        "Leer el boletín",
        60,
        "800.00",
    ),
    (
        "Buen Fin: precios especiales",
        1,
        0,
        "Precios de Buen Fin para clientes preferentes",
        "Como cliente preferente, tienes acceso anticipado a los precios de Buen Fin.",
        "buen-fin",
        "Ver precios",
        20,
        "2500.00",
    ),
]

USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Microsoft Outlook 16.0.17928; Pro)",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Mobile Safari/537.36",
]


@dataclass
class CampaignSeed:
    topics: int = 0
    segments: int = 0
    campaigns: int = 0
    sends: int = 0
    events: int = 0
    suppressions: int = 0


def _bulk(model, objs: list) -> None:
    for start in range(0, len(objs), BATCH):
        model.objects.bulk_create(objs[start : start + BATCH])


def _marketing_user() -> User:
    user = User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()
    return user or User.objects.filter(is_superuser=True).order_by("pk").first()


@transaction.atomic
def seed_campaigns(demo: Demo) -> CampaignSeed:
    rng = random.Random(demo.seed)
    now = demo.now
    author = _marketing_user()
    result = CampaignSeed()
    if author is None or Campaign.objects.exists():
        return result

    topics = [
        Topic.objects.get_or_create(name=name, defaults={"description": text})[0]
        for name, text in TOPICS
    ]
    result.topics = len(topics)
    segments = [
        Segment.objects.create(
            name=name, description=text, definition=definition, created_by=author
        )
        for name, text, definition in SEGMENTS
    ]
    result.segments = len(segments)

    # A few people left one topic but still take the others (per-topic withdrawals).
    _topic_withdrawals(rng, topics, now)
    result.suppressions = _suppressions(rng, author)

    for name, topic_i, segment_i, subject, intro, path, cta, days_ago, cost in CAMPAIGNS:
        sent_at = now - timedelta(days=days_ago, hours=rng.randint(0, 6))
        campaign = _campaign(
            author, name, topics[topic_i], segments[segment_i], subject, intro, path, cta, cost
        )
        campaign.status = Campaign.Status.SENT
        campaign.started_at = sent_at
        campaign.finished_at = sent_at + timedelta(minutes=rng.randint(8, 40))
        campaign.materialized_at = sent_at
        campaign.sent_by = author
        campaign.save()
        sends, events = _history(rng, campaign, sent_at, now)
        result.campaigns += 1
        result.sends += sends
        result.events += events

    scheduled = _campaign(
        author,
        "Catálogo 2027",
        topics[0],
        segments[1],
        'Catálogo 2027: todo lo nuevo para {{ empresa|default:"tu empresa" }}',
        "El catálogo 2027 ya está aquí, con más de 300 productos nuevos.",
        "catalogo-2027",
        "Descargar el catálogo",
        "1500.00",
    )
    scheduled.status = Campaign.Status.SCHEDULED
    scheduled.scheduled_at = now + timedelta(days=5)
    scheduled.save()
    _campaign(
        author,
        "Felicitación de fin de año",
        topics[3],
        segments[3],
        'Felices fiestas, {{ nombre|default:"amigo" }}',
        "Gracias por un año de trabajo juntos. Te deseamos unas felices fiestas.",
        "fiestas",
        "Ver horarios de diciembre",
        "0.00",
    )
    result.campaigns += 2
    return result


def _campaign(author, name, topic, segment, subject, intro, path, cta, cost) -> Campaign:
    slug = path.replace("/", "-")
    body = BODY
    for key, value in {"intro": intro, "path": path, "slug": slug, "cta": cta}.items():
        body = body.replace(f"[{key}]", value)
    body = content.sanitize_html(body)
    campaign = Campaign.objects.create(
        name=name,
        topic=topic,
        segment=segment,
        subject=subject,
        preheader=intro[:120],
        html_body=body,
        text_body=content.html_to_text(body),
        cost=cost,
        created_by=author,
    )
    CampaignLink.objects.bulk_create(
        [CampaignLink(campaign=campaign, url=url) for url in content.extract_links(body)]
    )
    return campaign


def _recipients(campaign: Campaign, sent_at: datetime) -> list[tuple[int, str]]:
    """(contact id, email) as the materialiser picks them: eligible, one per address; and,
    since this campaign went out in the past, only those who had consented by then."""
    rows = (
        segment_queryset(campaign.segment)
        .filter(eligible_q(campaign.topic_id))
        .filter(
            consent_latest__channel=Consent.Channel.EMAIL,
            consent_latest__topic__isnull=True,
            consent_latest__entry__at__lte=sent_at,
        )
        .order_by("pk")
        .values_list("pk", "email")
    )
    seen, picked = set(), []
    for pk, email in rows.iterator(chunk_size=5000):
        if email.lower() not in seen:
            seen.add(email.lower())
            picked.append((pk, email.lower()))
    return picked


def _history(rng: random.Random, campaign: Campaign, sent_at: datetime, now: datetime):
    """The ledger and the tracking of a past campaign. Each message's outcome is drawn before
    its row is written (one INSERT per batch, no UPDATE afterwards); the events then take the
    ids the INSERT returned."""
    link = campaign.links.first()
    open_rate = rng.uniform(0.22, 0.34)
    click_rate = rng.uniform(0.08, 0.16)  # of those who opened
    sends, plans = [], []
    for pk, email in _recipients(campaign, sent_at):
        at = sent_at + timedelta(seconds=rng.randint(0, 1800))
        sent = rng.random() > 0.012
        send = Send(
            campaign=campaign,
            contact_id=pk,
            email=email,
            status=Send.Status.SENT if sent else Send.Status.FAILED,
            attempts=1,
            claimed_at=at,
            sent_at=at if sent else None,
            message_id=f"<seed.{campaign.pk}.{pk}@crm.local>" if sent else "",
            error="" if sent else "550 5.1.1 Buzón inexistente",
        )
        sends.append(send)
        if not sent:
            continue
        plan = {"send": send, "bounced": rng.random() < 0.008}
        plans.append(plan)
        if plan["bounced"]:
            send.bounced_at = sent_at + timedelta(minutes=2)
            continue
        plan["machine"] = rng.random() < 0.06  # a privacy proxy fetched the pixel right away
        if rng.random() >= open_rate:
            continue
        send.first_opened_at = min(now, at + timedelta(minutes=rng.expovariate(1 / 600)))
        plan["opens"] = 1 + (rng.random() < 0.3)
        if link and rng.random() < click_rate:
            send.first_clicked_at = min(
                now, send.first_opened_at + timedelta(seconds=rng.randint(5, 300))
            )
        plan["unsubscribed"] = rng.random() < 0.01
    _bulk(Send, sends)  # sets each row's id

    events = []
    for plan in plans:
        send = plan["send"]
        ids = {"send_id": send.pk, "campaign_id": campaign.pk, "contact_id": send.contact_id}
        if plan["bounced"]:
            events.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.BOUNCE,
                    at=send.bounced_at,
                    detail="550 mailbox unavailable",
                    **ids,
                )
            )
            continue
        if plan["machine"]:
            events.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.OPEN,
                    at=send.sent_at + timedelta(seconds=5),
                    is_machine=True,
                    user_agent="Mozilla/5.0",
                    **ids,
                )
            )
        first = send.first_opened_at
        if first is None:
            continue
        for i in range(plan["opens"]):
            events.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.OPEN,
                    at=min(now, first + timedelta(hours=i * 20)),
                    user_agent=rng.choice(USER_AGENTS),
                    **ids,
                )
            )
        if send.first_clicked_at is not None:
            events.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.CLICK,
                    at=send.first_clicked_at,
                    link=link,
                    user_agent=rng.choice(USER_AGENTS),
                    **ids,
                )
            )
        if plan["unsubscribed"]:
            events.append(
                TrackingEvent(
                    kind=TrackingEvent.Kind.UNSUBSCRIBE,
                    at=min(now, first + timedelta(minutes=1)),
                    **ids,
                )
            )
    _bulk(TrackingEvent, events)
    # A hard bounce or a refused address suppresses it, as the sending and webhook code do.
    Suppression.objects.bulk_create(
        [
            Suppression(email=send.email, reason=Suppression.Reason.BOUNCE, note=campaign.name)
            for send in sends
            if send.status == Send.Status.FAILED or send.bounced_at is not None
        ],
        ignore_conflicts=True,
    )
    _unsubscribes(campaign)
    return len(sends), len(events)


def _unsubscribes(campaign: Campaign) -> None:
    """The ledger entries of the seeded unsubscribes, as the one-click link writes them."""
    for event in campaign.events.filter(kind=TrackingEvent.Kind.UNSUBSCRIBE):
        entry = Consent.objects.create(
            contact_id=event.contact_id,
            channel=Consent.Channel.EMAIL,
            topic=campaign.topic,
            action=Consent.Action.WITHDRAW,
            at=event.at,
            source=Consent.Source.UNSUBSCRIBE,
            note=campaign.name,
        )
        consent_latest_advance(entry)


def _topic_withdrawals(rng: random.Random, topics: list[Topic], now: datetime) -> None:
    # Granted at least 180 days ago: they left the topic after subscribing, before the campaigns.
    granted = list(
        ConsentLatest.objects.filter(
            channel=Consent.Channel.EMAIL,
            topic__isnull=True,
            action=Consent.Action.GRANT,
            entry__at__lt=now - timedelta(days=180),
        ).values_list("contact_id", "entry__at")[:5000]
    )
    for contact_id, granted_at in rng.sample(
        granted, min(len(granted), max(1, len(granted) // 40))
    ):
        room = (now - timedelta(days=170) - granted_at).total_seconds()
        entry = Consent.objects.create(
            contact_id=contact_id,
            channel=Consent.Channel.EMAIL,
            topic=rng.choice(topics[1:]),
            action=Consent.Action.WITHDRAW,
            at=granted_at + timedelta(seconds=rng.uniform(3600, max(7200, room))),
            source=Consent.Source.UNSUBSCRIBE,
        )
        consent_latest_advance(entry)


def _suppressions(rng: random.Random, author) -> int:
    rows = [
        Suppression(email=f"rebote{n}@correo-inexistente.mx", reason=Suppression.Reason.BOUNCE)
        for n in range(1, 6)
    ] + [
        Suppression(
            email="compras@competencia-ejemplo.mx",
            reason=Suppression.Reason.MANUAL,
            note="Pidió por teléfono no recibir correos comerciales.",
            created_by=author,
        )
    ]
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
