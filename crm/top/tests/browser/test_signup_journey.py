"""A visitor's sign-up in Chromium at phone width (issue 9, "Sign-up forms"): the public form
with UTM parameters, the confirmation email (from the outbox: Celery runs in place), its link,
the button that confirms; the contact exists, a subscriber of the form's owner, with the consent
granted in the ledger with the click's browser and the form's text version.

Then the whole lead journey (issue 9, "Tests"): marketing's score rules and routing rule, a
campaign sent to the new subscriber through the real sending path, two clicks on its tracked
links in the phone's browser make her an MQL; the routing job (as beat runs it) gives her to the
territory's rep with a call task, and the rep, on her phone, finds it on her agenda and accepts
the lead (SQL) from the call's page. Its screenshots (journey_*.png) go to
$SCREENSHOTS_DIR when it is set (to look at the phone's layouts), else to tmp_path."""

import os
import re
import time
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from campaigns.models import FormSubmission, Send, TrackingEvent
from campaigns.services import campaigns as campaign_services
from campaigns.services import sending
from campaigns.services.tracking import MACHINE_WINDOW
from campaigns.tests.factories import SegmentFactory, SignupFormFactory, TopicFactory
from contacts import scoring
from contacts.models import Consent, Contact, Lifecycle, ScoreChange, ScoreRule
from crm.celery import app
from crm.core.models import Role
from crm.core.tests.factories import PASSWORD, UserFactory
from opportunities.models import Activity, ActivityKind, LeadAssignment, RoutingRule
from opportunities.selectors.activities import user_zone
from opportunities.services.leads import routing_rule_create
from opportunities.tasks.leads import leads_route_task

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile Safari"
SHOP = "https://tienda.ejemplo.com.mx"  # the company's website, where the campaign's links go


@pytest.fixture(autouse=True)
def _eager_tasks(monkeypatch, settings, live_server):
    """Tasks run in place, so the confirmation lands in the outbox; links point at the server."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.SITE_URL = live_server.url


@pytest.fixture
def signup_form(transactional_db):
    rep = UserFactory(username="rep", role=Role.VENDEDOR)
    return SignupFormFactory(
        owner=rep,
        slug="ofertas",
        title="Recibe nuestras ofertas",
        topic=TopicFactory(name="Ofertas"),
        consent_text="Acepto recibir correos con ofertas de Mi Empresa.",
        consent_version="ofertas-2026-01",
        fields=[
            {"name": "first_name", "required": True, "label": "Tu nombre"},
            {"name": "last_name", "required": False, "label": ""},
            {"name": "email", "required": True, "label": ""},
            {"name": "company", "required": False, "label": ""},
            {"name": "job_title", "required": False, "label": "Puesto"},
            {"name": "region", "required": False, "label": "Estado"},
        ],
    )


def _phone(browser, live_server) -> BrowserContext:
    """A phone's browser (an iPhone's width and agent: the tracking counts it as a person)."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="es-MX",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        user_agent=IPHONE,
    )
    context.set_default_timeout(10_000)
    return context


