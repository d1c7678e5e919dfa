"""Every kind of page under the Content-Security-Policy, in Chromium (issue 13 §5).

On the demo data (`seed_demo`, small), each role opens the pages it can see: lists, sheets,
forms, its dashboard, the board, the agenda, the forecast and its charts, the campaigns and
their results, the support queue, a ticket, the NPS rounds; then, signed out, the login page,
the 404 and the public pages a customer reaches from an email. No page may report a violation:
the browser's `securitypolicyviolation` events (listened to from before any script of the page
runs) and its console ("Refused to …", a Permissions-Policy it cannot read) must stay empty,
and no script may fail. The charts must still draw, and the behaviours that moved from inline
handlers to static/js/crm.js (filter bars, confirmations, check-all, copy, autosubmit) still
work.
"""

import importlib
import re
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import Account
from campaigns import tokens
from campaigns.models import Campaign, Segment, Send
from contacts.models import Contact
from crm.core.models import User
from crm.core.tests.mfa import sign_in as mfa_sign_in
from crm.top.management.commands.seed_demo import seed_demo
from opportunities.models import Activity, Opportunity
from support.models import Survey, SurveyRound, Ticket
from support.services.surveys import survey_token

pytestmark = pytest.mark.browser

# Runs in every document before its own scripts: what the browser refused, and what htmx would
# not evaluate, kept in window.__csp.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.effectiveDirective}: ${event.blockedURI || "inline"} `
    + `(${event.sourceFile}:${event.lineNumber}) ${event.sample}`);
}, true);
document.addEventListener("htmx:evalDisallowedError", () => {
  window.__csp.push("htmx: evaluation refused");
}, true);
"""

# Resolves once no htmx request has been in flight for two looks in a row (the panels and counts
# a page loads after it opens), with what the page refused meanwhile.
SETTLED = """async () => {
  const pause = () => new Promise((done) => setTimeout(done, 60));
  for (let quiet = 0, looks = 0; quiet < 2 && looks < 80; looks++) {
    await pause();
    quiet = document.querySelector(".htmx-request") ? 0 : quiet + 1;
  }
  return window.__csp || [];
}"""

CHARTS_DRAWN = """() => [...document.querySelectorAll("canvas[data-chart]")]
  .map((canvas) => Boolean(window.Chart && Chart.getChart(canvas) && canvas.height > 0))"""


class Watch:
    """What a page refused or failed at, by URL."""

    def __init__(self, page: Page, live_server):
        self.page = page
        self.live_server = live_server
        self.problems: dict[str, list[str]] = {}
        self.pages = 0
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._note(f"script error: {error}"))

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Permissions-Policy" in text or "Refused" in text:
            self._note(text)

    def _note(self, text: str) -> None:
        self.problems.setdefault(self.page.url, []).append(text)

    def settle(self) -> None:
        for problem in self.page.evaluate(SETTLED):
            self._note(problem)

    def visit(self, url: str, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == status, url
        self.pages += 1
        self.settle()

    def charts(self, url: str, at_least: int = 1) -> None:
        """Visit a page of charts: every canvas it has is drawn by Chart.js."""
        self.visit(url)
        drawn = self.page.evaluate(CHARTS_DRAWN)
        assert len(drawn) >= at_least and all(drawn), (url, drawn)

    def sign_in(self, user: User) -> None:
        """The session cookie of a signed-in test client (both steps for whoever needs two)."""
        client = mfa_sign_in(Client(), user)
        context = self.page.context
        context.clear_cookies()
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": self.live_server.url,
                }
            ]
        )

    def sign_out(self) -> None:
        self.page.context.clear_cookies()


@pytest.fixture
def demo(transactional_db):
    # A transactional test before this one may have flushed what the migrations seed (the
    # default pipeline, the SLA policies and calendar, the canned responses).
    for migration in (
        "opportunities.migrations.0002_default_stages_and_cadence",
        "support.migrations.0002_default_policies_and_calendar",
    ):
        importlib.import_module(migration).seed(apps, None)
    seed_demo(contacts=120, stdout=StringIO())
    return {user.username: user for user in User.objects.all()}


def test_every_kind_of_page_raises_no_violation(page: Page, live_server, demo):
    watch = Watch(page, live_server)

    # Signed out: the login page, then a wrong sign-in (the form with its errors).
    watch.visit(reverse("crm:login"))
    page.fill("input[name=username]", "vendedor1")
    page.fill("input[name=password]", "no-es-la-contraseña")
    page.get_by_role("button", name="Entrar", exact=True).click()
    watch.settle()

    # A sales rep: dashboard, lists, sheets, forms, the board, the agenda, the caller card.
    rep = demo["vendedor1"]
    watch.sign_in(rep)
    account = Account.objects.filter(owner=rep, archived_at__isnull=True).first()
    contact = Contact.objects.filter(owner=rep, account__isnull=False).first()
    deal = Opportunity.objects.filter(owner=rep, line_items__isnull=False).first()
    activity = Activity.objects.filter(owner=rep).first()
    for url in (
        reverse("crm:home"),
        reverse("accounts:account-list"),
        account.get_absolute_url(),
        reverse("accounts:account-create"),
        reverse("accounts:account-update", args=[account.pk]),
        reverse("contacts:contact-list"),
        contact.get_absolute_url(),
        reverse("contacts:contact-create"),
        reverse("opportunities:board"),
        reverse("opportunities:opportunity-list"),
        deal.get_absolute_url(),
        reverse("opportunities:opportunity-update", args=[deal.pk]),
        reverse("opportunities:agenda"),
        reverse("opportunities:agenda-week"),
        reverse("opportunities:activity-list"),
        reverse("opportunities:activity-detail", args=[activity.pk]),
        reverse("opportunities:activity-create"),
        reverse("crm:caller") + f"?q={contact.last_name[:5]}",
        reverse("crm:search") + f"?q={account.name[:5]}",
        reverse("crm:password-change"),
    ):
        watch.visit(url)
    watch.visit("/no-existe/", status=404)
    watch.visit(reverse("opportunities:product-list"), status=403)  # the administrator's

    # A manager: the team's dashboard (its attainment bars), forecast, analytics, tiers, quotas,
    # a rep's agenda.
    manager = demo["gerente1"]
    watch.sign_in(manager)
    watch.visit(reverse("crm:home"))
    bars = page.evaluate(
        """() => [...document.querySelectorAll(".progress-bar[class*='bar-w-']")].map((bar) => [
            Number(bar.className.match(/bar-w-(\\d+)/)[1]),
            Math.round(100 * bar.getBoundingClientRect().width
              / bar.parentElement.getBoundingClientRect().width),
        ])"""
    )
    assert bars and all(abs(wanted - drawn) <= 1 for wanted, drawn in bars), bars
    watch.charts(reverse("opportunities:forecast"))
    watch.charts(reverse("opportunities:analytics"))
    watch.charts(reverse("opportunities:tiers"))
    watch.visit(reverse("opportunities:quotas"))
    watch.visit(reverse("opportunities:agenda") + f"?owner={rep.pk}")

    # Support: the queue, a ticket and its conversation, the new-ticket form, the dashboard,
    # the NPS rounds.
    watch.sign_in(demo["soporte1"])
    ticket = Ticket.objects.filter(comments__isnull=False).first()
    survey_round = SurveyRound.objects.first()
    watch.visit(reverse("crm:home"))
    watch.visit(reverse("support:ticket-list"))
    watch.visit(ticket.get_absolute_url())
    watch.visit(reverse("support:ticket-create"))
    watch.charts(reverse("support:dashboard"))
    watch.visit(reverse("support:nps-round-list"))
    watch.visit(reverse("support:nps-round-detail", args=[survey_round.pk]))

    # Marketing: campaigns, a sent one's page and results (charts), a draft's preview (the
    # message in its frame, under the frame's own policy) and form, segments, suppressions.
    watch.sign_in(demo["marketing1"])
    sent = Campaign.objects.filter(status=Campaign.Status.SENT).first()
    draft = Campaign.objects.filter(status=Campaign.Status.DRAFT).first()
    segment = Segment.objects.first()
    for url in (
        reverse("crm:home"),
        reverse("campaigns:campaign-list"),
        sent.get_absolute_url(),
        reverse("campaigns:campaign-sends", args=[sent.pk]),
        reverse("campaigns:campaign-edit", args=[draft.pk]),
        reverse("campaigns:campaign-create"),
        reverse("campaigns:topic-list"),
        reverse("campaigns:segment-list"),
        segment.get_absolute_url(),
        reverse("campaigns:segment-create"),
        reverse("campaigns:suppression-list"),
        reverse("campaigns:suppression-import"),
    ):
        watch.visit(url)
    watch.visit(reverse("campaigns:campaign-preview", args=[draft.pk]))
    expect(page.frame_locator("#preview-frame").locator("body")).not_to_be_empty()
    watch.charts(reverse("campaigns:campaign-results", args=[sent.pk]))
    watch.charts(reverse("campaigns:results-overview"), at_least=0)
    watch.charts(reverse("campaigns:campaign-engagement"))
    watch.charts(reverse("campaigns:campaign-channels"))

    # An administrator: dashboard, the product catalogue, Django's admin (a list, a form with
    # its widgets, a periodic task's schedule).
    watch.sign_in(demo["admin"])
    watch.visit(reverse("crm:home"))
    watch.visit(reverse("opportunities:product-list"))
    watch.visit(reverse("opportunities:product-create"))
    watch.visit(reverse("admin:index"))
    watch.visit(reverse("admin:accounts_account_changelist"))
    watch.visit(reverse("admin:accounts_account_change", args=[account.pk]))
    watch.visit(reverse("admin:crm_user_change", args=[rep.pk]))
    watch.visit(reverse("admin:django_celery_beat_periodictask_add"))

    # Signed out again, as a customer from an email: unsubscribe, preferences, a survey, and a
    # link that no longer works.
    watch.sign_out()
    send = Send.objects.filter(status=Send.Status.SENT).first()
    survey = Survey.objects.filter(ticket__isnull=False).first()
    watch.visit(
        reverse("campaigns_public:unsubscribe", args=[tokens.make(tokens.UNSUBSCRIBE, send.pk)])
    )
    watch.visit(
        reverse(
            "campaigns_public:preferences",
            args=[tokens.make(tokens.PREFERENCES, send.contact_id)],
        )
    )
    watch.visit(reverse("support:survey-answer", args=[survey_token(survey=survey, score=9)]))
    watch.visit(reverse("campaigns_public:unsubscribe", args=["no-vale"]), status=400)

    assert watch.pages >= 55
    assert watch.problems == {}


def test_the_behaviours_of_the_old_inline_handlers_still_work(page: Page, live_server, demo):
    watch = Watch(page, live_server)
    rep = demo["vendedor1"]
    watch.sign_in(rep)

    # The contact list's filter bar (htmx): typing narrows the table and the address follows.
    contact = Contact.objects.filter(owner=rep, archived_at__isnull=True).first()
    watch.visit(reverse("contacts:contact-list"))
    page.locator("form.filters input[name=q]").fill(contact.last_name)
    expect(page).to_have_url(re.compile(r"[?&]q="))
    expect(page.locator("table.table-list tbody")).to_contain_text(contact.last_name)
    watch.settle()

    # The activity panel's quick form opens (htmx) and its "Cancelar" takes it away
    # (data-remove-closest).
    watch.visit(contact.get_absolute_url())
    page.locator(".quick-kinds a").first.click()
    quick_form = page.locator(f"#activity-panel-contact-{contact.pk}-form form")
    expect(quick_form).to_be_visible()
    quick_form.get_by_role("button", name="Cancelar").click()
    expect(quick_form).to_have_count(0)

    # A confirmation (data-confirm): refused, nothing happens; accepted, the contact is archived.
    archive = page.get_by_role("button", name=re.compile("Archivar"))
    page.once("dialog", lambda dialog: dialog.dismiss())
    archive.click()
    page.wait_for_timeout(300)
    contact.refresh_from_db()
    assert contact.archived_at is None
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    archive.click()
    expect(page.locator(".alert-success")).to_be_visible()
    contact.refresh_from_db()
    assert contact.archived_at is not None
    assert messages == ["¿Archivar este contacto? Podrás restaurarlo."]
    watch.settle()

    # The agenda's "Copiar" (data-copy-target) writes the calendar's address to the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    watch.visit(reverse("opportunities:agenda"))
    copy = page.get_by_role("button", name="Copiar")
    copy.click()
    expect(page.get_by_role("button", name="Copiada")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#feed-url")

    # The user menu (Bootstrap's dropdown): its language select sends itself on change
    # (data-autosubmit), and back.
    page.get_by_role("button", name=rep.first_name).click()
    page.locator("#language-select").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name=rep.first_name).click()
    page.locator("#language-select").select_option("es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    watch.settle()

    # Support's queue: the header box ticks every ticket of the page (data-check-all).
    watch.sign_in(demo["soporte1"])
    watch.visit(reverse("support:ticket-list"))
    page.get_by_label("Marcar todas").check()
    boxes = page.locator("input[name=tickets]")
    assert boxes.count() > 0
    for box in boxes.all():
        expect(box).to_be_checked()

    assert watch.problems == {}
