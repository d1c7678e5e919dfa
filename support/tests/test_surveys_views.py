"""Survey pages: the public answer page (no login, GET records nothing, first POST only),
NPS rounds per role, and the satisfaction panel of a contact's sheet."""

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.models import Lifecycle
from contacts.tests.factories import ContactFactory
from crm.celery import app
from support.models import ContactSatisfaction, Satisfaction, Survey, SurveyRound
from support.services.surveys import survey_token
from support.tests.factories import SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

NPS_LIST = reverse("support:nps-round-list")
NPS_CREATE = reverse("support:nps-round-create")
NPS_PREVIEW = reverse("support:nps-round-preview")
ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
NPS_ROLES = {"support", "marketing", "admin_user"}


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def survey(rep):
    account = AccountFactory(owner=rep, name="Papelería El Sol")
    contact = ContactFactory(account=account, owner=rep, first_name="Jorge", email="jorge@sol.mx")
    ticket = TicketFactory(account=account, contact=contact, subject="Toner defectuoso")
    return SurveyFactory(ticket=ticket, sent_at=timezone.now())


def answer_url(survey, score=None) -> str:
    return reverse("support:survey-answer", args=[survey_token(survey=survey, score=score)])


# --- The public answer page ---------------------------------------------------------------------


def test_opening_the_link_records_nothing_and_preselects_the_score(client, survey):
    response = client.get(answer_url(survey, 4))
    assert response.status_code == 200
    html = response.content.decode()
    assert survey.ticket.number in html
    assert re.search(r'value="4"[^>]*checked', html)
    assert not re.search(r'value="5"[^>]*checked', html)
    assert "noindex" in response["X-Robots-Tag"]
    survey.refresh_from_db()
    assert survey.answered_at is None and survey.score is None


def test_posting_records_without_login_and_a_second_post_changes_nothing(client, survey):
    url = answer_url(survey, 4)
    response = client.post(url, {"score": "4", "comment": "Rápidos y amables."})
    assert response.status_code == 200
    assert "¡Gracias por su respuesta!" in response.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Rápidos y amables.")
    assert ContactSatisfaction.objects.get(contact=survey.contact).level == Satisfaction.SATISFIED

    for again in (
        client.post(url, {"score": "1", "comment": "Cambio de opinión"}),
        client.post(answer_url(survey), {"score": "2"}),
        client.get(url),
    ):
        assert again.status_code == 200
        assert "Ya respondió esta encuesta" in again.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Rápidos y amables.")


def test_the_comment_link_asks_for_a_score(client, survey):
    url = answer_url(survey)
    assert "checked" not in client.get(url).content.decode()
    response = client.post(url, {"comment": "Sin puntuación"})
    assert response.status_code == 422
    assert "Elija una puntuación." in response.content.decode()
    response = client.post(url, {"score": "9"})  # out of the CSAT range
    assert response.status_code == 422
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_forged_and_altered_links_are_refused(client, survey):
    token = survey_token(survey=survey, score=5)
    for bad in (token[:-1] + ("x" if token[-1] != "x" else "y"), "abc:def:ghi", "hola"):
        url = reverse("support:survey-answer", args=[bad])
        for response in (client.get(url), client.post(url, {"score": "5"})):
            assert response.status_code == 400
            assert "Este enlace no es válido" in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_a_link_of_a_deleted_survey_is_refused(client, survey):
    url = answer_url(survey, 5)
    Survey.objects.filter(pk=survey.pk).delete()
    assert client.get(url).status_code == 400


