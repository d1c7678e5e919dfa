"""The campaign results list's export: every sent campaign, amounts only for who sees them."""

import pytest
from django.urls import reverse

from campaigns.tests.factories import CampaignFactory, sent_campaign
from crm.core.models import AuditEvent
from crm.core.tests.exports import csv_rows, xlsx_rows

pytestmark = pytest.mark.django_db
URL = reverse("campaigns:results-export")


def test_sent_campaigns_with_their_figures(marketing, client_for):
    sent_campaign(name="=Rebajas")
    CampaignFactory(name="Borrador")  # never sent: not in the list
    head, *rows = csv_rows(client_for(marketing).get(URL))
    assert head[:3] == ["Campaña", "Tema", "Estado"]
    assert "ROI %" in head
    assert [r[0] for r in rows] == ["'=Rebajas"]
    assert AuditEvent.objects.get(action=AuditEvent.Action.EXPORT).detail["list"] == (
        "campaign_results"
    )


def test_xlsx_keeps_counts_numbers(manager, client_for):
    sent_campaign(name="Otoño")
    head, row = xlsx_rows(client_for(manager).get(URL, {"formato": "xlsx"}))
    assert row[0] == "Otoño"
    assert row[head.index("Enviados")] == 0


def test_who_exports_the_results(rep, support, admin_user, client_for):
    assert client_for(rep).get(URL).status_code == 403
    assert client_for(support).get(URL).status_code == 403
    assert client_for(admin_user).get(URL).status_code == 200


def test_queries_do_not_grow_with_rows(marketing, client_for, django_assert_max_num_queries):
    client = client_for(marketing)
    for _n in range(3):
        sent_campaign()
    with django_assert_max_num_queries(12) as few:
        csv_rows(client.get(URL))
    for _n in range(57):
        sent_campaign()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(csv_rows(client.get(URL))) == 61


def test_the_overview_offers_the_export(marketing, client_for):
    page = client_for(marketing).get(reverse("campaigns:results-overview"))
    assert f"{URL}?formato=xlsx" in page.text
