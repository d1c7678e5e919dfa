"""Satisfaction surveys: CSAT after a ticket, NPS to a segment, and each contact's class.

A survey is a row (support.Survey) sent once by email and answered once through a signed link
that needs no login. The link carries the survey id and, for the buttons of the email, the
chosen score; it expires after SUPPORT_SURVEY_LINK_DAYS. Opening it records nothing (mail
scanners open links): the page asks to confirm and only its POST records the answer, and only
the first one. This CRM never emails a contact whose latest email consent is a withdrawal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import Consent, ConsentLatest, Contact
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.queue import enqueue_on_commit
from support.models import ContactSatisfaction, Satisfaction, Survey, SurveyRound, Ticket
from support.selectors.surveys import CSAT_WINDOW_DAYS, Answers, contact_answers, nps_recipients

logger = logging.getLogger(__name__)

TOKEN_SALT = "support.survey"
DEFAULT_LINK_DAYS = 30
SEND_BATCH = 200  # surveys per Celery task
CREATE_BATCH = 2000  # survey rows per INSERT when a round is created
# The reconciler re-queues surveys left unsent by a lost task, within this window.
PENDING_GRACE = timedelta(minutes=10)
PENDING_WINDOW = timedelta(days=3)
DUPLICATE_WINDOW = timedelta(minutes=10)
SCORE_RANGE = {Survey.Kind.CSAT: (1, 5), Survey.Kind.NPS: (0, 10)}
SCORE_LABELS = {
    Survey.Kind.CSAT: {
        1: gettext_lazy("Muy insatisfecho"),
        2: gettext_lazy("Insatisfecho"),
        3: gettext_lazy("Ni satisfecho ni insatisfecho"),
        4: gettext_lazy("Satisfecho"),
        5: gettext_lazy("Muy satisfecho"),
    },
    Survey.Kind.NPS: {0: gettext_lazy("Nada probable"), 10: gettext_lazy("Muy probable")},
}
TONE_COLOURS = {"danger": "#dc3545", "warning": "#d39e00", "success": "#198754"}


def score_options(kind: str) -> list[dict]:
    """The scores of a kind of survey, low to high, with their label and colour."""
    low, high = SCORE_RANGE[kind]
    bad, good = (2, 4) if kind == Survey.Kind.CSAT else (6, 9)
    options = []
    for value in range(low, high + 1):
        tone = "danger" if value <= bad else "success" if value >= good else "warning"
        options.append(
            {
                "value": value,
                "label": SCORE_LABELS[kind].get(value, ""),
                "tone": tone,
                "colour": TONE_COLOURS[tone],
            }
        )
    return options


# --- Signed links --------------------------------------------------------------------------


class SurveyLinkError(Exception):
    """A survey link that cannot be used: `expired` tells a late answer from a forged link."""

    def __init__(self, *, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def link_max_age() -> timedelta:
    return timedelta(days=getattr(settings, "SUPPORT_SURVEY_LINK_DAYS", DEFAULT_LINK_DAYS))


def survey_token(*, survey: Survey, score: int | None = None) -> str:
    """The signed, timestamped token of the survey's link (with the button's score, if any)."""
    payload = {"s": survey.pk} if score is None else {"s": survey.pk, "v": score}
    return signing.dumps(payload, salt=TOKEN_SALT, compress=False)


def survey_token_read(token: str) -> tuple[int, int | None]:
    """(survey id, preselected score) of a token; SurveyLinkError if forged or expired."""
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=link_max_age())
    except signing.SignatureExpired as exc:
        raise SurveyLinkError(expired=True) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SurveyLinkError() from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise SurveyLinkError()
    score = payload.get("v")
    return payload["s"], score if isinstance(score, int) else None


def survey_url(*, survey: Survey, score: int | None = None) -> str:
    path = reverse("support:survey-answer", args=[survey_token(survey=survey, score=score)])
    return f"{settings.SITE_URL.rstrip('/')}{path}"


# --- Who may be emailed ---------------------------------------------------------------------


def email_withdrawn(contact_id: int) -> bool:
    """Whether the contact's latest email consent is a withdrawal (then we never write)."""
    return ConsentLatest.objects.filter(
        contact_id=contact_id,
        channel=Consent.Channel.EMAIL,
        topic__isnull=True,
        action=Consent.Action.WITHDRAW,
    ).exists()


def _emailable(contact: Contact | None) -> bool:
    return (
        contact is not None
        and bool(contact.email)
        and contact.archived_at is None
        and not email_withdrawn(contact.pk)
    )


# --- CSAT ------------------------------------------------------------------------------------


@transaction.atomic
def csat_request(*, ticket: Ticket) -> Survey | None:
    """Called (on commit) when a ticket is resolved: create its CSAT survey once and queue the
    email to the ticket's contact; None when there is no contact with an email."""
    ticket = Ticket.objects.select_related("contact").get(pk=ticket.pk)
    if not _emailable(ticket.contact):
        return None
    survey, created = Survey.objects.get_or_create(
        ticket=ticket, kind=Survey.Kind.CSAT, defaults={"contact": ticket.contact}
    )
    if created:
        enqueue_on_commit("support.survey_send", [survey.pk])
    return survey


