"""Demo support data: tickets of the last six months with their status history, conversation
and SLA clock as the SLA engine computes it (tickets.py); CSAT answers after resolution, two NPS
rounds, and each answering contact's satisfaction class (surveys.py).

`seed_support` works on the accounts and contacts it is given: the ones just seeded, or (with
`seed_demo --only-support`) every one already in the database.
"""

from dataclasses import dataclass

from django.db.models import Q

from accounts.seed import AccountRow
from contacts.seed import ContactRow
from crm.core.models import Role, User
from crm.core.seeding import BATCH_SIZE, Demo, bulk, bulk_rows, timestamps_as_given
from support.models import (
    Comment,
    ContactSatisfaction,
    SlaNotice,
    StatusChange,
    Survey,
    SurveyRound,
    Ticket,
)
from support.seed.surveys import SURVEY_FIELDS, csat, nps_rounds, satisfaction
from support.seed.tickets import TICKET_ACCOUNT_WEIGHT, TICKET_STATUS_WEIGHT, TicketMaker

# The tables the support data loads in bulk.
MODELS = (Ticket, StatusChange, Comment, SlaNotice, SurveyRound, Survey, ContactSatisfaction)
# The columns of the rows written as plain tuples (bulk_rows), by attribute name.
STATUS_CHANGE_FIELDS = ("ticket_id", "from_status", "to_status", "actor_id", "at", "note")
COMMENT_FIELDS = ("ticket_id", "kind", "author_id", "body", "created_at", "emailed_at")
SLA_NOTICE_FIELDS = ("ticket_id", "target", "kind", "sent_to_id", "created_at")


@dataclass
class SupportSeed:
    tickets: int = 0
    ticket_comments: int = 0
    status_changes: int = 0
    surveys: int = 0
    satisfaction: int = 0


def seed_support(
    demo: Demo, accounts: list[AccountRow], contacts: list[ContactRow], *, tickets: int
) -> SupportSeed:
    """`tickets` tickets at `accounts` (more at better and active ones), most from one of the
    account's `contacts`, numbered after the ones already there; their surveys, the NPS
    rounds, and the satisfaction class of every contact who answered."""
    with timestamps_as_given(*MODELS):
        return _seed_support(demo, accounts, contacts, tickets=tickets)


def _seed_support(
    demo: Demo, accounts: list[AccountRow], contacts: list[ContactRow], *, tickets: int
) -> SupportSeed:
    result = SupportSeed()
    agents = list(
        User.objects.filter(role=Role.SOPORTE, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    admins = list(
        User.objects.filter(is_active=True)
        .filter(Q(role=Role.ADMINISTRADOR) | Q(is_superuser=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    maker = TicketMaker(demo, agents=agents or admins)
    by_account: dict[int, list[ContactRow]] = {}
    for contact in contacts:
        if contact.account_id and not contact.archived:
            by_account.setdefault(contact.account_id, []).append(contact)
    weights = [
        TICKET_ACCOUNT_WEIGHT.get(a.tier, 1.0)
        * TICKET_STATUS_WEIGHT.get(a.status, 1.0)
        * (0.05 if a.archived else 1.0)
        for a in accounts
    ]
    chosen = demo.rng.choices(accounts, weights=weights, k=tickets) if accounts else []
    built = sorted(
        (maker.ticket(account, by_account.get(account.pk, [])) for account in chosen),
        key=lambda t: t.created_at,
    )
    maker.keep_a_queue(built)
    maker.number(built)
    bulk(Ticket, built)
    result.tickets = len(built)
    # Rows nothing else refers to go in as plain tuples: no model instance per row.
    changes, comments, notices, surveys = [], [], [], []
    for ticket in built:
        changes += [
            (ticket.pk, before, after, actor, at, note)
            for at, before, after, actor, note in ticket.seed_history
        ]
        comments += [
            (ticket.pk, kind, author, body, at, at if kind == Comment.Kind.REPLY else None)
            for at, kind, author, body in ticket.seed_comments
        ]
        notices += [
            (ticket.pk, target, kind, ticket.assignee_id, at)
            for target, kind, at in ticket.seed_notices
        ]
        survey = csat(demo, ticket)
        if survey is not None:
            surveys.append(survey)
    result.status_changes = bulk_rows(StatusChange, STATUS_CHANGE_FIELDS, changes)
    result.ticket_comments = bulk_rows(Comment, COMMENT_FIELDS, comments)
    bulk_rows(SlaNotice, SLA_NOTICE_FIELDS, notices)
    demo.say(
        f"incidencias: {result.tickets:,}, comentarios: {result.ticket_comments:,}, "
        f"cambios de estado: {result.status_changes:,}"
    )
    rounds = nps_rounds(demo, contacts, author=admins[0]) if tickets and admins else []
    SurveyRound.objects.bulk_create(rounds)  # two rows, with JSON: COPY cannot take a dict
    for survey_round in rounds:
        for row in survey_round.seed_surveys:
            row[3] = survey_round.pk
            surveys.append(tuple(row))
    bulk_rows(Survey, SURVEY_FIELDS, surveys)
    answered = {row[1] for row in surveys if row[6] is not None}
    levels = satisfaction(demo, answered)
    for start in range(0, len(levels), BATCH_SIZE):
        ContactSatisfaction.objects.bulk_create(
            levels[start : start + BATCH_SIZE],
            update_conflicts=True,
            unique_fields=["contact"],
            update_fields=["level", "answers", "updated_at"],
        )
    result.surveys = len(surveys)
    result.satisfaction = len(levels)
    demo.say(f"encuestas: {result.surveys:,}, satisfacción de {result.satisfaction:,} contactos")
    return result
