"""Reads of surveys: NPS recipients and results, and a contact's satisfaction panel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Max, Q, QuerySet
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import consent_filter_q, contact_list
from crm.core.models import User
from support.models import ContactSatisfaction, Satisfaction, Survey, SurveyRound
from support.permissions import ticket_visible_q

PROMOTER = Q(score__gte=9)
PASSIVE = Q(score__gte=7, score__lte=8)
DETRACTOR = Q(score__lte=6)
# Filters of the contact list that make no sense for a survey: never to archived contacts.
IGNORED_FILTERS = ("archived", "sort")
PANEL_COMMENTS = 5
LEVEL_TONES = {
    Satisfaction.VERY_SATISFIED: "success",
    Satisfaction.SATISFIED: "primary",
    Satisfaction.INDIFFERENT: "warning",
    Satisfaction.DISSATISFIED: "danger",
}
CSAT_WINDOW_DAYS = 365  # the CSAT answers that count for a contact's class


def nps_recipients(*, user: User, filters: dict) -> QuerySet[Contact]:
    """The contacts of the segment (the contact list's filters, as `user` reads it) that can
    be emailed: with an address, live, and whose latest email consent is not a withdrawal."""
    filters = {k: v for k, v in filters.items() if k not in IGNORED_FILTERS}
    return (
        contact_list(user=user, filters=filters)
        .prefetch_related(None)
        .select_related(None)
        .exclude(email="")
        .exclude(consent_filter_q("withdraw"))
        .order_by()
    )


def nps_from_counts(*, promoters: int, passives: int, detractors: int) -> dict:
    """The NPS (-100…100): % promoters (9-10) minus % detractors (0-6); None without answers."""
    total = promoters + passives + detractors
    return {
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "answers": total,
        "nps": round(100 * (promoters - detractors) / total) if total else None,
    }


def nps_of_scores(scores: Iterable[int]) -> dict:
    scores = list(scores)
    return nps_from_counts(
        promoters=sum(1 for s in scores if s >= 9),
        passives=sum(1 for s in scores if 7 <= s <= 8),
        detractors=sum(1 for s in scores if s <= 6),
    )


def _round_counts(round_ids: list[int]) -> dict[int, dict]:
    rows = (
        Survey.objects.filter(round_id__in=round_ids)
        .values("round_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            promoters=Count("pk", filter=PROMOTER),
            passives=Count("pk", filter=PASSIVE),
            detractors=Count("pk", filter=DETRACTOR),
        )
        .order_by()
    )
    return {
        row["round_id"]: {
            "sent": row["sent"],
            **nps_from_counts(
                promoters=row["promoters"], passives=row["passives"], detractors=row["detractors"]
            ),
        }
        for row in rows
    }


def nps_round_list(*, user: User) -> QuerySet[SurveyRound]:
    """Every round (NPS is the company's, not a person's), newest first."""
    return SurveyRound.objects.select_related("created_by").order_by("-created_at", "-pk")


def nps_round_stats(rounds: list[SurveyRound]) -> list[tuple[SurveyRound, dict]]:
    """Each round of a page with its sent / answered / NPS figures (one grouped query)."""
    counts = _round_counts([r.pk for r in rounds]) if rounds else {}
    empty = {"sent": 0, **nps_from_counts(promoters=0, passives=0, detractors=0)}
    return [(r, counts.get(r.pk, empty)) for r in rounds]


def nps_round_get(*, user: User, pk: int) -> SurveyRound:
    """One round (SurveyRound.DoesNotExist when there is none)."""
    return nps_round_list(user=user).get(pk=pk)


def nps_round_detail(*, user: User, pk: int) -> tuple[SurveyRound, dict]:
    survey_round = nps_round_get(user=user, pk=pk)
    stats = nps_round_stats([survey_round])[0][1]
    sent = stats["sent"]
    stats["response_rate"] = round(100 * stats["answers"] / sent) if sent else None
    stats["distribution"] = nps_distribution(survey_round)
    return survey_round, stats


def nps_distribution(survey_round: SurveyRound) -> list[dict]:
    """How many answered each score 0-10 (the bars of the results page)."""
    counts = dict(
        Survey.objects.filter(round=survey_round, answered_at__isnull=False)
        .values("score")
        .annotate(n=Count("pk"))
        .values_list("score", "n")
        .order_by()
    )
    top = max(counts.values(), default=0)
    return [
        {
            "score": score,
            "n": counts.get(score, 0),
            "pct": round(100 * counts.get(score, 0) / top) if top else 0,
            "group": "promoter" if score >= 9 else "passive" if score >= 7 else "detractor",
        }
        for score in range(11)
    ]


def nps_round_responses(*, survey_round: SurveyRound, group: str = "") -> QuerySet[Survey]:
    """The answers of a round, newest first; `group` promoter / passive / detractor."""
    qs = Survey.objects.filter(round=survey_round, answered_at__isnull=False)
    condition = {"promoter": PROMOTER, "passive": PASSIVE, "detractor": DETRACTOR}.get(group)
    if condition is not None:
        qs = qs.filter(condition)
    return qs.select_related("contact", "contact__account").order_by("-answered_at", "-pk")


@dataclass(frozen=True)
class Answers:
    """What the class is derived from: CSAT of the last 12 months and the latest NPS."""

    csat_average: float | None = None
    csat_count: int = 0
    csat_last_at: datetime | None = None
    nps: int | None = None
    nps_at: datetime | None = None

    @property
    def count(self) -> int:
        return self.csat_count + (self.nps is not None)


def contact_answers(*, contact_id: int, now: datetime | None = None) -> Answers:
    now = now or timezone.now()
    answered = Survey.objects.filter(contact_id=contact_id, answered_at__isnull=False)
    csat = answered.filter(
        kind=Survey.Kind.CSAT, answered_at__gte=now - timedelta(days=CSAT_WINDOW_DAYS)
    ).aggregate(average=Avg("score"), n=Count("pk"), last=Max("answered_at"))
    nps = (
        answered.filter(kind=Survey.Kind.NPS)
        .order_by("-answered_at", "-pk")
        .values_list("score", "answered_at")
        .first()
    )
    return Answers(
        csat_average=float(csat["average"]) if csat["average"] is not None else None,
        csat_count=csat["n"],
        csat_last_at=csat["last"],
        nps=nps[0] if nps else None,
        nps_at=nps[1] if nps else None,
    )


def survey_for_answer(*, survey_id: int) -> Survey | None:
    """The survey behind a signed link (the link is the credential: no user)."""
    return Survey.objects.select_related("ticket", "contact").filter(pk=survey_id).first()


# --- The contact's satisfaction panel ----------------------------------------------------------


def visible_answers_q(user: User) -> Q:
    """The answers whose comment `user` may read: NPS answers (about the company), and CSAT
    answers of the tickets `user` reads (support: all; a rep: their accounts'; marketing:
    none, as marketing reads no ticket)."""
    return Q(kind=Survey.Kind.NPS) | Q(
        Q(kind=Survey.Kind.CSAT) & ticket_visible_q(user, prefix="ticket__")
    )


def contact_satisfaction_panel(*, user: User, contact_id: int) -> dict:
    """The class, the answers it rests on and the latest comments `user` may read.

    Raises Contact.DoesNotExist for an unknown contact (every role reads every contact).
    """
    contact = Contact.objects.only("pk", "first_name", "last_name").get(pk=contact_id)
    satisfaction = ContactSatisfaction.objects.filter(contact_id=contact_id).first()
    answers: Answers = contact_answers(contact_id=contact_id)
    comments = list(
        Survey.objects.filter(contact_id=contact_id, answered_at__isnull=False)
        .exclude(comment="")
        .filter(visible_answers_q(user))
        .select_related("ticket")
        .order_by("-answered_at", "-pk")[:PANEL_COMMENTS]
    )
    return {
        "contact": contact,
        "satisfaction": satisfaction,
        "tone": LEVEL_TONES.get(satisfaction.level, "secondary") if satisfaction else "",
        "answers": answers,
        "comments": comments,
    }
