"""Surveys: the CSAT after a ticket and its email, signed links, single answers, NPS rounds
sent once, and the satisfaction class of a contact."""

import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.models import Consent, Lifecycle
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.celery import app
from crm.core.models import AuditEvent
from support.models import ContactSatisfaction, Satisfaction, Survey, SurveyRound
from support.selectors.surveys import Answers, nps_recipients
from support.services import surveys as services
from support.tasks.surveys import (
    nps_round_dispatch_task,
    satisfaction_refresh_aged_task,
    survey_send_task,
    surveys_send_pending_task,
)
from support.tests.factories import SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

S = Satisfaction


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def ticket(rep):
    account = AccountFactory(owner=rep, name="Ferretería Hidalgo")
    contact = ContactFactory(
        account=account, owner=rep, first_name="Lucía", last_name="Pérez", email="lucia@hidalgo.mx"
    )
    return TicketFactory(account=account, contact=contact, subject="Pedido 4512 incompleto")


# --- CSAT request and its email -----------------------------------------------------------


def test_csat_request_creates_one_survey_and_emails_it_once(
    ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey = services.csat_request(ticket=ticket)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = services.csat_request(ticket=ticket)
    assert again.pk == survey.pk
    assert not callbacks  # nothing queued the second time
    assert Survey.objects.filter(ticket=ticket).count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["lucia@hidalgo.mx"]
    assert ticket.number in message.subject
    assert "Hola, Lucía:" in message.body
    assert "Pedido 4512 incompleto" in message.body
    for score in range(1, 6):
        assert f"{score} — " in message.body
    links = [
        line.split(": ")[-1] for line in message.body.splitlines() if "/soporte/encuesta/" in line
    ]
    assert len(links) == 6  # five scores and the comment page
    html = message.alternatives[0][0]
    assert html.count("/soporte/encuesta/") == 6
    survey.refresh_from_db()
    assert survey.sent_at is not None and survey.kind == Survey.Kind.CSAT


def test_the_send_task_twice_sends_once(ticket):
    survey = SurveyFactory(ticket=ticket)
    assert survey_send_task.delay(survey.pk).get() is True
    assert survey_send_task.delay(survey.pk).get() is False
    assert len(mail.outbox) == 1


def test_no_survey_for_a_contact_without_email_or_who_withdrew(
    ticket, rep, django_capture_on_commit_callbacks
):
    ticket.contact.email = ""
    ticket.contact.save()
    assert services.csat_request(ticket=ticket) is None

    other = TicketFactory(account=ticket.account, contact=ContactFactory(owner=rep))
    ConsentFactory(
        contact=other.contact, action=Consent.Action.GRANT, at=timezone.now() - timedelta(days=9)
    )
    ConsentFactory(contact=other.contact, action=Consent.Action.WITHDRAW)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.csat_request(ticket=other) is None
    no_contact = TicketFactory(account=ticket.account, contact=None)
    assert services.csat_request(ticket=no_contact) is None
    assert not Survey.objects.exists()
    assert mail.outbox == []


def test_a_withdrawal_after_the_survey_was_queued_is_honoured(ticket):
    survey = SurveyFactory(ticket=ticket)
    ConsentFactory(contact=ticket.contact, action=Consent.Action.WITHDRAW)
    assert services.survey_send(survey_id=survey.pk) is False
    assert mail.outbox == []
    survey.refresh_from_db()
    assert survey.sent_at is None


def test_a_new_grant_after_a_withdrawal_allows_the_email(ticket):
    ConsentFactory(
        contact=ticket.contact,
        action=Consent.Action.WITHDRAW,
        at=timezone.now() - timedelta(days=3),
    )
    ConsentFactory(contact=ticket.contact, action=Consent.Action.GRANT)
    assert services.csat_request(ticket=ticket) is not None


# --- Signed links ---------------------------------------------------------------------------


def test_token_round_trip_and_tampering(ticket):
    survey = SurveyFactory(ticket=ticket)
    token = services.survey_token(survey=survey, score=4)
    assert services.survey_token_read(token) == (survey.pk, 4)
    assert services.survey_token_read(services.survey_token(survey=survey)) == (survey.pk, None)
    payload, rest = token.split(":", 1)
    forged = services.survey_token(survey=SurveyFactory(ticket=TicketFactory()), score=5)
    for bad in (
        token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),  # altered signature
        forged.split(":", 1)[0] + ":" + rest,  # another survey's payload, this signature
        "hola",
        "",
    ):
        with pytest.raises(services.SurveyLinkError) as exc:
            services.survey_token_read(bad)
        assert exc.value.expired is False
    # Signed with another salt (another feature's token) is refused too.
    from django.core import signing

    other = signing.dumps({"s": survey.pk}, salt="otra.cosa")
    with pytest.raises(services.SurveyLinkError):
        services.survey_token_read(other)


