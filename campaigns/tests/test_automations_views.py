"""Automations' pages: who reaches them, the list's counts in constant queries, the editor
with its steps, pause and resume, the detail, and the recipient's one-click unsubscribe."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Automation, AutomationDelivery, AutomationStep
from campaigns.services import automations as services
from campaigns.tests.factories import (
    AutomationFactory,
    TopicFactory,
    consenting_contact,
)
from contacts.models import Consent
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db
ROLES = ["rep", "manager", "support", "marketing", "admin_user"]
MANAGE = {"marketing", "admin_user"}
Row = AutomationDelivery.Status


def _delivery(automation, contact, status=Row.SENT, occurrence="2026", **extra):
    extra.setdefault("step", automation.steps.first())
    return AutomationDelivery.objects.create(
        automation=automation,
        contact=contact,
        occurrence=occurrence,
        email=contact.email,
        status=status,
        due_at=timezone.now(),
        sent_at=timezone.now() if status in (Row.SENT, Row.REMINDED) else None,
        **extra,
    )


@pytest.mark.parametrize("role", ROLES)
def test_pages_per_role(request, client_for, role, marketing):
    user = request.getfixturevalue(role)
    automation = AutomationFactory(created_by=marketing)
    client = client_for(user)
    for url in (
        reverse("campaigns:automation-list"),
        reverse("campaigns:automation-create"),
        reverse("campaigns:automation-detail", args=[automation.pk]),
        reverse("campaigns:automation-edit", args=[automation.pk]),
    ):
        assert client.get(url).status_code == (200 if role in MANAGE else 403), (url, role)
    response = client.post(reverse("campaigns:automation-pause", args=[automation.pk]))
    automation.refresh_from_db()
    if role in MANAGE:
        assert response.status_code == 302
        assert automation.status == Automation.Status.PAUSED
    else:
        assert response.status_code == 403
        assert automation.status == Automation.Status.ACTIVE


def test_the_navbar_links_to_automations(client_for, marketing):
    response = client_for(marketing).get(reverse("campaigns:automation-list"))
    assert reverse("campaigns:automation-list").encode() in response.content
    assert "Automatizaciones" in response.content.decode()


def test_the_list_counts_in_constant_queries(client_for, marketing, django_assert_max_num_queries):
    contacts = [consenting_contact() for _ in range(5)]
    automations = [AutomationFactory(created_by=marketing) for _ in range(25)]
    rows = []
    for index, automation in enumerate(automations):
        step = automation.steps.first()
        for number, contact in enumerate(contacts):
            status = Row.SENT if number < index % 4 else Row.PENDING
            rows.append(
                AutomationDelivery(
                    automation=automation,
                    step=step,
                    contact=contact,
                    occurrence="2026",
                    email=contact.email,
                    status=status,
                    due_at=timezone.now(),
                )
            )
    AutomationDelivery.objects.bulk_create(rows)
    client = client_for(marketing)
    client.get(reverse("campaigns:automation-list"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("campaigns:automation-list"))
    assert response.status_code == 200
    first = sorted(automations, key=lambda a: (a.name, a.pk))[0]
    row = re.search(
        rf'href="/campanas/automatizaciones/{first.pk}/".*?</tr>', response.content.decode(), re.S
    ).group(0)
    sent = first.deliveries.filter(status=Row.SENT).count()
    assert re.findall(r">(\d+)</td>", row) == [str(sent), str(5 - sent), "0"]


def _post_data(**overrides):
    data = {
        "name": "Bienvenida",
        "kind": "bienvenida",
        "topic": "",
        "send_hour": "9",
        "holiday_country": "",
        "inactive_days": "",
        "suppress_after_days": "",
        "pasos-TOTAL_FORMS": "2",
        "pasos-INITIAL_FORMS": "0",
        "pasos-MIN_NUM_FORMS": "0",
        "pasos-MAX_NUM_FORMS": "3",
        "pasos-0-order": "1",
        "pasos-0-delay_days": "0",
        "pasos-0-delay_hours": "0",
        "pasos-0-subject": "Hola {{ nombre }}",
        "pasos-0-preheader": "",
        "pasos-0-html_body": "<p>Bienvenida, {{ nombre }}</p><script>x()</script>",
        "pasos-1-order": "2",
        "pasos-1-delay_days": "3",
        "pasos-1-delay_hours": "0",
        "pasos-1-subject": "¿Qué te pareció?",
        "pasos-1-preheader": "",
        "pasos-1-html_body": "<p>Seguimos aquí.</p>",
    }
    data.update(overrides)
    return data


def test_create_with_steps(client_for, marketing):
    response = client_for(marketing).post(reverse("campaigns:automation-create"), _post_data())
    automation = Automation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == automation.get_absolute_url()
    steps = list(automation.steps.values_list("order", "delay_days", "html_body"))
    assert steps == [(1, 0, "<p>Bienvenida, {{ nombre }}</p>"), (2, 3, "<p>Seguimos aquí.</p>")]
    assert AuditEvent.objects.filter(action="create", target__endswith=f":{automation.pk}").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pasos-0-subject": "Hola {{ apodo }}"}, "El campo «apodo» no existe"),
        ({"name": ""}, "Este campo es requerido"),
        (
            {"kind": "reactivacion", "inactive_days": "", "suppress_after_days": ""},
            "Indica tras cuántos días sin actividad",
        ),
        ({"kind": "festivo", "holiday_country": "MX"}, "Elige al menos un festivo"),
        ({"kind": "cumpleanos", "send_hour": "22"}, "horario de silencio"),
        ({"pasos-1-order": "1"}, "Dos mensajes no pueden tener el mismo paso"),
        (
            {
                "pasos-TOTAL_FORMS": "1",
                "pasos-0-subject": "",
                "pasos-0-html_body": "",
                "pasos-0-order": "1",
            },
            "Una automatización tiene de 1 a 3 mensajes",
        ),
    ],
)
def test_a_bad_form_shows_spanish_errors_and_writes_nothing(
    client_for, marketing, overrides, message
):
    response = client_for(marketing).post(
        reverse("campaigns:automation-create"), _post_data(**overrides)
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Automation.objects.exists()
    assert not AutomationStep.objects.exists()


def test_edit_keeps_the_kind_and_replaces_steps(client_for, marketing):
    automation = AutomationFactory(created_by=marketing, kind="cumpleanos")
    step = automation.steps.get()
    data = _post_data(
        name="Cumpleaños clientes",
        kind="festivo",
        **{
            "pasos-TOTAL_FORMS": "1",
            "pasos-INITIAL_FORMS": "1",
            "pasos-0-id": str(step.pk),
            "pasos-0-automation": str(automation.pk),
        },
    )
    response = client_for(marketing).post(
        reverse("campaigns:automation-edit", args=[automation.pk]), data
    )
    assert response.status_code == 302
    automation.refresh_from_db()
    assert (automation.name, automation.kind) == ("Cumpleaños clientes", "cumpleanos")
    assert list(automation.steps.values_list("pk", "subject")) == [(step.pk, "Hola {{ nombre }}")]


def test_holiday_automation_with_its_calendar(client_for, marketing):
    data = _post_data(
        name="Festivos",
        kind="festivo",
        holiday_country="MX",
        holiday_names=["Navidad", "Día de la Independencia"],
        **{"pasos-TOTAL_FORMS": "1"},
    )
    response = client_for(marketing).post(reverse("campaigns:automation-create"), data)
    assert response.status_code == 302
    automation = Automation.objects.get()
    assert sorted(automation.holiday_names) == ["Día de la Independencia", "Navidad"]
    detail = client_for(marketing).get(automation.get_absolute_url())
    assert "Navidad" in detail.content.decode()


def test_pause_and_resume_are_post_and_audited(client_for, marketing):
    automation = AutomationFactory(created_by=marketing)
    client = client_for(marketing)
    assert (
        client.get(reverse("campaigns:automation-pause", args=[automation.pk])).status_code == 405
    )
    client.post(reverse("campaigns:automation-pause", args=[automation.pk]))
    again = client.post(reverse("campaigns:automation-pause", args=[automation.pk]), follow=True)
    assert "ya está pausada" in again.content.decode()
    client.post(reverse("campaigns:automation-resume", args=[automation.pk]))
    automation.refresh_from_db()
    assert automation.status == Automation.Status.ACTIVE
    events = AuditEvent.objects.filter(target=f"campaigns.automation:{automation.pk}")
    assert sorted(e.detail["event"] for e in events if "event" in e.detail) == ["pause", "resume"]


def test_detail_shows_sent_pending_skipped_and_next_birthdays(client_for, marketing):
    automation = AutomationFactory(created_by=marketing, kind="cumpleanos")
    sent = consenting_contact(first_name="Enviada")
    skipped = consenting_contact(first_name="Omitida")
    upcoming = consenting_contact(
        first_name="Próxima", birthday=timezone.localdate() + timedelta(days=3)
    )
    _delivery(automation, sent)
    _delivery(automation, skipped, status=Row.SKIPPED, reason="Se dio de baja de este tema.")
    client = client_for(marketing)
    page = client.get(automation.get_absolute_url()).content.decode()
    assert "Enviada" in page and "Omitida" not in page
    assert upcoming.full_name in page  # the next birthdays
    page = client.get(automation.get_absolute_url() + "?vista=omitidos").content.decode()
    assert "Se dio de baja de este tema." in page
    assert client.get(automation.get_absolute_url() + "?vista=x&page=abc").status_code == 200


def test_other_ids_answer_404(client_for, marketing):
    client = client_for(marketing)
    assert client.get(reverse("campaigns:automation-detail", args=[987654])).status_code == 404
    assert client.post(reverse("campaigns:automation-pause", args=[987654])).status_code == 404


def test_one_click_unsubscribe_without_login_or_csrf(client):
    topic = TopicFactory(name="Saludos")
    automation = AutomationFactory(topic=topic)
    contact = consenting_contact(birthday=date(1990, 1, 1))
    row = _delivery(automation, contact)
    url = services.unsubscribe_url(row.pk)
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    assert contact.consent_latest.filter(topic=topic).count() == 0
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/" + path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert contact.consent_latest.get(topic=topic).action == Consent.Action.WITHDRAW
    forged = client.post("/m/auto/baja/abc:def/")
    assert forged.status_code == 400


def test_the_ledger_tab_costs_the_same_queries_with_many_rows(
    client_for, marketing, settings, django_assert_max_num_queries
):
    """The sent tab lists emails and the owners' birthday reminders (no step) alike."""
    settings.PAGE_SIZE = 25
    automation = AutomationFactory(created_by=marketing, kind="cumpleanos", remind_owner=True)
    client = client_for(marketing)
    url = automation.get_absolute_url() + "?vista=enviados"
    _delivery(automation, consenting_contact(first_name="Primera"))
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    few_queries = len(few)  # read now: each request empties the connection's query log
    for number in range(60):
        contact = consenting_contact()
        if number % 2:
            _delivery(automation, contact)
        else:
            _delivery(
                automation,
                contact,
                step=None,
                status=Row.REMINDED,
                reason="Llamada en la agenda de Ana: cumple el sábado 12 de diciembre.",
            )
    # Warmed up again, as before the first measure. Once in many runs, only within the whole
    # suite, this request read one query more than the first (9 against 8, CI at 2af689b):
    # something read once and kept for a while, refilled here, not a row's query (which one
    # is not found; not the kept user). A query per row still shows in the measured request.
    client.get(url)
    with django_assert_max_num_queries(few_queries):
        page = client.get(url).content.decode()
    assert "Aviso al responsable" in page and "cumple el sábado 12 de diciembre" in page
    assert "llamada en su agenda para felicitarle" in page