def test_a_visitor_on_a_phone_signs_up_and_confirms_from_the_email(
    browser, live_server, signup_form
):
    context = _phone(browser, live_server)
    page: Page = context.new_page()
    try:
        page.goto("/f/ofertas/?utm_source=instagram&utm_medium=social&utm_campaign=verano")
        expect(page.locator("h1")).to_have_text("Recibe nuestras ofertas")
        # Mobile friendly: the form fits the phone's width, nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_label("Tu nombre").fill("Lucía")
        page.get_by_label("Correo electrónico").fill("Lucia.Fernandez@Ejemplo.mx")
        page.fill("input[name=company]", "Papelería El Lápiz")
        # Sent without the consent: the form answers in Spanish, and nothing is written.
        page.get_by_role("button", name="Suscribirme").click()
        expect(page.locator("#signup-public")).to_contain_text("Marca la casilla para aceptar")
        assert not Contact.objects.exists()
        page.get_by_label("Acepto recibir correos con ofertas de Mi Empresa.").check()
        page.get_by_role("button", name="Suscribirme").click()
        expect(page.locator("#signup-thanks")).to_contain_text("Te enviamos un correo")

        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["lucia.fernandez@ejemplo.mx"]
        link = re.search(r"https?://\S+/f/confirmar/\S+/", message.body).group(0)
        assert not Consent.objects.exists()  # consent counts from the click only

        page.goto(link)
        page.get_by_role("button", name="Confirmar mi suscripción").click()
        expect(page.locator("#signup-confirm")).to_contain_text("¡Suscripción confirmada!")
    finally:
        context.close()

    contact = Contact.objects.get(email="lucia.fernandez@ejemplo.mx")
    assert contact.first_name == "Lucía"
    assert contact.lifecycle == Lifecycle.SUBSCRIBER
    assert contact.owner == signup_form.owner
    submission = FormSubmission.objects.get(contact=contact)
    assert submission.status == FormSubmission.Status.CONFIRMED
    assert (submission.utm_source, submission.utm_medium, submission.utm_campaign) == (
        "instagram",
        "social",
        "verano",
    )
    grants = Consent.objects.filter(contact=contact, action=Consent.Action.GRANT)
    assert {entry.topic_id for entry in grants} == {None, signup_form.topic_id}
    for entry in grants:
        assert entry.source == Consent.Source.FORM
        assert entry.text_version == "ofertas-2026-01"
        assert "iPhone" in entry.user_agent
        assert entry.ip_address == "127.0.0.1"


# --- From subscriber to MQL through clicks, and the rep's answer -------------------------------

THRESHOLD = 60


@pytest.fixture
def marketing_rules(signup_form, settings):
    """What marketing set up before the visitor came: the MQL threshold; score rules (a buyer's
    job title and a confirmed sign-up give 30 points, each human click 20 more, up to 40); a
    territory rule giving Jalisco's leads to Rosa, not to the form's owner. Campaigns are sent
    to the outbox."""
    settings.LEAD_MQL_THRESHOLD = THRESHOLD
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    marketing = UserFactory(username="marketing", role=Role.MARKETING)
    rosa = UserFactory(
        username="rosa", first_name="Rosa", last_name="Villaseñor", role=Role.VENDEDOR
    )
    for data in (
        {
            "name": "Compradores",
            "kind": ScoreRule.Kind.PROFILE,
            "field": ScoreRule.Field.JOB_TITLE,
            "values": ["compras"],
            "points": 20,
        },
        {
            "name": "Suscripción confirmada",
            "kind": ScoreRule.Kind.BEHAVIOUR,
            "event": ScoreRule.Event.FORM,
            "points": 10,
            "half_life_days": 30,
        },
        {
            "name": "Clic en un correo",
            "kind": ScoreRule.Kind.BEHAVIOUR,
            "event": ScoreRule.Event.CLICKED,
            "points": 20,
            "half_life_days": 30,
            "max_points": 40,
        },
    ):
        scoring.score_rule_create(actor=marketing, data=data)
    routing_rule_create(
        actor=marketing,
        data={
            "name": "Occidente",
            "kind": RoutingRule.Kind.TERRITORY,
            "regions": ["Jalisco"],
            "rep": rosa,
            "team": None,
        },
    )
    return marketing, rosa


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sign_up_and_confirm(page: Page) -> Contact:
    page.goto("/f/ofertas/?utm_source=instagram")
    page.get_by_label("Tu nombre").fill("Lucía")
    page.get_by_label("Apellidos").fill("Fernández")
    page.get_by_label("Correo electrónico").fill("lucia.fernandez@ejemplo.mx")
    page.get_by_label("Puesto").fill("Gerente de Compras")
    page.get_by_label("Estado (opcional)").fill("Jalisco")
    page.get_by_label("Acepto recibir correos con ofertas de Mi Empresa.").check()
    page.get_by_role("button", name="Suscribirme").click()
    expect(page.locator("#signup-thanks")).to_contain_text("Te enviamos un correo")
    (confirmation,) = mail.outbox
    page.goto(re.search(r"https?://\S+/f/confirmar/\S+/", confirmation.body).group(0))
    page.get_by_role("button", name="Confirmar mi suscripción").click()
    expect(page.locator("#signup-confirm")).to_contain_text("¡Suscripción confirmada!")
    return Contact.objects.get(email="lucia.fernandez@ejemplo.mx")