def test_token_expires_after_the_setting(ticket, settings):
    settings.SUPPORT_SURVEY_LINK_DAYS = 30
    survey = SurveyFactory(ticket=ticket)
    with mock.patch("time.time", return_value=time.time() - 31 * 86400):
        old = services.survey_token(survey=survey, score=5)
    with mock.patch("time.time", return_value=time.time() - 29 * 86400):
        recent = services.survey_token(survey=survey, score=5)
    with pytest.raises(services.SurveyLinkError) as exc:
        services.survey_token_read(old)
    assert exc.value.expired is True
    assert services.survey_token_read(recent) == (survey.pk, 5)


# --- Answers ----------------------------------------------------------------------------------


def test_the_first_answer_stands(ticket):
    survey = SurveyFactory(ticket=ticket, sent_at=timezone.now())
    services.survey_answer(survey=survey, score=5, comment="  Muy amables, gracias.  ")
    with pytest.raises(services.AlreadyAnswered):
        services.survey_answer(survey=Survey.objects.get(pk=survey.pk), score=1, comment="Mal")
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (5, "Muy amables, gracias.")
    assert ContactSatisfaction.objects.get(contact=ticket.contact).level == S.VERY_SATISFIED


def test_two_racing_answers_record_one(ticket):
    """Both requests loaded the survey unanswered; the conditional update lets one through."""
    survey = SurveyFactory(ticket=ticket, sent_at=timezone.now())
    first, second = Survey.objects.get(pk=survey.pk), Survey.objects.get(pk=survey.pk)
    services.survey_answer(survey=first, score=2)
    with pytest.raises(services.AlreadyAnswered):
        services.survey_answer(survey=second, score=5)
    survey.refresh_from_db()
    assert survey.score == 2


@pytest.mark.parametrize(("kind", "score"), [("csat", 0), ("csat", 6), ("nps", 11), ("nps", -1)])
def test_out_of_range_scores_are_refused_and_nothing_changes(ticket, kind, score):
    survey = SurveyFactory(
        ticket=ticket if kind == "csat" else None, contact=ticket.contact, kind=kind
    )
    with pytest.raises(ValidationError):
        services.survey_answer(survey=survey, score=score)
    survey.refresh_from_db()
    assert survey.answered_at is None
    assert not ContactSatisfaction.objects.exists()


