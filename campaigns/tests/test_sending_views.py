"""Sending pages: the controls, confirm and send, schedule, pause/resume/cancel, the progress
bar, the ledger and the resolution of doubtful rows; 403 for the wrong roles."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Send
from campaigns.tests.factories import CampaignFactory, SendFactory, consenting_contact
from contacts.models import Contact
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
Status = Campaign.Status
Row = Send.Status


def url(name: str, *args) -> str:
    return reverse(f"campaigns:{name}", args=args)


@pytest.fixture
def campaign(marketing):
    return CampaignFactory(created_by=marketing)


def controls(campaign, user, *, can_manage=True, can_read_results=True) -> str:
    request = RequestFactory().get(f"/campanas/{campaign.pk}/")
    request.user = user
    return render_to_string(
        "campaigns/sending/_send_controls.html",
        {
            "campaign": campaign,
            "can_manage": can_manage,
            "can_read_results": can_read_results,
            "can_see_amounts": True,
        },
        request=request,
    )


def test_controls_follow_the_state(campaign, marketing):
    html = controls(campaign, marketing)
    assert url("campaign-send", campaign.pk) in html
    assert url("campaign-schedule", campaign.pk) in html
    assert url("campaign-pause", campaign.pk) not in html
    campaign.status = Status.SENDING
    campaign.started_at = timezone.now()
    html = controls(campaign, marketing)
    assert url("campaign-pause", campaign.pk) in html
    assert url("campaign-cancel", campaign.pk) in html
    assert url("campaign-send", campaign.pk) not in html
    assert f'hx-get="{url("campaign-progress", campaign.pk)}"' in html
    campaign.status = Status.PAUSED
    assert url("campaign-resume", campaign.pk) in controls(campaign, marketing)
    # A reader of results sees the progress, never a button.
    html = controls(campaign, marketing, can_manage=False)
    assert url("campaign-resume", campaign.pk) not in html
    assert url("campaign-sends", campaign.pk) in html


def test_send_confirmation_shows_the_count_then_sends(
    campaign, marketing, client_for, django_capture_on_commit_callbacks
):
    for _i in range(3):
        consenting_contact()
    ContactFactory()  # no consent: not counted
    client = client_for(marketing)
    response = client.get(url("campaign-send", campaign.pk))
    assert response.status_code == 200
    assert "<strong>3</strong> contactos" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url("campaign-send", campaign.pk), {"next": "/campanas/"})
    assert response.status_code == 302 and response.url == "/campanas/"
    assert len(callbacks) == 1
    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING
    # Pressed again: refused with a message, nothing queued.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url("campaign-send", campaign.pk), follow=True)
    assert callbacks == []
    assert "ya no se puede enviar" in response.content.decode()


def test_send_confirmation_lists_content_errors(marketing, client_for):
    campaign = CampaignFactory(created_by=marketing, subject="Hola {{ apodo }}")
    response = client_for(marketing).get(url("campaign-send", campaign.pk))
    body = response.content.decode()
    assert "apodo" in body
    assert "Confirmar y enviar" not in body


@pytest.mark.parametrize("role_user", ["rep", "manager", "support"])
def test_wrong_roles_cannot_send(role_user, campaign, client_for, request):
    client = client_for(request.getfixturevalue(role_user))
    assert client.get(url("campaign-send", campaign.pk)).status_code == 403
    assert client.post(url("campaign-send", campaign.pk)).status_code == 403
    assert client.post(url("campaign-cancel", campaign.pk)).status_code == 403
    assert client.post(url("campaign-pause", campaign.pk)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


@pytest.mark.parametrize("role_user", ["rep", "support"])
def test_wrong_roles_cannot_read_progress(role_user, campaign, client_for, request):
    client = client_for(request.getfixturevalue(role_user))
    assert client.get(url("campaign-progress", campaign.pk)).status_code == 403
    assert client.get(url("campaign-sends", campaign.pk)).status_code == 403


def test_schedule(campaign, marketing, client_for):
    client = client_for(marketing)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url("campaign-schedule", campaign.pk), {"when": past})
    assert response.status_code == 400
    assert "futura" in response.content.decode()
    response = client.post(url("campaign-schedule", campaign.pk), {"when": "mañana"})
    assert response.status_code == 400
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    future = timezone.localtime() + timedelta(days=1)
    response = client.post(
        url("campaign-schedule", campaign.pk), {"when": future.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert abs((campaign.scheduled_at - future).total_seconds()) < 60


def test_pause_resume_cancel(campaign, marketing, client_for, django_capture_on_commit_callbacks):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.SENDING, started_at=timezone.now(), materialized_at=timezone.now()
    )
    client = client_for(marketing)
    assert client.post(url("campaign-pause", campaign.pk)).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    response = client.post(url("campaign-pause", campaign.pk), follow=True)
    assert "Solo se pausa" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        client.post(url("campaign-resume", campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING
    response = client.get(url("campaign-cancel", campaign.pk))
    assert "Sí, cancelar" in response.content.decode()
    client.post(url("campaign-cancel", campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    assert client.get(url("campaign-pause", campaign.pk)).status_code == 405


def test_progress_polls_only_while_sending(campaign, manager, client_for):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.SENDING, started_at=timezone.now(), materialized_at=timezone.now()
    )
    for status in (Row.SENT, Row.SENT, Row.PENDING, Row.DOUBT):
        SendFactory(campaign=campaign, status=status)
    client = client_for(manager)  # results readers see progress
    response = client.get(url("campaign-progress", campaign.pk), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'hx-trigger="every 3s"' in body
    assert "3 de 4 procesados (75 %)" in body
    assert "en duda" in body
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.SENT)
    body = client.get(url("campaign-progress", campaign.pk)).content.decode()
    assert "<html" in body and "every 3s" not in body


def test_ledger_filters_searches_and_highlights_doubt(campaign, marketing, client_for):
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.SENT, started_at=timezone.now())
    doubtful = SendFactory(campaign=campaign, status=Row.DOUBT, sent_at=None)
    SendFactory(campaign=campaign, status=Row.SENT)
    client = client_for(marketing)
    body = client.get(url("campaign-sends", campaign.pk)).content.decode()
    assert body.count("table-warning") == 1
    assert url("campaign-send-resolve", campaign.pk, doubtful.pk) in body
    body = client.get(url("campaign-sends", campaign.pk), {"status": "enviado"}).content.decode()
    assert doubtful.email not in body.split('id="send-rows"')[1]
    body = client.get(
        url("campaign-sends", campaign.pk),
        {"q": doubtful.email[:8].upper()},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert doubtful.email in body and "<html" not in body
    # A bad filter value is ignored, not a 500.
    assert client.get(url("campaign-sends", campaign.pk), {"status": "x"}).status_code == 200


def test_ledger_loads_its_progress_bar_apart(campaign, marketing, client_for):
    """The bar (a count of the whole ledger) comes from the progress view, which polls while
    the campaign is sending; the ledger's pages and row swaps never count it."""
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.SENDING, started_at=timezone.now(), materialized_at=timezone.now()
    )
    for status in (Row.SENT, Row.PENDING):
        SendFactory(campaign=campaign, status=status)
    client = client_for(marketing)
    body = client.get(url("campaign-sends", campaign.pk)).content.decode()
    assert f'hx-get="{url("campaign-progress", campaign.pk)}"' in body
    assert 'hx-trigger="load"' in body
    assert "procesados" not in body
    rows = client.get(url("campaign-sends", campaign.pk), headers={"HX-Request": "true"})
    assert url("campaign-progress", campaign.pk) not in rows.content.decode()
    bar = client.get(url("campaign-progress", campaign.pk), headers={"HX-Request": "true"})
    assert "1 de 2 procesados (50 %)" in bar.content.decode()
    assert 'hx-trigger="every 3s"' in bar.content.decode()
    # Before anything was sent there is no ledger, and nothing to load.
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.DRAFT, started_at=None)
    body = client.get(url("campaign-sends", campaign.pk)).content.decode()
    assert url("campaign-progress", campaign.pk) not in body


