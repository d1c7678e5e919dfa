"""The results pages per role, the exports (audited, formulas escaped) and the query counts."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Campaign, Segment, Send, TrackingEvent
from campaigns.services.stats import campaign_stats_refresh
from campaigns.tests import factories
from campaigns.tests.factories import CampaignFactory, SendFactory, TrackingEventFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.django_db


def sent_campaign(**kwargs) -> Campaign:
    kwargs.setdefault("cost", Decimal("1000.00"))
    return factories.sent_campaign(**kwargs)


def ledger(campaign, n: int, *, account=None) -> list[Send]:
    """`n` recipients, each opened, half clicked, with events; optionally at one account."""
    sent_at = timezone.now() - timedelta(days=5)
    link = campaign.links.first()
    sends = []
    for i in range(n):
        contact = ContactFactory(account=account) if account else ContactFactory()
        send = SendFactory(
            campaign=campaign,
            contact=contact,
            sent_at=sent_at,
            first_opened_at=sent_at,
            first_clicked_at=sent_at if i % 2 else None,
            variant="ab"[i % 2] if campaign.subject_b else "",
        )
        TrackingEventFactory(send=send, kind=TrackingEvent.Kind.OPEN)
        if i % 2:
            TrackingEventFactory(send=send, kind=TrackingEvent.Kind.CLICK, link=link)
        sends.append(send)
    return sends


@pytest.fixture
def campaign():
    return sent_campaign()


PAGES = [
    ("campaigns:results-overview", False),
    ("campaigns:campaign-engagement", False),
    ("campaigns:campaign-channels", False),
    ("campaigns:campaign-results", True),
    ("campaigns:campaign-results-summary", True),
    ("campaigns:campaign-results-csv", True),
    ("campaigns:campaign-ledger-csv", True),
]


@pytest.mark.parametrize(("name", "with_pk"), PAGES)
@pytest.mark.parametrize("who", ["rep", "support"])
def test_other_roles_get_403(request, client_for, campaign, name, with_pk, who):
    user = request.getfixturevalue(who)
    url = reverse(name, args=[campaign.pk] if with_pk else [])
    assert client_for(user).get(url).status_code == 403


@pytest.mark.parametrize(("name", "with_pk"), PAGES)
@pytest.mark.parametrize("who", ["marketing", "manager", "admin_user"])
def test_readers_get_the_pages(request, client_for, campaign, name, with_pk, who):
    ledger(campaign, 3)
    user = request.getfixturevalue(who)
    url = reverse(name, args=[campaign.pk] if with_pk else [])
    response = client_for(user).get(url)
    assert response.status_code == 200


def test_results_page_shows_figures_and_roi(client_for, marketing, campaign):
    account = AccountFactory(tier_auto="B")
    ledger(campaign, 4, account=account)
    OpportunityFactory(
        account=account,
        stage=stage("Ganada"),
        closed_at=timezone.now() - timedelta(days=2),
        amount=Decimal("5000.00"),
    )
    response = client_for(marketing).get(reverse("campaigns:campaign-results", args=[campaign.pk]))
    assert response.templates[0].name == "campaigns/results/campaign_results.html"
    results = response.context["results"]
    assert results.total.conversions == 1
    assert results.money.roi == 400.0
    html = response.content.decode()
    assert 'id="stat-roi"' in html
    assert "segments-chart-data" in html
    assert "<script>" not in html  # the charts read json_script data (CSP)


def test_segments_partial_for_htmx(client_for, marketing, campaign):
    ledger(campaign, 2)
    url = reverse("campaigns:campaign-results", args=[campaign.pk])
    response = client_for(marketing).get(
        f"{url}?por=lifecycle&parte=segmentos", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card mb-3" id="segments">')
    assert "Lead" in html


def test_unknown_dimension_falls_back(client_for, marketing, campaign):
    url = reverse("campaigns:campaign-results", args=[campaign.pk])
    response = client_for(marketing).get(f"{url}?por=__class__")
    assert response.status_code == 200
    assert response.context["results"].dimension == "tier"


def test_draft_has_no_results_page(client_for, marketing):
    draft = CampaignFactory()
    url = reverse("campaigns:campaign-results", args=[draft.pk])
    assert client_for(marketing).get(url).status_code == 404


def test_ab_variants_side_by_side(client_for, marketing):
    campaign = sent_campaign(subject_b="Segunda opción")
    ledger(campaign, 4)
    response = client_for(marketing).get(reverse("campaigns:campaign-results", args=[campaign.pk]))
    html = response.content.decode()
    assert 'id="variant-a"' in html and 'id="variant-b"' in html
    assert "Segunda opción" in html


def test_results_csv_escapes_formulas_and_is_audited(client_for, marketing):
    campaign = sent_campaign(name="=HYPERLINK(1)")
    account = AccountFactory(region="=cmd|' /C calc'!A0")
    ledger(campaign, 2, account=account)
    client = client_for(marketing)
    response = client.get(reverse("campaigns:campaign-results-csv", args=[campaign.pk]))
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0] == "Grupo"
    assert any(row[1].startswith("'=cmd") for row in rows if len(row) > 1)
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.target == f"campaigns.campaign:{campaign.pk}"
    assert event.detail["format"] == "csv"


def test_ledger_csv_streams_every_recipient(client_for, manager, campaign):
    sends = ledger(campaign, 3)
    contact = sends[0].contact
    contact.first_name = "@SUM(A1)"
    contact.save()
    TrackingEventFactory(send=sends[0], kind=TrackingEvent.Kind.UNSUBSCRIBE)
    response = client_for(manager).get(reverse("campaigns:campaign-ledger-csv", args=[campaign.pk]))
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 4
    first = next(r for r in rows[1:] if r[0] == sends[0].email)
    assert first[1].startswith("'@SUM")
    assert first[13] == "sí"
    assert AuditEvent.objects.filter(detail__format="csv_ledger").count() == 1


def test_results_and_recipients_in_excel(client_for, marketing, campaign):
    from openpyxl import load_workbook

    sends = ledger(campaign, 3)
    contact = sends[0].contact
    contact.first_name = "=HYPERLINK(1)"
    contact.save()
    client = client_for(marketing)
    url = reverse("campaigns:campaign-results-csv", args=[campaign.pk])
    response = client.get(url, {"formato": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'campana-{campaign.pk}-resultados.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Grupo", "Valor", "Enviados")
    assert rows[1][0] == "Campaña" and rows[1][2] == 3  # numbers stay numbers

    url = reverse("campaigns:campaign-ledger-csv", args=[campaign.pk])
    response = client.get(url, {"formato": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 4
    first = next(r for r in rows[1:] if r[0] == sends[0].email)
    assert first[1].startswith("'=HYPERLINK")  # neutralised in Excel too
    assert AuditEvent.objects.filter(detail__format="xlsx_ledger").count() == 1
    assert client.get(url, {"formato": "exe"}).status_code == 404


def test_pdf_report(client_for, marketing, campaign):
    ledger(campaign, 2)
    response = client_for(marketing).get(
        reverse("campaigns:campaign-results-pdf", args=[campaign.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(detail__format="pdf").exists()


def test_pdf_forbidden_to_rep(client_for, rep, campaign):
    response = client_for(rep).get(reverse("campaigns:campaign-results-pdf", args=[campaign.pk]))
    assert response.status_code == 403


def test_create_inactive_segment(client_for, marketing):
    client = client_for(marketing)
    response = client.post(reverse("campaigns:campaign-inactive-segment"), {"periodo": "semestre"})
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.kind == Segment.Kind.DYNAMIC
    assert segment.created_by == marketing
    assert segment.definition == {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"field": "emailed", "op": "in_last_days", "value": 182},
                    {"field": "opened", "op": "not_in_last_days", "value": 182},
                ],
            }
        ],
    }


def test_inactive_segment_bad_period_changes_nothing(client_for, marketing):
    response = client_for(marketing).post(
        reverse("campaigns:campaign-inactive-segment"), {"periodo": "siglo"}, follow=True
    )
    assert response.status_code == 200
    assert not Segment.objects.exists()
    assert "periodo válido" in response.content.decode()


def test_inactive_segment_needs_role_and_post(client_for, rep, manager, marketing):
    url = reverse("campaigns:campaign-inactive-segment")
    assert client_for(rep).post(url, {"periodo": "anio"}).status_code == 403
    # Managers read the engagement but do not build segments: no button, and 403.
    page = client_for(manager).get(reverse("campaigns:campaign-engagement")).content.decode()
    assert "Crear segmento de inactivos" not in page
    assert client_for(manager).post(url, {"periodo": "anio"}).status_code == 403
    assert client_for(marketing).get(url).status_code == 405
    assert not Segment.objects.exists()


def test_summary_partial_renders_figures(client_for, marketing, campaign):
    ledger(campaign, 2)
    url = reverse("campaigns:campaign-results-summary", args=[campaign.pk])
    html = client_for(marketing).get(url).content.decode()
    assert 'id="summary-figures"' in html


def test_summary_include_hidden_for_other_roles(campaign):
    from django.template.loader import render_to_string

    shown = render_to_string(
        "campaigns/results/_summary.html", {"campaign": campaign, "can_read_results": True}
    )
    hidden = render_to_string(
        "campaigns/results/_summary.html", {"campaign": campaign, "can_read_results": False}
    )
    assert reverse("campaigns:campaign-results-summary", args=[campaign.pk]) in shown
    assert hidden.strip() == ""


# --- query counts with many rows --------------------------------------------------------


def test_results_page_queries_constant(client_for, marketing, django_assert_max_num_queries):
    campaign = sent_campaign(subject_b="B")
    account = AccountFactory()
    client = client_for(marketing)
    url = reverse("campaigns:campaign-results", args=[campaign.pk])
    ledger(campaign, 2, account=account)
    campaign_stats_refresh(campaign_id=campaign.pk)  # as the beat or the first view would
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    ledger(campaign, 30, account=account)
    ledger(campaign, 10)
    for _ in range(5):
        OpportunityFactory(
            account=account, stage=stage("Ganada"), closed_at=timezone.now() - timedelta(days=1)
        )
    campaign_stats_refresh(campaign_id=campaign.pk)  # the figures move through the rollup
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["results"].total.sent == 42


def test_overview_queries_constant(client_for, manager, django_assert_max_num_queries):
    client = client_for(manager)
    url = reverse("campaigns:results-overview")
    first = sent_campaign()
    ledger(first, 2)
    campaign_stats_refresh(campaign_id=first.pk)  # as the beat or the first view would
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for _ in range(8):
        campaign = sent_campaign()
        ledger(campaign, 3)
        campaign_stats_refresh(campaign_id=campaign.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["page_obj"].object_list) == 9
    assert sorted(c.sent_total for c in response.context["page_obj"].object_list) == [2] + [3] * 8


def test_overview_computes_a_campaign_never_computed(client_for, manager):
    """The first view of a campaign's figures computes them, here as on its own page."""
    campaign = sent_campaign()
    ledger(campaign, 4)
    assert campaign.stats_computed_at is None
    response = client_for(manager).get(reverse("campaigns:results-overview"))
    (row,) = response.context["page_obj"].object_list
    assert (row.sent_total, row.opened_total, row.clicked_total) == (4, 4, 2)
    campaign.refresh_from_db()
    assert campaign.stats_computed_at is not None


def test_engagement_queries_constant(client_for, marketing, django_assert_max_num_queries):
    client = client_for(marketing)
    url = reverse("campaigns:campaign-engagement")
    ledger(sent_campaign(), 2)
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for _ in range(4):
        ledger(sent_campaign(), 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_channels_queries_constant(client_for, marketing, django_assert_max_num_queries):
    client = client_for(marketing)
    url = reverse("campaigns:campaign-channels")
    first = sent_campaign()
    ledger(first, 2)
    campaign_stats_refresh(campaign_id=first.pk)  # as the beat or the first view would
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for _ in range(6):
        campaign = sent_campaign()
        ledger(campaign, 3)
        campaign_stats_refresh(campaign_id=campaign.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["campaigns"]) == 7
