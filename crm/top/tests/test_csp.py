"""The browser's security headers (issue 13 §5): a strict Content-Security-Policy on every page,
signed in or not, Permissions-Policy, Referrer-Policy and frame refusal; and no template (but
emails and PDFs, named below) carries what that policy refuses: inline styles, inline scripts,
inline handlers.

crm/top/tests/browser/test_csp.py loads the pages in Chromium and listens for violations."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import tokens
from campaigns.tests.factories import CampaignFactory, SendFactory, consenting_contact
from contacts import selectors as contact_selectors
from crm.core.templatetags.crm_tags import bar_percent
from support.services.surveys import survey_token
from support.tests.factories import SurveyFactory, TicketFactory

BASE = Path(settings.BASE_DIR)

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources} (django-csp's order varies)."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict_headers(response, referrer: str = "same-origin") -> None:
    assert policy(response) == STRICT
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == referrer
    assert response["X-Frame-Options"] == "DENY"
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions
    assert "clipboard-write=(self)" in permissions  # the agenda's "Copiar"


@pytest.mark.django_db
def test_a_signed_in_page_has_the_strict_policy(client_for, rep):
    response = client_for(rep).get(reverse("crm:home"))
    assert response.status_code == 200
    assert_strict_headers(response)


@pytest.mark.django_db
def test_an_htmx_fragment_has_it_too(client_for, rep):
    response = client_for(rep).get(reverse("contacts:contact-list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert_strict_headers(response)


@pytest.mark.django_db
def test_the_login_page_has_the_strict_policy(client):
    response = client.get(reverse("crm:login"))
    assert response.status_code == 200
    assert_strict_headers(response)


@pytest.mark.django_db
def test_the_public_pages_have_the_strict_policy(db):
    anonymous = Client()
    send = SendFactory(
        contact=consenting_contact(),
        campaign=CampaignFactory(),
        sent_at=timezone.now() - timedelta(hours=1),
    )
    survey = SurveyFactory(ticket=TicketFactory(), sent_at=timezone.now())
    # The campaign's pages send no referrer at all (their URLs are the contact's tokens).
    for url, referrer in (
        (
            reverse(
                "campaigns_public:unsubscribe", args=[tokens.make(tokens.UNSUBSCRIBE, send.pk)]
            ),
            "no-referrer",
        ),
        (
            reverse(
                "campaigns_public:preferences",
                args=[tokens.make(tokens.PREFERENCES, send.contact_id)],
            ),
            "no-referrer",
        ),
        (
            reverse("support:survey-answer", args=[survey_token(survey=survey, score=9)]),
            "same-origin",
        ),
    ):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert_strict_headers(response, referrer=referrer)


@pytest.mark.django_db
def test_a_csrf_failure_is_our_page_not_djangos_inline_styled_one():
    response = Client(enforce_csrf_checks=True).post(
        reverse("crm:login"), {"username": "x", "password": "y"}
    )
    assert response.status_code == 403
    assert_strict_headers(response)
    html = response.content.decode()
    assert "El formulario ya no es válido" in html
    assert "<style" not in html


@pytest.mark.django_db
def test_the_404_page_has_the_strict_policy(client_for, rep):
    response = client_for(rep).get("/no-existe/")
    assert response.status_code == 404
    assert_strict_headers(response)


@pytest.mark.django_db
def test_the_503_page_has_the_policy_and_a_stylesheet_served_without_the_database(
    client_for, rep, monkeypatch
):
    client = client_for(rep)
    client.raise_request_exception = False

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(contact_selectors, "contact_filtered", database_gone)
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 503
    assert_strict_headers(response)
    html = response.content.decode()
    assert 'href="/static/css/error.css"' in html
    assert "style=" not in html
    stylesheet = Client().get("/static/css/error.css")  # WhiteNoise: no view, no database
    assert stylesheet.status_code == 200
    assert b"error-page" in b"".join(stylesheet.streaming_content)


@pytest.mark.django_db
def test_the_campaign_preview_frame_has_a_policy_of_its_own(client_for, marketing):
    """The message is an email, styled inline: its frame may use inline styles, nothing more."""
    contact = consenting_contact(first_name="Lucía")
    campaign = CampaignFactory()
    response = client_for(marketing).get(
        reverse("campaigns:campaign-preview-frame", args=[campaign.pk]), {"contact": contact.pk}
    )
    assert response.status_code == 200
    assert policy(response) == {
        "default-src": ["'none'"],
        "script-src": ["'none'"],
        "img-src": ["https:", "http:", "data:"],
        "style-src": ["'unsafe-inline'"],
        "font-src": ["https:", "data:"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'self'"],
        "sandbox": ["allow-popups", "allow-popups-to-escape-sandbox"],
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"


# --- What the templates may not hold ------------------------------------------------------------

# Never served as a page, so never under the policy: emails (mail clients drop linked
# stylesheets, so their styles are inline) and the PDFs (WeasyPrint reads their <style>).
# The campaign message is also shown in the preview frame, whose policy allows inline styles.
NOT_PAGES = {
    "campaigns/templates/campaigns/email/message.html": "email (and the preview frame)",
    "support/templates/support/emails/reply.html": "email",
    "support/templates/support/emails/sla_breach.html": "email",
    "support/templates/support/emails/sla_escalation.html": "email",
    "support/templates/support/emails/sla_ticket.html": "email (included by the SLA emails)",
    "support/templates/support/emails/sla_warning.html": "email",
    "support/templates/support/emails/survey_csat.html": "email",
    "support/templates/support/emails/survey_nps.html": "email",
    "opportunities/templates/opportunities/quotes/quote_pdf.html": "PDF",
    "opportunities/templates/opportunities/forecast/forecast_pdf.html": "PDF",
    "campaigns/templates/campaigns/results/campaign_results_pdf.html": "PDF",
    "crm/top/templates/top/privacy/person_pdf.html": "PDF",
}

REFUSED = {
    "a style attribute": re.compile(r"""\sstyle\s*=\s*["'{]""", re.IGNORECASE),
    "a <style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "an inline handler": re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE),
    "an hx-on handler": re.compile(r"\shx-on", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "a script without src": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE),
}