def test_expired_links_are_refused(client, survey, settings):
    settings.SUPPORT_SURVEY_LINK_DAYS = 30
    with mock.patch("time.time", return_value=time.time() - 31 * 86400):
        url = answer_url(survey, 5)
    for response in (client.get(url), client.post(url, {"score": "5"})):
        assert response.status_code == 410
        assert "Este enlace ha caducado" in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_the_answer_form_is_csrf_protected(survey):
    client = Client(enforce_csrf_checks=True)
    url = answer_url(survey, 5)
    assert client.post(url, {"score": "5"}).status_code == 403
    page = client.get(url)
    token = page.cookies["csrftoken"].value
    response = client.post(url, {"score": "5", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    survey.refresh_from_db()
    assert survey.score == 5


def test_nps_answer_page(client, rep):
    contact = ContactFactory(owner=rep)
    survey_round = SurveyRound.objects.create(name="NPS", created_by=rep)
    survey = SurveyFactory(kind="nps", ticket=None, contact=contact, round=survey_round)
    url = answer_url(survey, 0)
    html = client.get(url).content.decode()
    assert "0 a 10" in html and 'id="score-10"' in html
    assert client.post(url, {"score": "0"}).status_code == 200
    survey.refresh_from_db()
    assert survey.score == 0
    assert ContactSatisfaction.objects.get(contact=contact).level == Satisfaction.DISSATISFIED


# --- NPS rounds -----------------------------------------------------------------------------------


@pytest.fixture
def clients_segment(rep):
    account = AccountFactory(owner=rep)
    return [
        ContactFactory(owner=rep, account=account, lifecycle=Lifecycle.CUSTOMER) for _ in range(3)
    ]


@pytest.mark.parametrize("role", ROLES)
def test_nps_pages_per_role(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if role in NPS_ROLES else 403
    assert client.get(NPS_LIST).status_code == expected
    assert client.get(NPS_CREATE).status_code == expected
    assert client.get(NPS_PREVIEW).status_code == expected
    response = client.post(NPS_CREATE, {"name": "NPS", "lifecycle": "cliente"})
    assert response.status_code == (422 if role in NPS_ROLES else 403)  # nobody to send to
    assert not SurveyRound.objects.exists()


def test_create_preview_and_send_a_round(
    client_for, support, rep, clients_segment, django_capture_on_commit_callbacks
):
    client = client_for(support)
    query = {"lifecycle": "cliente", "owner": rep.pk}
    response = client.get(NPS_CREATE, query)
    assert response.status_code == 200
    assert 'id="recipients-count">3</strong>' in response.content.decode()
    preview = client.get(
        NPS_PREVIEW, {**query, "lifecycle": "lead"}, headers={"HX-Request": "true"}
    )
    assert 'id="recipients-count">0</strong>' in preview.content.decode()
    assert "<html" not in preview.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NPS_CREATE, {"name": "NPS clientes T2", **query})
    survey_round = SurveyRound.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("support:nps-round-detail", args=[survey_round.pk])
    assert survey_round.filters == {"lifecycle": ["cliente"], "owner": rep.pk}
    assert survey_round.recipients == 3
    assert Survey.objects.filter(round=survey_round, sent_at__isnull=False).count() == 3

    # Send pressed twice: the second press lands on the list, nothing more is sent.
    again = client.post(NPS_CREATE, {"name": "NPS clientes T2", **query}, follow=True)
    assert again.redirect_chain[-1][0] == NPS_LIST
    assert "no se envía dos veces" in again.content.decode()
    assert SurveyRound.objects.count() == 1


def test_round_results(client_for, support, rep, clients_segment):
    survey_round = SurveyRound.objects.create(
        name="NPS primavera", created_by=support, recipients=3, filters={"lifecycle": ["cliente"]}
    )
    now = timezone.now()
    for contact, score, comment in zip(
        clients_segment, (10, 8, 3), ("Excelente servicio", "", "Entregas tarde"), strict=True
    ):
        SurveyFactory(
            kind="nps",
            ticket=None,
            contact=contact,
            round=survey_round,
            sent_at=now,
            answered_at=now,
            score=score,
            comment=comment,
        )
    client = client_for(support)
    url = reverse("support:nps-round-detail", args=[survey_round.pk])
    response = client.get(url)
    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats["promoters"], stats["passives"], stats["detractors"]) == (1, 1, 1)
    assert stats["nps"] == 0
    assert stats["response_rate"] == 100
    html = response.content.decode()
    assert "Excelente servicio" in html and "Entregas tarde" in html
    assert "lifecycle=cliente" in html  # the link to the segment in the contact list

    detractors = client.get(url, {"group": "detractor"}, headers={"HX-Request": "true"})
    body = detractors.content.decode()
    assert "Entregas tarde" in body and "Excelente servicio" not in body
    assert "<html" not in body
    count = client.get(reverse("support:nps-round-count", args=[survey_round.pk]))
    assert "3" in count.content.decode()

    listing = client.get(NPS_LIST)
    assert listing.context["rows"][0][1]["nps"] == 0
    assert client.get(reverse("support:nps-round-detail", args=[987654])).status_code == 404


def test_round_list_queries_do_not_grow_with_rounds(
    client_for, support, django_assert_max_num_queries
):
    for n in range(30):
        SurveyRound.objects.create(name=f"NPS {n}", created_by=support, recipients=1)
    client = client_for(support)
    with django_assert_max_num_queries(8):
        assert client.get(NPS_LIST).status_code == 200


# --- The satisfaction panel ---------------------------------------------------------------


@pytest.fixture
def answered(rep, other_rep):
    """A contact of rep's with a CSAT comment on rep's account's ticket and an NPS comment."""
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account, first_name="Marta")
    ticket = TicketFactory(account=account, contact=contact)
    now = timezone.now()
    SurveyFactory(
        ticket=ticket,
        sent_at=now,
        answered_at=now - timedelta(days=2),
        score=2,
        comment="Tardaron una semana en responder",
    )
    SurveyFactory(
        kind="nps",
        ticket=None,
        contact=contact,
        sent_at=now,
        answered_at=now - timedelta(days=1),
        score=9,
        comment="Buen producto",
    )
    ContactSatisfaction.objects.create(
        contact=contact, level=Satisfaction.VERY_SATISFIED, answers=2
    )
    return contact