# --- Sending ---------------------------------------------------------------------------------


def _render_email(survey: Survey) -> EmailMultiAlternatives:
    kind = survey.kind
    context = {
        "survey": survey,
        "contact": survey.contact,
        "ticket": survey.ticket,
        "company": settings.COMPANY,
        "days": link_max_age().days,
        "scores": [
            {**option, "url": survey_url(survey=survey, score=option["value"])}
            for option in score_options(kind)
        ],
        "comment_url": survey_url(survey=survey),
    }
    with translation.override(settings.LANGUAGE_CODE):
        if kind == Survey.Kind.CSAT:
            subject = _("¿Cómo le atendimos? Incidencia %(number)s") % {
                "number": survey.ticket.number
            }
        else:
            subject = _("¿Nos recomendaría? Su opinión sobre %(company)s") % {
                "company": settings.COMPANY["name"]
            }
        text = render_to_string(f"support/emails/survey_{kind}.txt", context)
        html = render_to_string(f"support/emails/survey_{kind}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[survey.contact.email])
    message.attach_alternative(html, "text/html")
    return message


def _send_one(survey_id: int, connection) -> bool:
    """Lock the survey, send it unless already sent or not allowed, stamp sent_at."""
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(of=("self",))
            .select_related("contact", "ticket")
            .filter(pk=survey_id)
            .first()
        )
        if survey is None or survey.sent_at is not None or survey.answered_at is not None:
            return False
        if not _emailable(survey.contact):
            logger.info("survey %s not sent: no email or consent withdrawn", survey.pk)
            return False
        message = _render_email(survey)
        message.connection = connection
        message.send()
        survey.sent_at = timezone.now()
        survey.save(update_fields=["sent_at"])
    return True


def survey_send(*, survey_id: int) -> bool:
    """Email one survey, once: a second run (or a second worker) finds it sent."""
    return _send_one(survey_id, get_connection())


def surveys_send_batch(*, survey_ids: Iterable[int]) -> int:
    """Email a batch of surveys over one SMTP connection; returns how many were sent."""
    sent = 0
    with get_connection() as connection:
        for survey_id in survey_ids:
            sent += _send_one(survey_id, connection)
    return sent


def _queue_batches(ids: list[int]) -> int:
    batches = [ids[i : i + SEND_BATCH] for i in range(0, len(ids), SEND_BATCH)]
    for batch in batches:
        enqueue_on_commit("support.surveys_send_batch", [batch])
    return len(batches)


