"""Leads (issue 9) against their targets: a public sign-up form submission (p95 ≤ 80 ms, posted
as a visitor's browser does, with its signed token), the nightly lead scoring of every contact
(≤ 60 s at 100,000 contacts) and the daily birthday run (≤ 5 s to materialise at 100,000).

Both write (contacts, submissions, scores), so each runs inside a transaction that is rolled
back: the bench database keeps its data, and the work measured is the same (the nightly job's
batches become savepoints). The form's rate limits are lifted for the run: the limits are
asserted by campaigns/tests/test_signup_abuse.py, the speed of a submission here.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from bench.measure import RUNS, WARMUPS, Row
from campaigns import scoring
from campaigns.forms.signup import CONSENT, TOKEN
from campaigns.models import Automation, AutomationStep, SignupForm
from campaigns.services import automations, signup
from campaigns.services import automations_run as run
from contacts.models import Contact, ScoreRule
from crm.core.models import Role, User

SUBMIT_TARGET_P95_MS = 80.0
NIGHTLY_TARGET_S = 60.0
BIRTHDAYS_TARGET_S = 5.0

RULES = [
    {"name": "Construcción", "kind": "perfil", "field": "industria", "values": ["construccion"]},
    {"name": "Compras", "kind": "perfil", "field": "puesto", "values": ["compras", "director"]},
    {"name": "Nuevo León", "kind": "perfil", "field": "region", "values": ["nuevo leon"]},
    {"name": "Abrió", "kind": "comportamiento", "event": "apertura", "half_life_days": 30},
    {"name": "Clic", "kind": "comportamiento", "event": "clic", "half_life_days": 30},
    {"name": "Formulario", "kind": "comportamiento", "event": "formulario", "half_life_days": 90},
]


class _Rollback(Exception):
    pass


def _marketing() -> User:
    return User.objects.filter(role=Role.MARKETING, is_active=True).order_by("pk").first()


def _form(marketing: User, owner: User) -> SignupForm:
    return SignupForm.objects.create(
        name="Bench",
        slug="bench-suscripcion",
        title="Recibe nuestras ofertas",
        fields=[
            {"name": "first_name", "required": True, "label": "Nombre"},
            {"name": "email", "required": True, "label": "Correo"},
            {"name": "phone", "required": False, "label": "Teléfono"},
            {"name": "city", "required": False, "label": "Ciudad"},
        ],
        consent_text="Acepto recibir ofertas por correo.",
        consent_version="bench-v1",
        owner=owner,
        created_by=marketing,
    )


def measure_submit(owner: User) -> Row:
    label = "formulario público: envío (doble confirmación)"
    marketing = _marketing()
    if marketing is None:
        return Row(page=label, url=None, target="-", problems=["sin usuario de marketing"])
    timings: list[float] = []
    status = "200"
    try:
        with (
            override_settings(SIGNUP_RATE_PER_IP=10**9, SIGNUP_RATE_PER_FORM=10**9),
            transaction.atomic(),
        ):
            form = _form(marketing, owner)
            url = reverse("crm:signup-public", args=[form.slug])
            client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Safari", REMOTE_ADDR="201.1.1.1")
            token = signup.form_token(form)
            for n in range(WARMUPS + RUNS):
                data = {
                    TOKEN: token,
                    CONSENT: "on",
                    "first_name": "Lucía",
                    "email": f"bench.suscripcion.{n}@ejemplo.mx",
                    "phone": "55 1234 5678",
                    "city": "Monterrey",
                }
                started = time.perf_counter()
                response = client.post(f"{url}?utm_source=bench", data)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 302:
                    status = str(response.status_code)
                if n >= WARMUPS:
                    timings.append(elapsed)
            raise _Rollback
    except _Rollback:
        pass
    timings.sort()
    p95 = timings[math.ceil(0.95 * len(timings)) - 1]
    problems = [] if p95 <= SUBMIT_TARGET_P95_MS else ["p95"]
    if status != "200":
        problems.append("estado")
    return Row(
        page=label,
        url="/f/<slug>/ (POST)",
        target=f"p95≤{SUBMIT_TARGET_P95_MS:g}",
        status=status,
        median_ms=round(statistics.median(timings), 1),
        p95_ms=round(p95, 1),
        passed=not problems,
        problems=problems,
    )


def measure_nightly() -> Row:
    contacts = Contact.objects.count()
    label = f"puntuación nocturna de {contacts:,} contactos"
    marketing = _marketing()
    changed = 0
    seconds = 0.0
    try:
        with transaction.atomic():
            # Six typical rules in place of any the database has, so that most scores change
            # (the heavy night: every changed contact is written with its history); rolled back.
            ScoreRule.objects.update(active=False)
            for points, rule in enumerate(RULES, start=7):
                ScoreRule.objects.create(points=points, created_by=marketing, **rule)
            started = time.perf_counter()
            changed = scoring.contacts_score_nightly()
            seconds = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    _vacuum()  # the rolled-back updates left a dead row per changed contact
    problems = [] if seconds <= NIGHTLY_TARGET_S else ["tiempo"]
    return Row(
        page=f"{label} ({changed:,} cambian)",
        url="campaigns.scoring.contacts_score_nightly()",
        target=f"≤{NIGHTLY_TARGET_S:g} s",
        status="200",
        median_ms=round(seconds * 1000, 1),
        p95_ms=round(seconds * 1000, 1),
        passed=not problems,
        problems=problems,
    )


def _friday(now: datetime) -> datetime:
    """The coming Friday at 01:00 in the company's zone: the heaviest day of the birthday
    run (its own birthdays in every zone, and the owners' reminders for three days)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    day = timezone.localdate(now, zone)
    day += timedelta(days=(4 - day.weekday()) % 7)
    while not automations.is_working_day(day):
        day += timedelta(days=7)
    return datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(hours=1)


def measure_birthdays() -> Row:
    contacts = Contact.objects.count()
    label = f"cumpleaños del día sobre {contacts:,} contactos"
    marketing = _marketing()
    if marketing is None:
        return Row(page=label, url=None, target="-", problems=["sin usuario de marketing"])
    rows = reminded = 0
    seconds = 0.0
    now = _friday(timezone.now())
    try:
        with transaction.atomic():
            automation = Automation.objects.create(
                name="Bench: cumpleaños",
                kind=Automation.Kind.BIRTHDAY,
                send_hour=9,
                remind_owner=True,
                created_by=marketing,
            )
            AutomationStep.objects.create(
                automation=automation,
                order=1,
                subject="¡Feliz cumpleaños, {{ nombre }}!",
                html_body="<p>Te deseamos un gran día.</p>",
                text_body="Te deseamos un gran día.",
            )
            started = time.perf_counter()
            run.automation_materialise_one(automation=automation, now=now)
            seconds = time.perf_counter() - started
            rows = automation.deliveries.filter(step__isnull=False).count()
            reminded = automation.deliveries.filter(status="aviso").count()
            raise _Rollback
    except _Rollback:
        pass
    problems = [] if seconds <= BIRTHDAYS_TARGET_S else ["tiempo"]
    return Row(
        page=f"{label} ({rows:,} correos, {reminded:,} avisos, viernes)",
        url="campaigns.services.automations_run.automation_materialise_one()",
        target=f"≤{BIRTHDAYS_TARGET_S:g} s",
        status="200",
        median_ms=round(seconds * 1000, 1),
        p95_ms=round(seconds * 1000, 1),
        passed=not problems,
        problems=problems,
    )


def _vacuum() -> None:
    """The rolled-back scoring left a dead row per changed contact and per score change."""
    from bench.imports import _vacuum as vacuum_written_tables
    from bench.imports import restore_tables

    vacuum_written_tables()
    restore_tables(["contacts_scorechange"])


def measure(owner: User) -> list[Row]:
    return [measure_submit(owner), measure_nightly(), measure_birthdays()]


if __name__ == "__main__":
    from bench.pages import _rep

    for row in measure(_rep()):
        print(row)
