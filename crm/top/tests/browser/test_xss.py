"""Script stored in any text field runs nowhere (issue 13 §5).

Every free-text field of the records a page shows (names, addresses, notes, subjects, ticket
comments, quote terms, tags, even the users' own names) holds a script payload, written as an
import or an old version would write it (no form validation on the way). Each role then opens
the pages that show them: lists, sheets, the board, the agenda, dashboards, the search and its
suggestions, the caller card, the ticket conversation, campaign and segment pages.

The browser ignores the Content-Security-Policy here (`bypass_csp`): what is tested is that the
pages escape what they print, so that a payload would run if they did not. A payload that runs
opens a dialog naming its field; one the page would let in but not run (an `<img>` whose error
never fires) is found as an element in the DOM.
"""

import importlib
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page

from accounts.tests.factories import AccountFactory
from campaigns.models import Campaign, Segment
from campaigns.tests.factories import SegmentFactory, TopicFactory, sent_campaign
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.models import Activity, LineItem
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, ProductFactory
from support.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.browser

# Each runs a dialog naming the field ({f}) if a page printed it unescaped.
PAYLOADS = [
    '<script>alert("{f}")</script>',
    '"><img src=x onerror=alert("{f}")>',
    "'><svg onload=alert('{f}')>",
    '</textarea><script>alert("{f}")</script>',
    "<a href=\"javascript:alert('{f}')\" id=x>{f}</a>",
    "<iframe srcdoc=\"<script>parent.alert('{f}')</script>\">",
]
# Elements that only a payload would have put in the page.
INJECTED = 'img[src="x"], svg[onload], iframe[srcdoc], a[href^="javascript"], a#x'
# Fields that are not free text, or that hold HTML on purpose (a campaign's body is sanitised
# with nh3 when saved, tested in campaigns/tests/test_content.py).
SKIP = re.compile(
    r"email|phone|mobile|digits|search|tax_id|number|token|key|message_id|currency|website|"
    r"url|html_body|text_body|password|username|time_zone|code|slug|ip_address|^name_b$"
)


def poison(row: models.Model, fields: list[str]) -> None:
    """Write a payload into every free-text field of `row`, as an import would (no validation);
    the field names go into `fields` (what the payload says when it runs)."""
    values = {}
    for field in row._meta.concrete_fields:
        if not isinstance(field, models.CharField | models.TextField) or field.choices:
            continue
        if SKIP.search(field.name) or not field.editable:
            continue
        label = f"{row._meta.model_name}.{field.name}"
        payload = PAYLOADS[len(fields) % len(PAYLOADS)].format(f=label)
        if field.max_length and len(payload) > field.max_length:
            payload = PAYLOADS[0].format(f=label)[: field.max_length]
            if len(payload) < len(PAYLOADS[0].format(f=label)):
                continue
        values[field.name] = payload
        fields.append(label)
    type(row).objects.filter(pk=row.pk).update(**values)