def _send_offers(marketing, topic, contact: Contact) -> tuple[Send, str]:
    """Marketing sends the month's offers to everyone through the real path (send now, then the
    materialising and sending tasks, in place); the contact's row and the HTML she received."""
    campaign = campaign_services.campaign_create(
        actor=marketing,
        data={
            "name": "Ofertas de temporada",
            "topic": topic,
            "segment": SegmentFactory(name="Todos", created_by=marketing),
            "subject": 'Ofertas para {{ nombre|default:"ti" }}',
            "html_body": (
                '<h1>Hola {{ nombre|default:"cliente" }}</h1>'
                f'<p><a href="{SHOP}/ofertas">Ver las ofertas</a></p>'
                f'<p><a href="{SHOP}/catalogo">Descargar el catálogo</a></p>'
            ),
        },
    )
    mail.outbox.clear()
    sending.campaign_send_now(campaign=campaign, user=marketing)
    send = Send.objects.get(campaign=campaign, contact=contact)
    assert send.status == Send.Status.SENT
    (message,) = mail.outbox
    assert message.to == [contact.email]
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return send, html


def _read_the_email_later(send: Send) -> None:
    """Nobody reads a message within MACHINE_WINDOW of its sending (only scanners on delivery
    are that fast, and their clicks do not count): the visitor opens it a moment later."""
    wait = (send.sent_at + MACHINE_WINDOW - timezone.now()).total_seconds()
    if wait > 0:
        time.sleep(wait + 0.2)


def _log_in(page: Page, username: str) -> None:
    page.goto("/entrar/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Entrar", exact=True).click()
    page.wait_for_selector("#global-search", state="attached")