def page_templates() -> list[Path]:
    found = set(BASE.glob("templates/**/*.html")) | set(BASE.glob("*/templates/**/*.html"))
    found |= set(BASE.glob("crm/*/templates/**/*.html"))
    return sorted(path for path in found if ".venv" not in path.parts)


def test_the_allow_list_names_templates_that_exist():
    for name in NOT_PAGES:
        assert (BASE / name).is_file(), name


def test_no_page_template_holds_what_the_policy_refuses():
    templates = page_templates()
    assert len(templates) > 100  # the glob found the apps' templates
    found = []
    for path in templates:
        name = path.relative_to(BASE).as_posix()
        if name in NOT_PAGES:
            continue
        text = path.read_text(encoding="utf-8")
        for what, pattern in REFUSED.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {what}")
    assert found == []


def test_no_script_of_ours_evaluates_strings_or_writes_inline_styles_and_handlers():
    """setAttribute("style"/"onclick") and string code are refused by the policy;
    element.style.x = … (the CSSOM) is allowed."""
    refused = re.compile(
        r"""\beval\s*\(|new\s+Function\b|set(?:Timeout|Interval)\s*\(\s*["'`]"""
        r"""|setAttribute\s*\(\s*["'`](?:style|on[a-z]+)["'`]|\.on[a-z]+\s*=\s*["'`]"""
        r"""|\bstyle\s*=\s*\\?["']|<style|javascript:"""
    )
    found = []
    for path in sorted((BASE / "static/js").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {match.group(0)}" for match in refused.finditer(text)]
    assert found == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0),
        ("", 0),
        ("n/a", 0),
        (float("nan"), 0),
        (-5, 0),
        (0, 0),
        (0.2, 1),  # a sliver still shows
        (37.49, 37),
        ("62.5", 62),
        (99.6, 100),
        (130, 100),  # a quota beaten: the bar is full
    ],
)
def test_bar_percent(value, expected):
    assert bar_percent(value) == expected
