"""Pages of lead routing: the rep's leads, the rules, the manager's report; per role."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, LeadSource, Lifecycle
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from opportunities.models import Activity, LeadAssignment, RejectReason, RoutingRule
from opportunities.services.leads import lead_accept, leads_route
from opportunities.tests.factories import (
    ActivityFactory,
    LeadAssignmentFactory,
    RoutingRuleFactory,
    mql_contact,
)

pytestmark = pytest.mark.django_db

LIST = reverse("opportunities:lead-list")
REPORT = reverse("opportunities:lead-report")
RULES = reverse("opportunities:routing-rule-list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def detail(assignment) -> str:
    return reverse("opportunities:lead-detail", args=[assignment.pk])


@pytest.fixture
def routed(rep):
    """A lead routed to `rep` by the job, with its call task."""
    contact, _change = mql_contact(owner=rep, account=None)
    leads_route()
    return LeadAssignment.objects.get(contact=contact)


# --- Who reaches which page ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (LIST, {"rep", "manager", "admin_user"}),
        (REPORT, {"manager", "admin_user"}),
        (RULES, {"marketing", "admin_user"}),
        (reverse("opportunities:routing-rule-create"), {"marketing", "admin_user"}),
    ],
)
def test_pages_per_role(request, client_for, url, allowed):
    for role in ("rep", "manager", "support", "marketing", "admin_user"):
        user = request.getfixturevalue(role)
        status = client_for(user).get(url).status_code
        assert status == (200 if role in allowed else 403), (role, status)


def test_the_rep_sees_their_pending_leads_with_score_task_and_why(client_for, rep, routed):
    other = LeadAssignmentFactory()  # another rep's
    response = client_for(rep).get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert routed.contact.full_name in html
    assert other.contact.full_name not in html
    assert routed.task.get_absolute_url() in html
    assert routed.contact.get_absolute_url() in html  # the why: the score on the sheet
    assert reverse("opportunities:lead-accept", args=[routed.pk]) in html


def test_the_list_answers_htmx_with_its_table(client_for, rep, routed):
    response = client_for(rep).get(LIST, {"estado": "todos"}, **HTMX)
    html = response.content.decode()
    assert 'id="lead-table"' in html
    assert "<html" not in html
    assert routed.contact.full_name in html


def test_answered_leads_leave_the_pending_list(client_for, rep, routed):
    client = client_for(rep)
    client.post(reverse("opportunities:lead-accept", args=[routed.pk]))
    assert f'id="lead-{routed.pk}"' not in client.get(LIST).content.decode()
    answered = client.get(LIST, {"estado": "respondidos"}).content.decode()
    assert f'id="lead-{routed.pk}"' in answered


def test_another_reps_lead_answers_404(client_for, other_rep, routed):
    client = client_for(other_rep)
    assert client.get(detail(routed)).status_code == 404
    accept = client.post(reverse("opportunities:lead-accept", args=[routed.pk]))
    assert accept.status_code == 404
    reject = client.post(
        reverse("opportunities:lead-reject", args=[routed.pk]), {"reason": "duplicado"}
    )
    assert reject.status_code == 404
    routed.refresh_from_db()
    assert routed.status == LeadAssignment.Status.PENDING


def test_the_manager_sees_the_teams_leads_not_other_teams(client_for, manager, routed):
    other = LeadAssignmentFactory()
    client = client_for(manager)
    assert client.get(detail(routed)).status_code == 200
    assert client.get(detail(other)).status_code == 404
    html = client.get(LIST).content.decode()
    assert routed.contact.full_name in html
    assert other.contact.full_name not in html


@pytest.mark.parametrize("pk", ["987654321", "9" * 40])
def test_a_missing_lead_answers_404(client_for, rep, pk):
    assert client_for(rep).get(f"/ventas/leads-asignados/{pk}/").status_code == 404


# --- Accepting and rejecting ---------------------------------------------------------------------


def test_accept_from_the_page(client_for, rep, routed):
    response = client_for(rep).post(reverse("opportunities:lead-accept", args=[routed.pk]))
    assert response.status_code == 302
    assert response.url == LIST
    assert Contact.objects.get(pk=routed.contact_id).lifecycle == Lifecycle.SQL


def test_accept_twice_says_so(client_for, rep, routed):
    client = client_for(rep)
    client.post(reverse("opportunities:lead-accept", args=[routed.pk]))
    response = client.post(reverse("opportunities:lead-accept", args=[routed.pk]), follow=True)
    assert "ya tiene respuesta" in response.content.decode()


def test_reject_from_the_page_with_a_reason(client_for, rep, routed):
    url = reverse("opportunities:lead-reject", args=[routed.pk])
    client = client_for(rep)
    page = client.get(detail(routed)).content.decode()
    assert url in page
    refused = client.post(url, {"reason": RejectReason.OTHER, "note": ""})
    assert refused.status_code == 422
    assert "Explica el motivo" in refused.content.decode()
    assert Contact.objects.get(pk=routed.contact_id).lifecycle == Lifecycle.MQL

    response = client.post(url, {"reason": RejectReason.OTHER, "note": "Es estudiante"})

    assert response.status_code == 302
    routed.refresh_from_db()
    assert routed.status == LeadAssignment.Status.REJECTED
    assert routed.reject_note == "Es estudiante"
    assert routed.task.status == Activity.Status.CANCELLED
    assert Contact.objects.get(pk=routed.contact_id).lifecycle == Lifecycle.LEAD


# --- The rules' pages ----------------------------------------------------------------------------


def test_marketing_creates_edits_orders_and_deactivates_a_rule(client_for, marketing, rep):
    client = client_for(marketing)
    create = reverse("opportunities:routing-rule-create")
    bad = client.post(create, {"name": "Bajío", "kind": "territorio", "rep": rep.pk})
    assert bad.status_code == 422
    assert "al menos un estado o un país" in bad.content.decode()
    assert not RoutingRule.objects.exists()

    response = client.post(
        create,
        {
            "name": "Bajío",
            "kind": "territorio",
            "regions_text": "Guanajuato, Querétaro",
            "rep": rep.pk,
        },
    )

    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.regions == ["guanajuato", "queretaro"]
    assert rule.rep == rep
    edit = reverse("opportunities:routing-rule-update", args=[rule.pk])
    assert "guanajuato, queretaro" in client.get(edit).content.decode()
    client.post(
        edit,
        {
            "name": "Bajío",
            "kind": "territorio",
            "regions_text": "guanajuato",
            "countries": ["MX"],
            "rep": rep.pk,
            "active": "on",
        },
    )
    rule.refresh_from_db()
    assert rule.countries == ["MX"]
    second = RoutingRuleFactory()
    client.post(reverse("opportunities:routing-rule-move", args=[second.pk]), {"direction": "up"})
    assert list(RoutingRule.objects.values_list("pk", flat=True)) == [second.pk, rule.pk]
    client.post(reverse("opportunities:routing-rule-toggle", args=[rule.pk]), {"active": "0"})
    assert not RoutingRule.objects.get(pk=rule.pk).active
    assert rule.name in client.get(RULES).content.decode()


# --- The manager's report ------------------------------------------------------------------------


def _at(year: int, month: int, day: int = 15, hour: int = 18) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _contact(owner, created: datetime, source: str, path: list[str]) -> Contact:
    """A contact created at `created` that went through the lifecycle `path` (its history)."""
    contact = ContactFactory(owner=owner, account=None, lead_source=source, lifecycle=path[0])
    for stage in path[1:]:
        contact.lifecycle = stage
        contact.save()
    Contact.objects.filter(pk=contact.pk).update(created_at=created)
    return contact


@pytest.fixture
def funnel_data(rep, other_rep):
    S, L, M, Q, C, X = (
        Lifecycle.SUBSCRIBER,
        Lifecycle.LEAD,
        Lifecycle.MQL,
        Lifecycle.SQL,
        Lifecycle.CUSTOMER,
        Lifecycle.INACTIVE,
    )
    web, event = LeadSource.WEB, LeadSource.EVENT
    _contact(rep, _at(2026, 1), web, [S, L, M, Q, C])
    _contact(rep, _at(2026, 1), web, [L, M, L])  # rejected: still counts as MQL
    _contact(rep, _at(2026, 2), event, [L])
    _contact(rep, _at(2026, 2), event, [S])
    _contact(rep, _at(2026, 2), web, [C, X])  # imported as customer, now inactive
    _contact(other_rep, _at(2026, 1), web, [L, M])  # another team's
    _contact(rep, _at(2025, 12), web, [L, M])  # before the range


def _cells(html: str, row_id: str) -> list[str]:
    """The texts of a table row's cells, without the percentages in brackets."""
    row = html.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>|\([^)]*\)|\s+", "", cell) for cell in cells]