# --- The satisfaction class -------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        (Answers(), None),
        # CSAT alone: the thresholds.
        (Answers(csat_average=5.0, csat_count=1, csat_last_at=T0), S.VERY_SATISFIED),
        (Answers(csat_average=4.5, csat_count=2, csat_last_at=T0), S.VERY_SATISFIED),
        (Answers(csat_average=4.49, csat_count=3, csat_last_at=T0), S.SATISFIED),
        (Answers(csat_average=3.5, csat_count=2, csat_last_at=T0), S.SATISFIED),
        (Answers(csat_average=3.4, csat_count=5, csat_last_at=T0), S.INDIFFERENT),
        (Answers(csat_average=2.5, csat_count=2, csat_last_at=T0), S.INDIFFERENT),
        (Answers(csat_average=2.4, csat_count=5, csat_last_at=T0), S.DISSATISFIED),
        (Answers(csat_average=1.0, csat_count=1, csat_last_at=T0), S.DISSATISFIED),
        # NPS alone.
        (Answers(nps=10, nps_at=T0), S.VERY_SATISFIED),
        (Answers(nps=9, nps_at=T0), S.VERY_SATISFIED),
        (Answers(nps=8, nps_at=T0), S.SATISFIED),
        (Answers(nps=7, nps_at=T0), S.SATISFIED),
        (Answers(nps=6, nps_at=T0), S.INDIFFERENT),
        (Answers(nps=5, nps_at=T0), S.INDIFFERENT),
        (Answers(nps=4, nps_at=T0), S.DISSATISFIED),
        (Answers(nps=0, nps_at=T0), S.DISSATISFIED),
        # Both agree.
        (
            Answers(csat_average=4.8, csat_count=2, csat_last_at=T0, nps=9, nps_at=LATER),
            S.VERY_SATISFIED,
        ),
        # Both disagree: the most recent answer's class wins.
        (
            Answers(csat_average=4.8, csat_count=2, csat_last_at=T0, nps=3, nps_at=LATER),
            S.DISSATISFIED,
        ),
        (
            Answers(csat_average=4.8, csat_count=2, csat_last_at=LATER, nps=3, nps_at=T0),
            S.VERY_SATISFIED,
        ),
        (
            Answers(csat_average=3.0, csat_count=1, csat_last_at=LATER, nps=10, nps_at=T0),
            S.INDIFFERENT,
        ),
        # The same instant: the lower class.
        (Answers(csat_average=4.0, csat_count=1, csat_last_at=T0, nps=10, nps_at=T0), S.SATISFIED),
    ],
)
def test_satisfaction_rule(answers, level):
    assert services.satisfaction_level(answers) == level


def _answered(contact, kind, score, at, ticket=None):
    return SurveyFactory(
        kind=kind,
        contact=contact,
        ticket=ticket,
        sent_at=at,
        answered_at=at,
        score=score,
    )


def test_refresh_reads_last_12_months_of_csat_and_the_latest_nps(rep):
    contact = ContactFactory(owner=rep)
    now = timezone.now()
    tickets = [TicketFactory(account=contact.account, contact=contact) for _ in range(4)]
    _answered(contact, "csat", 1, now - timedelta(days=400), tickets[0])  # too old: ignored
    _answered(contact, "csat", 5, now - timedelta(days=60), tickets[1])
    _answered(contact, "csat", 4, now - timedelta(days=30), tickets[2])  # average 4.5
    _answered(contact, "nps", 2, now - timedelta(days=200))  # an older NPS: not the latest
    _answered(contact, "nps", 6, now - timedelta(days=90))  # latest NPS, older than the CSAT
    satisfaction = services.contact_satisfaction_refresh(contact_id=contact.pk)
    assert satisfaction.level == S.VERY_SATISFIED  # the CSAT is the more recent
    assert satisfaction.answers == 3  # two CSAT of the year and the latest NPS

    _answered(contact, "nps", 3, now - timedelta(days=1))
    satisfaction = services.contact_satisfaction_refresh(contact_id=contact.pk)
    assert satisfaction.level == S.DISSATISFIED


def test_refresh_without_answers_removes_the_class(rep):
    contact = ContactFactory(owner=rep)
    ContactSatisfaction.objects.create(contact=contact, level=S.SATISFIED, answers=1)
    assert services.contact_satisfaction_refresh(contact_id=contact.pk) is None
    assert not ContactSatisfaction.objects.filter(contact=contact).exists()


def test_nightly_refresh_when_answers_leave_the_year(rep):
    contact = ContactFactory(owner=rep)
    ticket = TicketFactory(account=contact.account, contact=contact)
    _answered(contact, "csat", 1, timezone.now() - timedelta(days=366), ticket)
    ContactSatisfaction.objects.create(contact=contact, level=S.DISSATISFIED, answers=1)
    assert satisfaction_refresh_aged_task.delay().get() == 1
    assert not ContactSatisfaction.objects.filter(contact=contact).exists()


# --- NPS rounds -------------------------------------------------------------------------------


