"""The demo satisfaction surveys: the CSAT question sent on each resolved ticket and answered
by some (worse when the ticket was late), two rounds of the NPS question to a sample of the
contacts, and the satisfaction class of each contact who answered.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from contacts.seed import ContactRow
from crm.core.seeding import BATCH_SIZE, Demo
from support.models import ContactSatisfaction, Survey, SurveyRound, Ticket
from support.selectors.surveys import CSAT_WINDOW_DAYS, Answers
from support.services.surveys import satisfaction_level

CSAT_ANSWERED = 0.4
CSAT_SCORES = {5: 38, 4: 30, 3: 14, 2: 9, 1: 9}
CSAT_SCORES_BREACHED = {5: 14, 4: 24, 3: 24, 2: 18, 1: 20}
NPS_ROUNDS = ((150, "Encuesta NPS de primavera"), (45, "Encuesta NPS de otoño"))  # days ago
NPS_SHARE = 0.12  # of the contacts with an email, per round
NPS_ANSWERED = 0.35
NPS_SCORES = {10: 22, 9: 23, 8: 17, 7: 13, 6: 8, 5: 6, 4: 4, 3: 3, 2: 2, 1: 1, 0: 1}
CSAT_COMMENTS = {
    5: ["Excelente atención, muy rápidos.", "Resolvieron todo en una llamada. Gracias."],
    4: ["Buena atención, aunque tardaron un poco.", "Todo bien."],
    3: ["Se resolvió, pero tuve que insistir.", "Regular."],
    2: ["Tardaron demasiado en responder.", "Tuve que llamar varias veces."],
    1: ["Pésimo servicio, nadie daba razón.", "El problema sigue igual."],
}
NPS_COMMENTS = [
    "Buen producto y buen servicio posventa.",
    "Los precios podrían mejorar.",
    "Las entregas a veces se retrasan.",
    "Muy buena relación con el vendedor.",
]
# The columns of a survey row (csat, nps_rounds), by attribute name.
SURVEY_FIELDS = (
    "kind",
    "contact_id",
    "ticket_id",
    "round_id",
    "created_at",
    "sent_at",
    "answered_at",
    "score",
    "comment",
)


def csat(demo: Demo, ticket: Ticket) -> tuple | None:
    """The survey sent on resolution to the ticket's contact (a SURVEY_FIELDS row),
    answered by some; None without a contact to ask."""
    contact = ticket.seed_contact
    if ticket.resolved_at is None or contact is None or not contact.has_email:
        return None
    sent = min(ticket.resolved_at + timedelta(minutes=1), demo.now)
    answered, score, comment = sent + timedelta(hours=demo.rng.uniform(0.2, 72)), None, ""
    if demo.rng.random() < CSAT_ANSWERED and answered <= demo.now:
        breached = ticket.first_response_breached or ticket.resolution_breached
        score = demo.pick(CSAT_SCORES_BREACHED if breached else CSAT_SCORES)
        if demo.rng.random() < 0.35:
            comment = demo.rng.choice(CSAT_COMMENTS[score])
    else:
        answered = None
    return (
        Survey.Kind.CSAT,
        contact.pk,
        ticket.pk,
        None,
        ticket.resolved_at,
        sent,
        answered,
        score,
        comment,
    )


def nps_rounds(demo: Demo, contacts: list[ContactRow], *, author: int) -> list[SurveyRound]:
    """Two rounds of the NPS question, each to a sample of the contacts with an email; each
    round's SURVEY_FIELDS rows (without the round's id yet) in `round.seed_surveys`."""
    reachable = [c for c in contacts if c.has_email and not c.archived]
    if not reachable:
        return []
    rounds = []
    for days_ago, name in NPS_ROUNDS:
        created = demo.now - timedelta(days=days_ago, hours=demo.rng.randint(0, 8))
        sample = demo.rng.sample(reachable, max(1, round(len(reachable) * NPS_SHARE)))
        survey_round = SurveyRound(
            name=f"{name} {timezone.localdate(created).year}",
            filters={},
            created_by_id=author,
            created_at=created,
            recipients=len(sample),
        )
        survey_round.seed_surveys = []
        for contact in sample:
            sent = created + timedelta(minutes=demo.rng.randint(1, 30))
            answered = sent + timedelta(hours=demo.rng.uniform(1, 240))
            score, comment = None, ""
            if demo.rng.random() < NPS_ANSWERED and answered <= demo.now:
                score = demo.pick(NPS_SCORES)
                if demo.rng.random() < 0.25:
                    comment = demo.rng.choice(NPS_COMMENTS)
            else:
                answered = None
            survey_round.seed_surveys.append(
                [
                    Survey.Kind.NPS,
                    contact.pk,
                    None,
                    None,
                    created,
                    sent,
                    answered,
                    score,
                    comment,
                ]
            )
        rounds.append(survey_round)
    return rounds


def satisfaction(demo: Demo, contact_ids: set[int]) -> list[ContactSatisfaction]:
    """The class of each contact who answered, derived as support.services.surveys derives
    it (their CSAT answers of the last year, their latest NPS answer), from every answer
    they have in the database (the ones just seeded, and any from before)."""
    answered = Survey.objects.filter(answered_at__isnull=False).values_list(
        "contact_id", "kind", "score", "answered_at"
    )
    window = demo.now - timedelta(days=CSAT_WINDOW_DAYS)
    csat_answers: dict[int, list] = {}
    nps_answers: dict[int, tuple] = {}
    for contact_id, kind, score, answered_at in answered.iterator(chunk_size=BATCH_SIZE):
        if contact_id not in contact_ids:
            continue
        if kind == Survey.Kind.CSAT and answered_at >= window:
            row = csat_answers.setdefault(contact_id, [0, 0, answered_at])
            row[0] += score
            row[1] += 1
            row[2] = max(row[2], answered_at)
        elif kind == Survey.Kind.NPS:
            latest = nps_answers.get(contact_id)
            if latest is None or answered_at > latest[1]:
                nps_answers[contact_id] = (score, answered_at)
    rows = []
    for contact_id in sorted(contact_ids):
        total, count, last = csat_answers.get(contact_id, (0, 0, None))
        score, at = nps_answers.get(contact_id, (None, None))
        answers = Answers(
            csat_average=total / count if count else None,
            csat_count=count,
            csat_last_at=last,
            nps=score,
            nps_at=at,
        )
        level = satisfaction_level(answers)
        if level is not None:
            rows.append(
                ContactSatisfaction(
                    contact_id=contact_id,
                    level=level,
                    answers=answers.count,
                    updated_at=demo.now,
                )
            )
    return rows