def _fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_clicks_make_the_subscriber_an_mql_and_the_rep_accepts_her_from_the_agenda(
    browser, live_server, signup_form, marketing_rules, shots
):
    marketing, rosa = marketing_rules
    visitor = _phone(browser, live_server)
    # The campaign's links lead to the company's shop, which answers here (no network).
    visitor.route(
        f"{SHOP}/**",
        lambda route: route.fulfill(
            content_type="text/html; charset=utf-8", body="<h1>Tienda de Mi Empresa</h1>"
        ),
    )
    page: Page = visitor.new_page()
    try:
        contact = _sign_up_and_confirm(page)
        # A buyer (20) who confirmed (10): 30 points, below the threshold, still a subscriber.
        assert (contact.lead_score, contact.lifecycle) == (30, Lifecycle.SUBSCRIBER)

        send, html = _send_offers(marketing, signup_form.topic, contact)
        _read_the_email_later(send)
        # Her mail client shows the message; she taps a link (the rewritten, tracked one).
        page.set_content(html)
        offers = page.get_by_role("link", name="Ver las ofertas")
        assert re.search(r"/m/c/[^/]+/\d+/$", offers.get_attribute("href"))
        offers.click()
        expect(page.locator("h1")).to_have_text("Tienda de Mi Empresa")
        assert page.url == f"{SHOP}/ofertas"
        contact.refresh_from_db()
        assert (contact.lead_score, contact.lifecycle) == (50, Lifecycle.SUBSCRIBER)

        # Back in the message, the catalogue: 70 points, over the threshold.
        page.set_content(html)
        page.get_by_role("link", name="Descargar el catálogo").click()
        expect(page.locator("h1")).to_have_text("Tienda de Mi Empresa")
        assert page.url == f"{SHOP}/catalogo"
    finally:
        visitor.close()

    clicks = TrackingEvent.objects.filter(contact=contact, kind=TrackingEvent.Kind.CLICK)
    assert [(c.is_machine, c.user_agent) for c in clicks] == [(False, IPHONE)] * 2
    contact.refresh_from_db()
    assert (contact.lead_score, contact.lifecycle) == (70, Lifecycle.MQL)
    crossing = ScoreChange.objects.get(contact=contact, became_mql=True)
    assert (crossing.old_score, crossing.new_score) == (50, 70)
    latest = contact.history.first()
    assert latest.lifecycle == Lifecycle.MQL
    assert latest.history_change_reason == f"Puntuación 70 ≥ umbral {THRESHOLD}"
    assert latest.history_user is None  # the scoring did it, not a person
    assert contact.owner == signup_form.owner  # nobody routed her yet

    # Beat's every-minute job routes the crossing once: Jalisco's rep, with a call.
    assert leads_route_task.apply().get() == 1
    assert leads_route_task.apply().get() == 0
    assignment = LeadAssignment.objects.select_related("task").get(contact=contact)
    assert (assignment.rep, assignment.method) == (rosa, LeadAssignment.Method.RULE)
    task = assignment.task
    assert (task.owner, task.kind, task.status) == (
        rosa,
        ActivityKind.CALL,
        Activity.Status.PLANNED,
    )
    assert task.planned_at == assignment.due_at
    contact.refresh_from_db()
    assert contact.owner == rosa

    rep = _phone(browser, live_server)
    page = rep.new_page()
    try:
        _log_in(page, "rosa")
        # Her agenda on the call's day: the page lists today and the rest of this week, and a
        # crossing on a Friday evening or a weekend is due on Monday morning.
        day = assignment.due_at.astimezone(user_zone(rosa)).date()
        page.goto(f"/ventas/agenda/?dia={day.isoformat()}")
        row = page.locator(f"#agenda-today #activity-{task.pk}")
        expect(row).to_contain_text("Llamar al lead Lucía Fernández (MQL, 70 puntos)")
        expect(row).to_contain_text("Lucía Fernández")
        _fits_the_phone(page)
        page.screenshot(path=shots / "journey_agenda.png", full_page=True)

        row.get_by_role("link", name=re.compile("Llamar al lead")).click()
        expect(page.locator("h1")).to_contain_text("Llamar al lead Lucía Fernández")
        expect(page.locator("dd", has_text="Acepta el lead")).to_contain_text(
            assignment.get_absolute_url()
        )
        _fits_the_phone(page)
        page.screenshot(path=shots / "journey_task.png", full_page=True)

        # The call's page says the lead waits for her answer and leads to it.
        expect(page.locator("#lead-answer")).to_contain_text("acéptalo o recházalo")
        page.locator("#lead-answer").get_by_role("link", name="Responder al lead").click()
        expect(page.locator("h1")).to_contain_text("Lucía Fernández")
        expect(page.locator("h1")).to_contain_text("70 puntos")
        _fits_the_phone(page)
        page.screenshot(path=shots / "journey_accept.png", full_page=True)
        page.get_by_role("button", name="Aceptar (SQL)").click()
        expect(page.locator(".alert-success")).to_contain_text(
            "Lead aceptado: Lucía Fernández es ahora SQL."
        )
        page.screenshot(path=shots / "journey_accepted.png", full_page=True)
    finally:
        rep.close()

    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.SQL
    assert contact.history.first().history_user == rosa
    assignment.refresh_from_db()
    assert (assignment.status, assignment.responded_by) == (LeadAssignment.Status.ACCEPTED, rosa)
    task.refresh_from_db()
    assert task.status == Activity.Status.PLANNED  # the call stays in her agenda
