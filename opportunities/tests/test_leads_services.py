"""Lead routing: who gets each MQL crossing, once; the call task; the rep's answer."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.tests.factories import AccountFactory
from contacts.models import Contact, Lifecycle, ScoreChange
from contacts.scoring import contact_score_set
from contacts.tests.factories import ContactFactory
from crm.celery import app
from crm.core.models import AuditEvent, Role
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.models import Activity, ActivityKind, LeadAssignment, RejectReason, RoutingRule
from opportunities.services import leads as services
from opportunities.services.leads import leads_route, working_hours_after
from opportunities.tasks.leads import leads_route_task
from opportunities.tests.factories import (
    LeadAssignmentFactory,
    MqlChangeFactory,
    RoutingRuleFactory,
    mql_contact,
)

pytestmark = pytest.mark.django_db

MX = ZoneInfo("America/Mexico_City")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=MX)


def route(now=MONDAY_10) -> int:
    return leads_route(now=now)


def only_assignment(contact) -> LeadAssignment:
    (assignment,) = LeadAssignment.objects.filter(contact=contact)
    return assignment


# --- The due time --------------------------------------------------------------------------------


def test_the_call_is_due_within_working_hours():
    assert working_hours_after(MONDAY_10, 4, MX) == datetime(2026, 3, 2, 14, 0, tzinfo=MX)
    friday_17 = datetime(2026, 3, 6, 17, 0, tzinfo=MX)
    assert working_hours_after(friday_17, 4, MX) == datetime(2026, 3, 9, 12, 0, tzinfo=MX)
    saturday = datetime(2026, 3, 7, 11, 0, tzinfo=MX)
    assert working_hours_after(saturday, 4, MX) == datetime(2026, 3, 9, 13, 0, tzinfo=MX)
    night = datetime(2026, 3, 3, 2, 0, tzinfo=MX)
    assert working_hours_after(night, 9, MX) == datetime(2026, 3, 3, 18, 0, tzinfo=MX)


# --- Who gets it ---------------------------------------------------------------------------------


def test_the_accounts_owner_gets_it_first_with_a_call_task_and_the_contact(settings):
    settings.LEAD_RESPONSE_HOURS = 4
    account_owner = UserFactory()
    RoutingRuleFactory(regions=[], countries=["MX"])  # would match, but comes after
    contact, change = mql_contact(account=AccountFactory(owner=account_owner))
    assert contact.owner != account_owner

    assert route() == 1

    assignment = only_assignment(contact)
    assert assignment.rep == account_owner
    assert assignment.method == LeadAssignment.Method.ACCOUNT_OWNER
    assert assignment.score_change == change
    assert assignment.status == LeadAssignment.Status.PENDING
    assert assignment.due_at == datetime(2026, 3, 2, 14, 0, tzinfo=MX)
    task = assignment.task
    assert task.kind == ActivityKind.CALL
    assert task.status == Activity.Status.PLANNED
    assert task.owner == account_owner
    assert task.contact == contact
    assert task.planned_at == assignment.due_at
    assert f"/ventas/leads-asignados/{assignment.pk}/" in task.notes
    contact.refresh_from_db()
    assert contact.owner == account_owner
    latest = contact.history.first()
    assert latest.owner_id == account_owner.pk
    assert latest.history_user is None
    assert "Responsable de la cuenta" in latest.history_change_reason
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CREATE, target=f"opportunities.leadassignment:{assignment.pk}"
    ).exists()


def test_an_inactive_account_owner_is_skipped_for_the_rules():
    gone = UserFactory(is_active=False)
    rule = RoutingRuleFactory(regions=["jalisco"], countries=[])
    contact, _change = mql_contact(account=AccountFactory(owner=gone), region="Jalisco")

    route()

    assignment = only_assignment(contact)
    assert assignment.rep == rule.rep
    assert assignment.method == LeadAssignment.Method.RULE
    assert assignment.rule == rule


def test_territory_by_region_ignores_case_and_accents_and_by_country():
    north = RoutingRuleFactory(regions=["nuevo leon"], countries=["MX"])
    spain = RoutingRuleFactory(regions=[], countries=["ES"])
    monterrey, _ = mql_contact(account=None, region="NUEVO LEÓN", country="MX")
    madrid, _ = mql_contact(account=None, region="Madrid", country="ES")
    elsewhere, _ = mql_contact(account=None, region="Yucatán", country="MX")

    assert route() == 3

    assert only_assignment(monterrey).rep == north.rep
    assert only_assignment(madrid).rep == spain.rep
    other = only_assignment(elsewhere)
    assert other.method == LeadAssignment.Method.CONTACT_OWNER
    assert other.rep == elsewhere.owner


def test_rules_are_tried_in_their_order_and_inactive_ones_are_skipped():
    RoutingRuleFactory(order=10, countries=["MX"], regions=[], active=False)
    second = RoutingRuleFactory(order=20, countries=["MX"], regions=[])
    RoutingRuleFactory(order=30, countries=["MX"], regions=[])
    contact, _ = mql_contact(account=None)

    route()

    assert only_assignment(contact).rule == second


def test_a_rule_whose_rep_left_passes_to_the_next_rule():
    RoutingRuleFactory(order=10, countries=["MX"], regions=[], rep=UserFactory(is_active=False))
    next_rule = RoutingRuleFactory(order=20, countries=["MX"], regions=[])
    contact, _ = mql_contact(account=None)

    route()

    assert only_assignment(contact).rep == next_rule.rep


def test_round_robin_gives_each_rep_of_the_team_a_turn_in_order():
    team = TeamFactory()
    reps = [UserFactory(team=team) for _ in range(3)]
    UserFactory(team=team, is_active=False)  # never gets a turn
    UserFactory(team=team, role=Role.SOPORTE)  # not a seller
    rule = RoutingRuleFactory(kind=RoutingRule.Kind.ROUND_ROBIN, team=team, rep=None)
    contacts = [mql_contact(account=None)[0] for _ in range(7)]

    assert route() == 7

    got = [only_assignment(c).rep for c in contacts]
    assert got == [*reps, *reps, reps[0]]
    rule.refresh_from_db()
    assert rule.last_assigned == reps[0]


def test_round_robin_resumes_after_the_last_turn_across_runs_and_members_leaving():
    team = TeamFactory()
    a, b, c = (UserFactory(team=team) for _ in range(3))
    RoutingRuleFactory(kind=RoutingRule.Kind.ROUND_ROBIN, team=team, rep=None)
    first, _ = mql_contact(account=None)
    route()
    assert only_assignment(first).rep == a
    b.is_active = False
    b.save()
    second, _ = mql_contact(account=None)
    third, _ = mql_contact(account=None)
    route()
    assert only_assignment(second).rep == c
    assert only_assignment(third).rep == a


def test_a_territory_of_a_team_takes_turns_too():
    team = TeamFactory()
    a, b = UserFactory(team=team), UserFactory(team=team)
    RoutingRuleFactory(regions=["jalisco"], countries=[], team=team, rep=None)
    leads = [mql_contact(account=None, region="Jalisco")[0] for _ in range(2)]
    route()
    assert [only_assignment(c).rep for c in leads] == [a, b]


def test_fallback_is_the_contacts_owner_then_their_team_manager(team, manager):
    gone = UserFactory(team=team, is_active=False)
    owned, _ = mql_contact(account=None)
    orphan, _ = mql_contact(account=None, owner=gone)

    route()

    assert only_assignment(owned).rep == owned.owner
    assert only_assignment(owned).method == LeadAssignment.Method.CONTACT_OWNER
    assert only_assignment(orphan).rep == manager
    assert only_assignment(orphan).method == LeadAssignment.Method.MANAGER


def test_nobody_active_leaves_the_lead_for_a_later_run():
    gone = UserFactory(is_active=False)
    contact, _ = mql_contact(account=None, owner=gone)

    assert route() == 0

    assert not LeadAssignment.objects.exists()
    assert not Activity.objects.exists()


def test_never_to_an_inactive_user_whatever_the_path():
    gone = UserFactory(is_active=False)
    RoutingRuleFactory(countries=["MX"], regions=[], rep=gone)
    for _ in range(3):
        mql_contact(account=AccountFactory(owner=gone))
    route()
    assert not LeadAssignment.objects.filter(rep__is_active=False).exists()


# --- Once per crossing ---------------------------------------------------------------------------


def test_running_the_job_twice_routes_once():
    contacts = [mql_contact(account=None)[0] for _ in range(3)]

    assert route() == 3
    assert route() == 0

    assert LeadAssignment.objects.count() == 3
    assert Activity.objects.filter(kind=ActivityKind.CALL).count() == 3
    assert {a.contact for a in LeadAssignment.objects.all()} == set(contacts)


def test_the_task_runs_twice_with_one_effect(monkeypatch):
    # app.conf, not settings: Celery reads the settings once, when first configured.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    mql_contact(account=None)
    leads_route_task.delay()
    leads_route_task.delay()
    assert LeadAssignment.objects.count() == 1
    assert Activity.objects.count() == 1


def test_only_mqls_that_crossed_by_score_are_routed():
    ContactFactory(lifecycle=Lifecycle.MQL)  # made MQL by hand: no crossing
    crossed, _ = mql_contact(account=None)
    moved_on, _ = mql_contact(account=None)
    Contact.objects.filter(pk=moved_on.pk).update(lifecycle=Lifecycle.SQL)
    archived, _ = mql_contact(account=None)
    Contact.objects.filter(pk=archived.pk).update(archived_at=MONDAY_10)

    assert route() == 1

    assert only_assignment(crossed)


def test_a_contact_that_goes_back_and_crosses_again_is_routed_again(settings):
    settings.LEAD_MQL_THRESHOLD = 60
    contact = ContactFactory(account=None, lead_score=10)
    contact_score_set(contact=contact, score=70, breakdown=[], reason="evento")
    route()
    first = only_assignment(contact)
    services.lead_reject(
        actor=first.rep, assignment=first, reason=RejectReason.NO_INTEREST, note=""
    )
    contact_score_set(contact=contact, score=40, breakdown=[], reason="nocturno")
    assert route() == 0
    contact_score_set(contact=contact, score=75, breakdown=[], reason="evento")

    assert route() == 1
    assert route() == 0

    assignments = LeadAssignment.objects.filter(contact=contact).order_by("pk")
    assert [a.status for a in assignments] == ["rechazado", "pendiente"]
    assert assignments[1].score_change == ScoreChange.objects.filter(became_mql=True).latest("pk")


def test_a_new_crossing_supersedes_an_unanswered_older_one():
    contact, _ = mql_contact(account=None)
    route()
    old = only_assignment(contact)
    # Put back to lead by hand while unanswered, it crossed the threshold again.
    MqlChangeFactory(contact=contact)

    assert route() == 1

    old.refresh_from_db()
    assert old.status == LeadAssignment.Status.SUPERSEDED
    assert old.task.status == Activity.Status.CANCELLED
    new = LeadAssignment.objects.exclude(pk=old.pk).get()
    assert new.status == LeadAssignment.Status.PENDING
    assert new.task.status == Activity.Status.PLANNED


# --- The answer ----------------------------------------------------------------------------------


@pytest.fixture
def assigned(rep):
    contact, _ = mql_contact(account=None, owner=rep)
    route()
    return only_assignment(contact)


def test_accept_makes_the_contact_sql_with_the_history_of_who(assigned, rep):
    services.lead_accept(actor=rep, assignment=assigned)

    assigned.refresh_from_db()
    assert assigned.status == LeadAssignment.Status.ACCEPTED
    assert assigned.responded_by == rep
    assert assigned.responded_at is not None
    contact = assigned.contact
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.SQL
    latest = contact.history.first()
    assert latest.lifecycle == Lifecycle.SQL
    assert latest.history_user == rep
    assert assigned.task.status == Activity.Status.PLANNED  # the call is still to be made
    assert AuditEvent.objects.filter(
        actor=rep, target=f"opportunities.leadassignment:{assigned.pk}"
    ).exists()


def test_accept_does_not_move_a_customer_back(assigned, rep):
    Contact.objects.filter(pk=assigned.contact_id).update(lifecycle=Lifecycle.CUSTOMER)
    services.lead_accept(actor=rep, assignment=assigned)
    assert Contact.objects.get(pk=assigned.contact_id).lifecycle == Lifecycle.CUSTOMER


def test_reject_sends_the_contact_back_to_lead_and_cancels_the_call(assigned, rep):
    services.lead_reject(
        actor=rep, assignment=assigned, reason=RejectReason.NOT_FIT, note=" Vende al menudeo "
    )

    assigned.refresh_from_db()
    assert assigned.status == LeadAssignment.Status.REJECTED
    assert assigned.reject_reason == RejectReason.NOT_FIT
    assert assigned.reject_note == "Vende al menudeo"
    assert assigned.task.status == Activity.Status.CANCELLED
    contact = Contact.objects.get(pk=assigned.contact_id)
    assert contact.lifecycle == Lifecycle.LEAD
    assert contact.history.first().history_user == rep


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [("otro", "  ", "note"), ("inventado", "", "reason"), ("sin_interes", "x" * 501, "note")],
)
def test_a_bad_rejection_changes_nothing(assigned, rep, reason, note, field):
    with pytest.raises(ValidationError) as exc:
        services.lead_reject(actor=rep, assignment=assigned, reason=reason, note=note)
    assert field in exc.value.message_dict
    assigned.refresh_from_db()
    assert assigned.status == LeadAssignment.Status.PENDING
    assert Contact.objects.get(pk=assigned.contact_id).lifecycle == Lifecycle.MQL
    assert assigned.task.status == Activity.Status.PLANNED


def test_an_answered_lead_cannot_be_answered_again(assigned, rep):
    services.lead_accept(actor=rep, assignment=assigned)
    with pytest.raises(ValidationError):
        services.lead_reject(actor=rep, assignment=assigned, reason=RejectReason.DUPLICATE)
    with pytest.raises(ValidationError):
        services.lead_accept(actor=rep, assignment=assigned)


def test_who_may_answer(assigned, manager, other_rep, admin_user, marketing, db):
    other_manager = UserFactory(role=Role.GERENTE)
    other_rep.team.manager = other_manager
    other_rep.team.save()
    for outsider in (other_rep, other_manager, marketing):
        with pytest.raises(PermissionDenied):
            services.lead_accept(actor=outsider, assignment=assigned)
    services.lead_accept(actor=manager, assignment=assigned)  # the rep's manager
    assert Contact.objects.get(pk=assigned.contact_id).lifecycle == Lifecycle.SQL
    second = LeadAssignmentFactory()
    services.lead_reject(actor=admin_user, assignment=second, reason=RejectReason.DUPLICATE)
    assert LeadAssignment.objects.get(pk=second.pk).responded_by == admin_user


# --- The rules -----------------------------------------------------------------------------------


def test_marketing_and_admins_create_rules_last_in_the_order(marketing, admin_user, rep):
    RoutingRuleFactory(order=40)
    rule = services.routing_rule_create(
        actor=marketing,
        data={
            "name": "Occidente",
            "kind": RoutingRule.Kind.TERRITORY,
            "regions": [" Jalísco ", "COLIMA", "jalisco"],
            "countries": ["MX"],
            "rep": rep,
            "team": None,
        },
    )
    assert rule.order == 50
    assert rule.regions == ["jalisco", "colima"]
    assert rule.created_by == marketing
    assert AuditEvent.objects.filter(actor=marketing, action=AuditEvent.Action.CREATE).exists()
    updated = services.routing_rule_update(actor=admin_user, rule=rule, data={"name": "Oeste"})
    assert updated.name == "Oeste"


def test_reps_and_managers_do_not_set_rules(rep, manager):
    for user in (rep, manager):
        with pytest.raises(PermissionDenied):
            services.routing_rule_create(actor=user, data={"name": "x"})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "territorio", "regions": [], "countries": []}, "regions"),
        ({"kind": "territorio", "countries": ["MX"]}, "rep"),
        ({"kind": "territorio", "countries": ["XX"], "rep": "rep"}, "countries"),
        ({"kind": "turnos"}, "team"),
        ({"kind": "territorio", "countries": ["MX"], "rep": "gone"}, "rep"),
        ({"kind": "turnos", "team": "empty"}, "team"),
    ],
)
def test_a_malformed_rule_is_refused(marketing, rep, data, field):
    gone = UserFactory(is_active=False)
    values = {"rep": rep, "gone": gone, "empty": TeamFactory()}
    data = {k: values.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    with pytest.raises(ValidationError) as exc:
        services.routing_rule_create(actor=marketing, data={"name": "Mala", **data})
    assert field in exc.value.message_dict
    assert not RoutingRule.objects.exists()


def test_rules_move_up_and_down_and_deactivate(admin_user):
    a, b, c = (RoutingRuleFactory(order=n) for n in (5, 6, 7))
    services.routing_rule_move(actor=admin_user, rule=c, up=True)
    assert list(RoutingRule.objects.order_by("order").values_list("pk", flat=True)) == [
        a.pk,
        c.pk,
        b.pk,
    ]
    services.routing_rule_move(actor=admin_user, rule=a, up=True)  # already first
    services.routing_rule_move(actor=admin_user, rule=a, up=False)
    assert list(RoutingRule.objects.order_by("order").values_list("pk", flat=True)) == [
        c.pk,
        a.pk,
        b.pk,
    ]
    services.routing_rule_set_active(actor=admin_user, rule=b, active=False)
    assert not RoutingRule.objects.get(pk=b.pk).active


def test_the_account_owner_step_can_be_turned_off(settings):
    settings.LEAD_ROUTE_ACCOUNT_OWNER_FIRST = False
    rule = RoutingRuleFactory(countries=["MX"], regions=[])
    contact, _ = mql_contact(account=AccountFactory(owner=UserFactory()))
    route()
    assert only_assignment(contact).rep == rule.rep
