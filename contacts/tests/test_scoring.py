"""The lead score's rules, matching, clamping and writing (contacts.scoring)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts import scoring
from contacts.models import Contact, Lifecycle, ScoreChange, ScoreRule
from contacts.tests.factories import ContactFactory, ScoreRuleFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _part(points: float, rule_id: int = 1) -> scoring.Part:
    return scoring.Part(rule_id, f"r{rule_id}", points)


# --- Matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "matches"),
    [
        ("Director General", True),
        ("DIRECTORA de ventas", False),  # a whole word, not a prefix
        ("Subdirector", False),
        ("Gerente  de   Compras", True),  # a phrase, whatever the spaces
        ("Gérente de compras", True),  # accents do not count
        ("Gerente de-compras (MX)", True),  # nor punctuation between the words
        ("Jefe de compras", False),
        ("", False),
    ],
)
def test_job_title_words_match_whole_words_without_case_or_accents(title, matches):
    rule = ScoreRuleFactory.build(
        field=ScoreRule.Field.JOB_TITLE, values=["director", "gerente de compras"]
    )
    contact = ContactFactory.build(job_title=title, account=None)
    assert scoring.rule_matches(rule, contact) is matches


def test_profile_points_for_account_and_contact_fields():
    account = AccountFactory(industry="construccion", size="grande")
    contact = ContactFactory(account=account, region="Nuevo León", country="MX", lead_source="web")
    rules = [
        ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion"], points=20),
        ScoreRuleFactory(field=ScoreRule.Field.SIZE, values=["mediano"], points=15),
        ScoreRuleFactory(field=ScoreRule.Field.REGION, values=["nuevo leon", "jalisco"], points=5),
        ScoreRuleFactory(field=ScoreRule.Field.COUNTRY, values=["ES"], points=7),
        ScoreRuleFactory(field=ScoreRule.Field.LEAD_SOURCE, values=["web"], points=-3),
        ScoreRuleFactory.behaviour(),  # not a profile rule
    ]
    contact = Contact.objects.select_related("account").get(pk=contact.pk)
    parts = scoring.profile_points(contact, rules)
    assert {(p.rule_id, p.points) for p in parts} == {
        (rules[0].pk, 20.0),
        (rules[2].pk, 5.0),
        (rules[4].pk, -3.0),
    }


def test_a_contact_without_account_matches_no_account_rule():
    rule = ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion"])
    contact = ContactFactory(account=None)
    assert scoring.profile_points(contact, [rule]) == []


def test_the_sql_match_agrees_with_the_python_one():
    """profile_expression (the nightly job) and profile_points (one contact) say the same."""
    rules = [
        ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion", "comercio"]),
        ScoreRuleFactory(field=ScoreRule.Field.SIZE, values=["grande"], points=15),
        ScoreRuleFactory(field=ScoreRule.Field.REGION, values=["nuevo leon"], points=5),
        ScoreRuleFactory(field=ScoreRule.Field.COUNTRY, values=["MX"], points=7),
        ScoreRuleFactory(field=ScoreRule.Field.LEAD_SOURCE, values=["evento"], points=-4),
        ScoreRuleFactory(
            field=ScoreRule.Field.JOB_TITLE, values=["director", "gerente de compras"], points=9
        ),
    ]
    titles = ["Director", "Subdirector", "GERENTE DE COMPRAS", "gérente  de compras", "", "x"]
    regions = ["Nuevo León", "NUEVO LEON", "Jalisco", ""]
    for i in range(12):
        account = (
            None
            if i % 5 == 0
            else AccountFactory(
                industry=["construccion", "comercio", "agro"][i % 3],
                size=["grande", "mediano"][i % 2],
            )
        )
        ContactFactory(
            account=account,
            job_title=titles[i % len(titles)],
            region=regions[i % len(regions)],
            country=["MX", "ES"][i % 2],
            lead_source=["evento", "web"][i % 2],
        )
    annotated = Contact.objects.select_related("account").annotate(
        **{f"r{rule.pk}": scoring.profile_expression(rule) for rule in rules}
    )
    for contact in annotated:
        in_sql = {rule.pk: getattr(contact, f"r{rule.pk}") for rule in rules}
        in_python = {p.rule_id: p.points for p in scoring.profile_points(contact, rules)}
        assert {k: v for k, v in in_sql.items() if v} == in_python


# --- Decay and the total -----------------------------------------------------------------------


def test_an_event_one_half_life_old_counts_half():
    assert scoring.decayed(10, 30, 30) == 5
    assert scoring.decayed(10, 60, 30) == 2.5
    assert scoring.decayed(10, 0, 30) == 10
    assert scoring.decayed(10, -3, 30) == 10  # a clock a little ahead: never more than full


def test_the_score_is_rounded_and_clamped_to_0_100():
    assert scoring.score_total([_part(70, 1), _part(45, 2)])[0] == 100
    assert scoring.score_total([_part(-30, 1), _part(10, 2)])[0] == 0
    assert scoring.score_total([_part(59.5, 1)])[0] == 60
    assert scoring.score_total([_part(59.49, 1)])[0] == 59
    score, breakdown = scoring.score_total([_part(12.345, 2), _part(0, 3), _part(4, 1)])
    assert score == 16
    assert breakdown == [
        {"rule": 1, "name": "r1", "points": 4.0},
        {"rule": 2, "name": "r2", "points": 12.3},
    ]


# --- Writing the score -------------------------------------------------------------------------


def test_history_only_when_the_score_changes():
    contact = ContactFactory(lead_score=10)
    history = contact.history.count()
    first = scoring.contact_score_set(
        contact=contact,
        score=25,
        breakdown=[{"rule": 1, "name": "x", "points": 25}],
        reason="evento",
    )
    assert first is not None and (first.old_score, first.new_score) == (10, 25)
    assert (
        scoring.contact_score_set(contact=contact, score=25, breakdown=[], reason="evento") is None
    )
    contact.refresh_from_db()
    assert contact.lead_score == 25
    assert ScoreChange.objects.filter(contact=contact).count() == 1
    assert contact.history.count() == history + 1
    assert "Puntuación recalculada" in contact.history.latest().history_change_reason


def test_a_score_out_of_range_is_clamped():
    contact = ContactFactory(lead_score=10, lifecycle=Lifecycle.CUSTOMER)
    scoring.contact_score_set(contact=contact, score=250, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lead_score == 100
    scoring.contact_score_set(contact=contact, score=-5, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lead_score == 0


def test_crossing_the_threshold_moves_a_lead_to_mql_once(settings):
    settings.LEAD_MQL_THRESHOLD = 60
    contact = ContactFactory(lead_score=50, lifecycle=Lifecycle.LEAD)
    change = scoring.contact_score_set(contact=contact, score=70, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.MQL and change.became_mql
    assert contact.history.latest().history_change_reason == "Puntuación 70 ≥ umbral 60"
    # Down and up again: already an MQL, nothing moves a second time.
    scoring.contact_score_set(contact=contact, score=40, breakdown=[], reason="nocturno")
    again = scoring.contact_score_set(contact=contact, score=80, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.MQL and not again.became_mql
    assert ScoreChange.objects.filter(contact=contact, became_mql=True).count() == 1


@pytest.mark.parametrize(
    ("lifecycle", "after"),
    [
        (Lifecycle.SUBSCRIBER, Lifecycle.MQL),
        (Lifecycle.SQL, Lifecycle.SQL),
        (Lifecycle.CUSTOMER, Lifecycle.CUSTOMER),
        (Lifecycle.INACTIVE, Lifecycle.INACTIVE),
    ],
)
def test_the_move_never_takes_anyone_backwards(settings, lifecycle, after):
    settings.LEAD_MQL_THRESHOLD = 60
    contact = ContactFactory(lead_score=0, lifecycle=lifecycle)
    scoring.contact_score_set(contact=contact, score=95, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lifecycle == after


def test_already_above_the_threshold_is_no_crossing(settings):
    settings.LEAD_MQL_THRESHOLD = 60
    contact = ContactFactory(lead_score=65, lifecycle=Lifecycle.LEAD)  # typed by hand
    scoring.contact_score_set(contact=contact, score=70, breakdown=[], reason="evento")
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.LEAD


def test_an_erased_or_archived_contact_is_not_scored():
    erased = ContactFactory(lead_score=10, erased_at=timezone.now())
    archived = ContactFactory(lead_score=10, archived_at=timezone.now())
    for contact in (erased, archived):
        assert (
            scoring.contact_score_set(contact=contact, score=50, breakdown=[], reason="evento")
            is None
        )
        contact.refresh_from_db()
        assert contact.lead_score == 10


def test_the_bulk_apply_writes_history_and_skips_a_score_that_moved_meanwhile(settings):
    settings.LEAD_MQL_THRESHOLD = 60
    a = ContactFactory(lead_score=10, lifecycle=Lifecycle.LEAD)
    b = ContactFactory(lead_score=10)
    moved = ContactFactory(lead_score=33)  # recomputed by an event after the job read 10
    at = timezone.now()
    changed = scoring.contact_scores_apply(
        updates=[
            scoring.ScoreUpdate(a.pk, 10, 75, [{"rule": 1, "name": "x", "points": 75}]),
            scoring.ScoreUpdate(b.pk, 10, 20, []),
            scoring.ScoreUpdate(moved.pk, 10, 20, []),
        ],
        reason="nocturno",
        at=at,
    )
    assert changed == 2
    a.refresh_from_db()
    moved.refresh_from_db()
    assert (a.lead_score, a.lifecycle) == (75, Lifecycle.MQL)
    assert moved.lead_score == 33
    assert a.history.latest().history_change_reason == "Puntuación 75 ≥ umbral 60"
    assert a.history.latest().history_date == at
    assert list(ScoreChange.objects.filter(contact=a).values_list("became_mql", flat=True)) == [
        True
    ]
    assert not ScoreChange.objects.filter(contact=moved).exists()


# --- The rules -----------------------------------------------------------------------------------


def test_marketing_creates_a_rule_audited_with_its_values_folded(marketing):
    rule = scoring.score_rule_create(
        actor=marketing,
        data={
            "name": "Puestos de decisión",
            "kind": "perfil",
            "field": "puesto",
            "values": [" Director ", "Gerente de  Compras", "DIRECTOR"],
            "points": 15,
        },
    )
    assert rule.values == ["director", "gerente de compras"]
    assert rule.created_by == marketing
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CREATE, target=f"contacts.scorerule:{rule.pk}"
    ).exists()


def test_a_behaviour_rule_drops_profile_fields(admin_user):
    rule = scoring.score_rule_create(
        actor=admin_user,
        data={
            "name": "Clic",
            "kind": "comportamiento",
            "event": "clic",
            "field": "puesto",
            "values": ["x"],
            "points": 10,
            "half_life_days": 30,
        },
    )
    assert (rule.field, rule.values, rule.half_life_days) == ("", [], 30)


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "perfil", "field": "industria", "values": ["no-existe"], "points": 10},
        {"kind": "perfil", "field": "puesto", "values": ["c++"], "points": 10},
        {"kind": "perfil", "field": "puesto", "values": [" "], "points": 10},
        {"kind": "perfil", "field": "nada", "values": ["x"], "points": 10},
        {"kind": "perfil", "field": "pais", "values": ["MX"], "points": 500},
        {"kind": "perfil", "field": "pais", "values": ["MX"], "points": 0},
        {"kind": "comportamiento", "event": "clic", "points": 10, "half_life_days": 0},
        {"kind": "comportamiento", "event": "clic", "points": 10},
        {"kind": "comportamiento", "event": "", "points": 10, "half_life_days": 7},
        {
            "kind": "comportamiento",
            "event": "clic",
            "points": 5,
            "half_life_days": 7,
            "max_points": 0,
        },
    ],
)
def test_a_bad_rule_is_refused_and_nothing_is_written(marketing, data):
    with pytest.raises(ValidationError):
        scoring.score_rule_create(actor=marketing, data={"name": "Mala", **data})
    assert not ScoreRule.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CREATE).exists()


def test_only_marketing_and_administrators_change_rules(rep, manager, support):
    rule = ScoreRuleFactory()
    for user in (rep, manager, support):
        with pytest.raises(PermissionDenied):
            scoring.score_rule_create(
                actor=user, data={"name": "x", "kind": "perfil", "field": "pais", "values": ["MX"]}
            )
        with pytest.raises(PermissionDenied):
            scoring.score_rule_set_active(actor=user, rule=rule, active=False)


def test_update_and_deactivate(marketing):
    rule = ScoreRuleFactory(points=20)
    scoring.score_rule_update(actor=marketing, rule=rule, data={"points": 25, "name": "Nuevo"})
    rule.refresh_from_db()
    assert (rule.points, rule.name) == (25, "Nuevo")
    scoring.score_rule_set_active(actor=marketing, rule=rule, active=False)
    scoring.score_rule_set_active(actor=marketing, rule=rule, active=False)  # once
    rule.refresh_from_db()
    assert not rule.active
    assert scoring.active_rules() == []
    assert AuditEvent.objects.filter(target=f"contacts.scorerule:{rule.pk}").count() == 2
