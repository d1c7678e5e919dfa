"""Every campaigns URL, for every role (issue 8, "Roles and the customer sheet").

The URLs are read from the resolver, so a new page that is not classified here fails the first
test. Marketing and administrators build, write and send; managers read results; reps and
support see only the "Campañas" panels of the sheets. A refused request changes nothing.
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Campaign, Segment, Send, Suppression, TrackingEvent
from campaigns.tests.factories import (
    AutomationFactory,
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    SignupFormFactory,
    SuppressionFactory,
    TopicFactory,
    consenting_contact,
)
from contacts.models import Consent, Topic
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

ROLES = ["rep", "manager", "support", "marketing", "admin_user"]
MANAGE = {"marketing", "admin_user"}
RESULTS = MANAGE | {"manager"}
EVERYONE = set(ROLES)

# Who may use each page of the staff side (namespace "campaigns").
ACCESS = {
    # The editor.
    "campaign-list": RESULTS,
    "campaign-list-count": RESULTS,
    "campaign-detail": RESULTS,
    "campaign-create": MANAGE,
    "campaign-edit": MANAGE,
    "campaign-delete": MANAGE,
    "campaign-duplicate": MANAGE,
    "campaign-preview": MANAGE,
    "campaign-preview-frame": MANAGE,
    "campaign-test-send": MANAGE,
    "topic-list": MANAGE,
    "topic-create": MANAGE,
    "topic-edit": MANAGE,
    # Segments.
    "segment-list": MANAGE,
    "segment-create": MANAGE,
    "segment-preview": MANAGE,
    "segment-add-contacts": MANAGE,
    "segment-detail": MANAGE,
    "segment-edit": MANAGE,
    "segment-count": MANAGE,
    "segment-archive": MANAGE,
    "segment-remove-contact": MANAGE,
    # Sending.
    "campaign-send": MANAGE,
    "campaign-schedule": MANAGE,
    "campaign-pause": MANAGE,
    "campaign-resume": MANAGE,
    "campaign-cancel": MANAGE,
    "campaign-progress": RESULTS,
    "campaign-sends": RESULTS,
    "campaign-send-resolve": MANAGE,
    # Suppression.
    "suppression-list": MANAGE,
    "suppression-count": MANAGE,
    "suppression-create": MANAGE,
    "suppression-import": MANAGE,
    "suppression-export": MANAGE,
    "suppression-delete": MANAGE,
    # Results.
    "results-overview": RESULTS,
    "results-export": RESULTS,
    "campaign-engagement": RESULTS,
    "campaign-inactive-segment": MANAGE,
    "campaign-channels": RESULTS,
    "campaign-results": RESULTS,
    "campaign-results-summary": RESULTS,
    "campaign-results-refresh": RESULTS,
    "campaign-results-csv": RESULTS,
    "campaign-ledger-csv": RESULTS,
    "campaign-results-pdf": RESULTS,
    # Sign-up forms (their public side is crm:signup-*, tested in test_signup_views.py).
    "signup-list": MANAGE,
    "signup-create": MANAGE,
    "signup-detail": MANAGE,
    "signup-edit": MANAGE,
    # Automations (their one-click unsubscribe is public: campaigns_public).
    "automation-list": MANAGE,
    "automation-create": MANAGE,
    "automation-detail": MANAGE,
    "automation-edit": MANAGE,
    "automation-pause": MANAGE,
    "automation-resume": MANAGE,
    # The sheet panels: whoever reads the sheet.
    "contact-campaigns-panel": EVERYONE,
    "account-campaigns-panel": EVERYONE,
}


def _names(resolver: URLResolver) -> list[URLPattern]:
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _names(pattern)
        elif pattern.name:
            found.append(pattern)
    return found


def _patterns() -> list[URLPattern]:
    _prefix, resolver = get_resolver().namespace_dict["campaigns"]
    return _names(resolver)


@pytest.fixture
def records(rep):
    topic = TopicFactory()
    account = AccountFactory(owner=rep)
    contact = consenting_contact(owner=rep, account=account)
    segment = SegmentFactory()
    campaign = CampaignFactory(
        topic=topic,
        segment=segment,
        status=Campaign.Status.SENT,
        started_at=timezone.now() - timedelta(days=2),
        finished_at=timezone.now() - timedelta(days=2),
        materialized_at=timezone.now() - timedelta(days=2),
    )
    SendFactory(campaign=campaign, contact=contact, email=contact.email.lower())
    return {
        "topic": topic,
        "account": account,
        "contact": contact,
        "segment": segment,
        "campaign": campaign,
        "suppression": SuppressionFactory(),
        "signup_form": SignupFormFactory(owner=rep),
        "automation": AutomationFactory(topic=topic),
    }


def _url(pattern: URLPattern, records) -> str:
    name = pattern.name
    kwargs = {}
    for key in pattern.pattern.converters:
        if key == "contact_pk":
            kwargs[key] = records["contact"].pk
        elif key == "account_pk":
            kwargs[key] = records["account"].pk
        elif name.startswith("segment-"):
            kwargs[key] = records["segment"].pk
        elif name.startswith("topic-"):
            kwargs[key] = records["topic"].pk
        elif name.startswith("suppression-"):
            kwargs[key] = records["suppression"].pk
        elif name.startswith("signup-"):
            kwargs[key] = records["signup_form"].pk
        elif name.startswith("automation-"):
            kwargs[key] = records["automation"].pk
        else:
            kwargs[key] = records["campaign"].pk
    return reverse(f"campaigns:{name}", kwargs=kwargs)


def _state() -> tuple:
    return (
        Campaign.objects.count(),
        list(Campaign.objects.values_list("status", flat=True)),
        Segment.objects.count(),
        Topic.objects.count(),
        Send.objects.count(),
        list(Send.objects.values_list("status", flat=True)),
        TrackingEvent.objects.count(),
        Suppression.objects.count(),
        Consent.objects.count(),
        AuditEvent.objects.count(),
    )


def test_every_campaigns_url_is_classified():
    names = {pattern.name for pattern in _patterns()}
    assert names - set(ACCESS) == set(), "unclassified campaigns URLs"
    assert set(ACCESS) - names == set(), "classified URLs that no longer exist"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_what_it_may_and_nothing_else(role, request, records, client_for):
    client = client_for(request.getfixturevalue(role))
    for pattern in _patterns():
        url = _url(pattern, records)
        response = client.get(url)
        assert response.status_code != 500, url
        if role in ACCESS[pattern.name]:
            assert response.status_code not in (403, 404), (url, response.status_code)
        else:
            assert response.status_code in (403, 404, 405), (url, response.status_code)
            before = _state()
            refused = client.post(url, {"confirm": "1", "email": "x@ejemplo.com"})
            assert refused.status_code in (403, 404, 405), (url, refused.status_code)
            assert _state() == before, url


def test_anonymous_is_sent_to_the_login_page(client, records):
    for pattern in _patterns():
        url = _url(pattern, records)
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"] or "/entrar" in response["Location"], url


def test_the_public_side_needs_no_login_and_never_fails_on_a_bad_token(client, records):
    bad = "no-es-un-token"
    link = records["campaign"].links.first()
    answers = {
        reverse("campaigns_public:open", args=[bad]): 200,
        reverse("campaigns_public:click", args=[bad, link.pk if link else 1]): 404,
        reverse("campaigns_public:unsubscribe", args=[bad]): 400,
        reverse("campaigns_public:preferences", args=[bad]): 400,
    }
    before = _state()
    for url, status in answers.items():
        assert client.get(url).status_code == status, url
        assert client.post(url).status_code in (status, 405), url
    assert _state() == before