def _panel(client, contact):
    return client.get(
        reverse("support:contact-satisfaction-panel", args=[contact.pk]),
        headers={"HX-Request": "true"},
    )


@pytest.mark.parametrize("role", ROLES)
def test_satisfaction_panel_per_role(request, client_for, answered, role):
    response = _panel(client_for(request.getfixturevalue(role)), answered)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Muy satisfecho" in html
    assert "Buen producto" in html  # an NPS comment is about the company
    # The CSAT comment is about a ticket: read by whoever reads that ticket.
    reads_ticket = role in {"rep", "manager", "support", "admin_user"}
    assert ("Tardaron una semana en responder" in html) is reads_ticket


def test_satisfaction_panel_of_a_contact_without_answers(client_for, rep):
    contact = ContactFactory(owner=rep)
    html = _panel(client_for(rep), contact).content.decode()
    assert "Todavía no ha respondido ninguna encuesta." in html
    assert "<html" not in html


def test_satisfaction_panel_without_javascript_is_a_page(client_for, support, answered):
    url = reverse("support:contact-satisfaction-panel", args=[answered.pk])
    response = client_for(support).get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and answered.get_absolute_url() in html
    assert "Muy satisfecho" in html


def test_satisfaction_panel_queries(client_for, support, answered, django_assert_max_num_queries):
    client = client_for(support)
    with django_assert_max_num_queries(7):
        assert _panel(client, answered).status_code == 200


def test_satisfaction_panel_of_an_unknown_contact_is_404(client_for, support):
    response = client_for(support).get(reverse("support:contact-satisfaction-panel", args=[987654]))
    assert response.status_code == 404


def test_survey_pages_need_login_except_the_answer(client, survey, answered):
    for url in (
        NPS_LIST,
        NPS_CREATE,
        reverse("support:contact-satisfaction-panel", args=[answered.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("crm:login") in response["Location"]
    assert client.get(answer_url(survey, 3)).status_code == 200


def test_round_results_queries_do_not_grow_with_responses(
    client_for, support, django_assert_max_num_queries
):
    survey_round = SurveyRound.objects.create(name="NPS", created_by=support, recipients=40)
    now = timezone.now()
    for n in range(40):
        SurveyFactory(
            kind="nps",
            ticket=None,
            contact=ContactFactory(),
            round=survey_round,
            sent_at=now,
            answered_at=now,
            score=n % 11,
            comment=f"Comentario {n}",
        )
    client = client_for(support)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("support:nps-round-detail", args=[survey_round.pk]))
    assert len(response.context["page_obj"]) == 25