@pytest.fixture
def world(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # A transactional test before this one may have flushed the stages the migration seeds.
    importlib.import_module("opportunities.migrations.0002_default_stages_and_cadence").seed(
        apps, None
    )
    fields: list[str] = []
    team = TeamFactory(name="Equipo Centro")
    rep = UserFactory(username="vendedor", role=Role.VENDEDOR, team=team)
    manager = UserFactory(username="gerente", role=Role.GERENTE, team=team)
    team.manager = manager
    team.save()
    support = UserFactory(username="soporte", role=Role.SOPORTE)
    marketing = UserFactory(username="marketing", role=Role.MARKETING)
    account = AccountFactory(owner=rep, phone="+525512345678")
    contact = ContactFactory(owner=rep, account=account, mobile="+525587654321")
    opportunity = OpportunityFactory(owner=rep, account=account, contact=contact)
    product = ProductFactory()
    line = LineItem.objects.create(
        opportunity=opportunity, product=product, description="Licencia", unit_price=100
    )
    done = ActivityFactory(
        owner=rep,
        account=account,
        contact=contact,
        opportunity=opportunity,
        status=Activity.Status.DONE,
        done_at=timezone.now() - timedelta(hours=3),
    )
    planned = ActivityFactory(
        owner=rep, account=account, contact=contact, planned_at=timezone.now() + timedelta(hours=2)
    )
    ticket = TicketFactory(account=account, contact=contact, created_by=support, assignee=support)
    comment = CommentFactory(ticket=ticket, author=support)
    topic = TopicFactory(name="Novedades")
    segment = SegmentFactory(created_by=marketing)
    campaign = sent_campaign(created_by=marketing, segment=segment, topic=topic)
    for row in (rep, manager, support, marketing, team, account, contact, opportunity):
        poison(row, fields)
    for row in (product, line, done, planned, ticket, comment, topic, segment, campaign):
        poison(row, fields)
    tag = PAYLOADS[1].format(f="etiqueta")[:100]
    account.tags.add(tag)
    contact.tags.add(tag)
    fields.append("etiquetas")
    return {
        "fields": fields,
        "users": {"rep": rep, "manager": manager, "support": support, "marketing": marketing},
        "account": account,
        "contact": contact,
        "opportunity": opportunity,
        "activity": done,
        "ticket": ticket,
        "campaign": Campaign.objects.get(pk=campaign.pk),
        "segment": Segment.objects.get(pk=segment.pk),
    }


def pages(world) -> dict[str, list[str]]:
    account, contact, ticket = world["account"], world["contact"], world["ticket"]
    sheets = [
        account.get_absolute_url(),
        contact.get_absolute_url(),
        world["opportunity"].get_absolute_url(),
        world["activity"].get_absolute_url(),
        ticket.get_absolute_url(),
    ]
    return {
        "rep": [
            "/",
            "/cuentas/",
            "/contactos/",
            "/ventas/",
            "/ventas/oportunidades/",
            "/ventas/agenda/",
            "/ventas/agenda/semana/",
            "/ventas/actividades/",
            "/ventas/prevision/",
            "/soporte/incidencias/",
            f"/buscar/?q={account.name[:3]}",
            "/quien-llama/?q=5512345678",
            *sheets,
        ],
        "manager": ["/", "/ventas/prevision/", "/ventas/cuotas/", "/ventas/analisis/", *sheets],
        "support": ["/", "/soporte/incidencias/", "/soporte/panel/", ticket.get_absolute_url()],
        "marketing": [
            "/",
            "/campanas/",
            world["campaign"].get_absolute_url(),
            reverse("campaigns:campaign-results", args=[world["campaign"].pk]),
            "/campanas/resultados/",
            "/campanas/segmentos/",
            world["segment"].get_absolute_url(),
            "/campanas/boletines/",
            "/contactos/",
        ],
    }


def sign_in(page: Page, user, base_url: str) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": base_url}])


def test_stored_scripts_run_on_no_page(browser, live_server, world, request):
    context = browser.new_context(
        base_url=live_server.url,
        locale="es-MX",
        bypass_csp=True,
        viewport={"width": 1366, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    ran: list[str] = []
    page.on("dialog", lambda dialog: (ran.append(dialog.message), dialog.dismiss()))
    problems, visited = [], 0
    try:
        for role, urls in pages(world).items():
            sign_in(page, world["users"][role], live_server.url)
            for url in urls:
                response = page.goto(url)
                page.wait_for_load_state("networkidle")
                visited += 1
                if response.status >= 400:
                    problems.append(f"{role} {url}: {response.status}")
                injected = page.locator(INJECTED).count()
                if injected:
                    problems.append(f"{role} {url}: {injected} injected element(s)")
            if role == "rep":  # the search box's suggestions, as typed
                page.goto("/")
                page.fill("#global-search", world["account"].name[:4])
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(500)
                visited += 1
                if page.locator(INJECTED).count():
                    problems.append("rep search suggestions: injected element(s)")
        # The page must show the payloads as text, or nothing was tested.
        page.goto(world["account"].get_absolute_url())
        assert "<script>alert(" in page.inner_text("body") or "onerror=alert(" in page.inner_text(
            "body"
        )
    finally:
        context.close()
    summary = (
        f"{len(PAYLOADS)} payloads in {len(world['fields'])} fields × {visited} pages: "
        f"{len(ran)} ran, {len(problems)} problems"
    )
    request.node.user_properties.append(("xss", summary))
    print(summary)
    assert not ran, ran
    assert not problems, problems