def test_the_funnel_per_month_and_source_on_a_known_data_set(funnel_data, manager, admin_user):
    from opportunities.selectors.leads import lead_funnel

    start, end = datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date()
    months, sources, total = lead_funnel(user=manager, start=start, end=end)

    assert [(m.key.month, list(m.counts.values())) for m in months] == [
        (1, [2, 2, 2, 1, 1]),
        (2, [3, 2, 1, 1, 1]),
    ]
    assert {s.key: list(s.counts.values()) for s in sources} == {
        "web": [3, 3, 3, 2, 2],
        "evento": [2, 1, 0, 0, 0],
    }
    assert list(total.counts.values()) == [5, 4, 3, 2, 2]
    assert [n for n, _pct in total.steps] == [5, 4, 3, 2, 2]
    assert total.steps[1][1] == 80.0

    _months, _sources, everyone = lead_funnel(user=admin_user, start=start, end=end)
    assert list(everyone.counts.values()) == [6, 5, 4, 2, 2]
    _m, _s, events = lead_funnel(user=manager, start=start, end=end, source="evento")
    assert list(events.counts.values()) == [2, 1, 0, 0, 0]


def test_the_report_page_shows_the_funnel_and_the_response_times(
    client_for, manager, rep, other_rep, funnel_data
):
    base = _at(2026, 1, 10, 15)
    for hours, status in ((2, "aceptado"), (6, "rechazado"), (10, "aceptado")):
        LeadAssignmentFactory(
            rep=rep,
            assigned_at=base,
            status=status,
            responded_at=base + timedelta(hours=hours),
            reject_reason=RejectReason.DUPLICATE if status == "rechazado" else "",
        )
    LeadAssignmentFactory(rep=rep, assigned_at=base, due_at=base + timedelta(hours=4))  # overdue
    LeadAssignmentFactory(rep=other_rep, assigned_at=base)  # another team's

    response = client_for(manager).get(REPORT, {"desde": "2026-01", "hasta": "2026-02"})

    assert response.status_code == 200
    html = response.content.decode()
    assert _cells(html, f"lead-response-{rep.pk}") == ["4", "2", "1", "1", "1", "6,0", "10,0"]
    assert f"lead-response-{other_rep.pk}" not in html
    assert _cells(html, "lead-funnel-total") == ["5", "4", "3", "2", "2"]