@pytest.fixture
def segment(rep, other_rep):
    """Four clients of rep's (one without email, one who withdrew), a lead, another rep's."""
    account = AccountFactory(owner=rep)
    clients = [
        ContactFactory(owner=rep, account=account, lifecycle=Lifecycle.CUSTOMER) for _ in range(4)
    ]
    clients[0].email = ""
    clients[0].save()
    ConsentFactory(contact=clients[1], action=Consent.Action.WITHDRAW)
    archived = ContactFactory(owner=rep, account=account, lifecycle=Lifecycle.CUSTOMER)
    archived.archived_at = timezone.now()
    archived.save()
    ContactFactory(owner=rep, account=account, lifecycle=Lifecycle.LEAD)
    ContactFactory(owner=other_rep, lifecycle=Lifecycle.CUSTOMER)
    return {"clients": clients, "filters": {"lifecycle": ["cliente"], "owner": rep.pk}}


def test_recipients_exclude_no_email_withdrawn_and_archived(segment, support):
    recipients = set(nps_recipients(user=support, filters=segment["filters"]))
    assert recipients == set(segment["clients"][2:])
    # "archived" in the filters is ignored: a survey never goes to archived contacts.
    filters = {**segment["filters"], "archived": True}
    assert set(nps_recipients(user=support, filters=filters)) == set(segment["clients"][2:])


def test_nps_round_sends_once_even_dispatched_twice(
    segment, support, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey_round = services.nps_round_create(
            actor=support, name="NPS clientes 2026-T2", filters=segment["filters"]
        )
    assert survey_round.recipients == 2
    assert survey_round.filters == segment["filters"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.SEND)
    assert event.actor == support
    assert event.target == f"support.surveyround:{survey_round.pk}"
    assert event.detail["recipients"] == 2
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        nps_round_dispatch_task.delay(survey_round.pk)
        surveys_send_pending_task.delay()
    assert len(mail.outbox) == 2
    assert {m.to[0] for m in mail.outbox} == {c.email for c in segment["clients"][2:]}
    message = mail.outbox[0]
    assert "0 a 10" in message.body
    assert sum("/soporte/encuesta/" in line for line in message.body.splitlines()) == 12
    assert not Survey.objects.filter(round=survey_round, sent_at__isnull=True).exists()


def test_send_pressed_twice_creates_one_round(segment, support, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.nps_round_create(actor=support, name="NPS junio", filters=segment["filters"])
    with pytest.raises(ValidationError):
        services.nps_round_create(actor=support, name="nps junio ", filters=segment["filters"])
    assert SurveyRound.objects.count() == 1
    assert len(mail.outbox) == 2


def test_nps_round_refusals_change_nothing(segment, support, rep):
    with pytest.raises(PermissionDenied):
        services.nps_round_create(actor=rep, name="NPS", filters=segment["filters"])
    with pytest.raises(ValidationError):
        services.nps_round_create(actor=support, name="   ", filters=segment["filters"])
    with pytest.raises(ValidationError):  # nobody to write to
        services.nps_round_create(actor=support, name="NPS", filters={"q": "nadie-se-llama-asi"})
    assert not SurveyRound.objects.exists()
    assert not Survey.objects.exists()


def test_marketing_may_run_an_nps_round(segment, marketing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.nps_round_create(actor=marketing, name="NPS", filters=segment["filters"])
    assert len(mail.outbox) == 2


def test_pending_reconciler_requeues_recent_unsent_only(
    ticket, rep, django_capture_on_commit_callbacks
):
    recent = SurveyFactory(ticket=ticket)
    old_ticket = TicketFactory(account=ticket.account, contact=ContactFactory(owner=rep))
    old = SurveyFactory(ticket=old_ticket)
    fresh_ticket = TicketFactory(account=ticket.account, contact=ContactFactory(owner=rep))
    fresh = SurveyFactory(ticket=fresh_ticket)
    now = timezone.now()
    Survey.objects.filter(pk=recent.pk).update(created_at=now - timedelta(hours=1))
    Survey.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=10))
    with django_capture_on_commit_callbacks(execute=True):
        surveys_send_pending_task.delay()
    assert [m.to[0] for m in mail.outbox] == [ticket.contact.email]
    fresh.refresh_from_db()
    assert fresh.sent_at is None  # a task for it may still be on its way