def nps_round_dispatch(*, round_id: int) -> int:
    """Queue the unsent surveys of a round in batches; returns the number of batches."""
    ids = list(
        Survey.objects.filter(round_id=round_id, sent_at__isnull=True, answered_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _queue_batches(ids)


def surveys_send_pending(*, now: datetime | None = None) -> int:
    """The reconciler: re-queue surveys a lost task left unsent (recent ones only)."""
    now = now or timezone.now()
    ids = list(
        Survey.objects.filter(
            sent_at__isnull=True,
            answered_at__isnull=True,
            created_at__lte=now - PENDING_GRACE,
            created_at__gte=now - PENDING_WINDOW,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _queue_batches(ids)


# --- NPS rounds ------------------------------------------------------------------------------


def can_run_nps(user: User) -> bool:
    """Support, administrators and marketing (crm.core.roles' "surveys" section)."""
    from crm.core.roles import can_use

    return can_use(user, "surveys")


@transaction.atomic
def nps_round_create(*, actor: User, name: str, filters: dict) -> SurveyRound:
    """Create the round and one survey per recipient (the segment as of now), then send.

    `filters` are the contact list's cleaned filters, JSON-safe (support.selectors.surveys).
    """
    if not can_run_nps(actor):
        raise PermissionDenied(_("Tu rol no puede enviar encuestas NPS."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Ponle un nombre a la encuesta.")})
    # One round per name and person in a few minutes: Send pressed twice sends once.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if SurveyRound.objects.filter(
        created_by=actor, name__iexact=name, created_at__gte=timezone.now() - DUPLICATE_WINDOW
    ).exists():
        raise ValidationError(
            _("Ya enviaste la encuesta «%(name)s» hace un momento; no se envía dos veces.")
            % {"name": name},
            code="duplicate",
        )
    survey_round = SurveyRound(name=name, filters=filters, created_by=actor)
    survey_round.full_clean()
    survey_round.save()
    ids = list(nps_recipients(user=actor, filters=filters).values_list("pk", flat=True))
    Survey.objects.bulk_create(
        (Survey(kind=Survey.Kind.NPS, round=survey_round, contact_id=pk) for pk in ids),
        batch_size=CREATE_BATCH,
        ignore_conflicts=True,
    )
    created = len(ids)
    if not created:
        raise ValidationError(
            _("Ningún contacto de ese segmento puede recibirla (sin correo o sin consentimiento).")
        )
    survey_round.recipients = created
    survey_round.save(update_fields=["recipients"])
    audit(
        actor=actor,
        action=AuditEvent.Action.SEND,
        target=survey_round,
        detail={"kind": "nps", "recipients": created, "filters": filters},
    )
    enqueue_on_commit("support.nps_round_dispatch", [survey_round.pk])
    return survey_round


# --- Answers ---------------------------------------------------------------------------------


class AlreadyAnswered(Exception):
    """The survey was answered before: the first answer stands."""


@transaction.atomic
def survey_answer(*, survey: Survey, score: int, comment: str = "") -> Survey:
    """Record the contact's answer, once; then recompute their satisfaction class.

    Raises ValidationError for a score out of range and AlreadyAnswered when an answer
    exists (also when two submissions race: the conditional update lets one through).
    """
    low, high = SCORE_RANGE[survey.kind]
    if not isinstance(score, int) or not low <= score <= high:
        raise ValidationError(
            {"score": _("Elija una puntuación de %(low)s a %(high)s.") % {"low": low, "high": high}}
        )
    comment = (comment or "").strip()[:2000]
    now = timezone.now()
    updated = Survey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
        score=score, comment=comment, answered_at=now
    )
    if not updated:
        raise AlreadyAnswered()
    survey.score, survey.comment, survey.answered_at = score, comment, now
    contact_satisfaction_refresh(contact_id=survey.contact_id, now=now)
    return survey


# --- The satisfaction class ------------------------------------------------------------------

LEVEL_ORDER = [
    Satisfaction.DISSATISFIED,
    Satisfaction.INDIFFERENT,
    Satisfaction.SATISFIED,
    Satisfaction.VERY_SATISFIED,
]


def csat_level(average: float) -> Satisfaction:
    if average >= 4.5:
        return Satisfaction.VERY_SATISFIED
    if average >= 3.5:
        return Satisfaction.SATISFIED
    if average >= 2.5:
        return Satisfaction.INDIFFERENT
    return Satisfaction.DISSATISFIED


def nps_level(score: int) -> Satisfaction:
    if score >= 9:
        return Satisfaction.VERY_SATISFIED
    if score >= 7:
        return Satisfaction.SATISFIED
    if score >= 5:
        return Satisfaction.INDIFFERENT
    return Satisfaction.DISSATISFIED


def satisfaction_level(answers: Answers) -> Satisfaction | None:
    """The contact's class.

    - CSAT alone (average of the last 12 months' answers, 1-5): muy satisfecho from 4.5,
      satisfecho from 3.5, indiferente from 2.5, insatisfecho below.
    - NPS alone (the latest answer, 0-10): muy satisfecho 9-10, satisfecho 7-8,
      indiferente 5-6, insatisfecho 0-4.
    - Both, and they agree: that class. They disagree: the class of the most recent answer
      wins (the customer's latest word says most about them today); on the very same instant,
      the lower class (a cautious reading).
    - No answer: None (no class).
    """
    by_csat = csat_level(answers.csat_average) if answers.csat_count else None
    by_nps = nps_level(answers.nps) if answers.nps is not None else None
    if by_csat is None or by_nps is None:
        return by_csat or by_nps
    if by_csat == by_nps:
        return by_csat
    if answers.csat_last_at > answers.nps_at:
        return by_csat
    if answers.nps_at > answers.csat_last_at:
        return by_nps
    return min(by_csat, by_nps, key=LEVEL_ORDER.index)


@transaction.atomic
def contact_satisfaction_refresh(
    *, contact_id: int, now: datetime | None = None
) -> ContactSatisfaction | None:
    """Recompute the contact's class from their answers (after each answer, and nightly as
    CSAT answers age out of the 12 months); no answers left: no class."""
    answers = contact_answers(contact_id=contact_id, now=now)
    level = satisfaction_level(answers)
    if level is None:
        ContactSatisfaction.objects.filter(contact_id=contact_id).delete()
        return None
    satisfaction, _created = ContactSatisfaction.objects.update_or_create(
        contact_id=contact_id, defaults={"level": level, "answers": answers.count}
    )
    return satisfaction


def satisfaction_refresh_aged(*, now: datetime | None = None) -> int:
    """Nightly: contacts one of whose CSAT answers left the 12-month window in the last days."""
    now = now or timezone.now()
    edge = now - timedelta(days=CSAT_WINDOW_DAYS)
    contact_ids = (
        Survey.objects.filter(
            kind=Survey.Kind.CSAT, answered_at__lt=edge, answered_at__gte=edge - timedelta(days=3)
        )
        .values_list("contact_id", flat=True)
        .distinct()
    )
    refreshed = 0
    for contact_id in contact_ids:
        contact_satisfaction_refresh(contact_id=contact_id, now=now)
        refreshed += 1
    return refreshed