@pytest.mark.parametrize(
    "params",
    [
        {"desde": "2026-13", "hasta": "x"},
        {"desde": "2026-05", "hasta": "2026-01"},
        {"desde": "0001-01", "hasta": "9999-12"},
        {"desde": "2020-01", "hasta": "2026-01"},
        {"origen": "nada"},
    ],
)
def test_bad_report_filters_show_the_default_months(client_for, manager, params):
    response = client_for(manager).get(REPORT, params)
    assert response.status_code == 422
    assert "últimos seis meses" in response.content.decode()


# --- Query counts --------------------------------------------------------------------------------


def _queries(client, url: str, params=None) -> int:
    client.get(url, params)  # the session and the caches, once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def _assignments(rep, n: int) -> None:
    for _ in range(n):
        assignment = LeadAssignmentFactory(rep=rep)
        assignment.task = ActivityFactory(owner=rep, contact=assignment.contact, account=None)
        assignment.save(update_fields=["task"])


def test_the_lead_list_costs_the_same_queries_with_many_rows(client_for, rep, manager):
    _assignments(rep, 2)
    few = _queries(client_for(rep), LIST)
    few_manager = _queries(client_for(manager), LIST)
    _assignments(rep, 40)
    assert _queries(client_for(rep), LIST) == few <= 12
    assert _queries(client_for(manager), LIST) == few_manager <= 12


def test_the_report_costs_the_same_queries_with_many_rows(client_for, manager, rep, team):
    params = {"desde": "2026-01", "hasta": "2026-12"}
    client = client_for(manager)
    base = timezone.now() - timedelta(days=1)
    LeadAssignmentFactory(rep=rep, assigned_at=base)
    few = _queries(client, REPORT, params)
    reps = [UserFactory(team=team) for _ in range(5)]
    for i in range(40):
        LeadAssignmentFactory(
            rep=reps[i % 5],
            assigned_at=base,
            status="aceptado",
            responded_at=base + timedelta(hours=i),
        )
    for source in LeadSource.values:
        ContactFactory.create_batch(2, owner=rep, lead_source=source)
    assert _queries(client, REPORT, params) == few <= 12


def test_the_rule_list_costs_the_same_queries_with_many_rules(client_for, admin_user, team):
    UserFactory(team=team, role=Role.VENDEDOR)
    RoutingRuleFactory()
    few = _queries(client_for(admin_user), RULES)
    RoutingRuleFactory.create_batch(15)
    for _ in range(15):
        RoutingRuleFactory(kind="turnos", team=team, rep=None, last_assigned=UserFactory())
    assert _queries(client_for(admin_user), RULES) == few <= 12


def test_the_call_task_leads_to_the_answer(client_for, rep, routed):
    """The rep opens the call from the agenda: the page says the lead waits for an answer and
    links to it; the notes' address is a link too."""
    client = client_for(rep)
    page = client.get(routed.task.get_absolute_url()).text
    answer = reverse("opportunities:lead-detail", args=[routed.pk])
    assert f'href="{answer}"' in page and "Responder al lead" in page
    assert f"{answer}</a>" in page  # the notes' link
    lead_accept(actor=rep, assignment=routed)
    assert "Ver el lead" in client.get(routed.task.get_absolute_url()).text