def test_ledger_readers_see_no_resolution_buttons(campaign, manager, client_for):
    doubtful = SendFactory(campaign=campaign, status=Row.DOUBT, sent_at=None)
    body = client_for(manager).get(url("campaign-sends", campaign.pk)).content.decode()
    assert doubtful.email in body
    assert url("campaign-send-resolve", campaign.pk, doubtful.pk) not in body


def test_ledger_query_count_is_constant(
    campaign, marketing, client_for, django_assert_max_num_queries
):
    people = Contact.objects.bulk_create(
        Contact(
            first_name="Persona", last_name=str(i), email=f"n{i}@ejemplo.com.mx", owner=marketing
        )
        for i in range(60)
    )
    Send.objects.bulk_create(
        Send(campaign=campaign, contact=person, email=person.email, status=s)
        for person, s in zip(people, [Row.SENT] * 30 + [Row.DOUBT] * 30, strict=True)
    )
    client = client_for(marketing)
    with django_assert_max_num_queries(12):
        response = client.get(url("campaign-sends", campaign.pk), {"page": 2})
    assert response.status_code == 200
    assert "n25@ejemplo.com.mx" in response.content.decode()


def test_resolve(campaign, marketing, manager, client_for, django_capture_on_commit_callbacks):
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.SENT)
    first = SendFactory(campaign=campaign, status=Row.DOUBT, sent_at=None)
    second = SendFactory(campaign=campaign, status=Row.DOUBT, sent_at=None)
    path = url("campaign-send-resolve", campaign.pk, first.pk)
    assert client_for(manager).post(path, {"action": "enviado"}).status_code == 403
    client = client_for(marketing)
    response = client.post(path, {"action": "enviado"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == Row.SENT
    response = client.post(path, {"action": "reenviar"}, follow=True)
    assert "ya no está en duda" in response.content.decode()
    response = client.post(url("campaign-send-resolve", campaign.pk, second.pk), {"action": "x"})
    second.refresh_from_db()
    assert second.status == Row.DOUBT
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(url("campaign-send-resolve", campaign.pk, second.pk), {"action": "reenviar"})
    assert len(callbacks) == 1
    second.refresh_from_db()
    assert second.status == Row.PENDING
    other = CampaignFactory()
    assert (
        client.post(
            url("campaign-send-resolve", other.pk, second.pk), {"action": "enviado"}
        ).status_code
        == 404
    )
