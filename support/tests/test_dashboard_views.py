"""The support dashboard page per role, its filters and htmx fragment, its query count, and
the support part of the home page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import TeamFactory, UserFactory
from support.models import Ticket
from support.sla import business_minutes_between, calendar_load
from support.tests.factories import SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("support:dashboard")
HOME = reverse("crm:home")
ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]


@pytest.fixture
def agents():
    team = TeamFactory(name="Mesa de ayuda")
    return [
        UserFactory(username="agente1", first_name="Carla", role=Role.SOPORTE, team=team),
        UserFactory(username="agente2", first_name="Diego", role=Role.SOPORTE, team=team),
    ]


def make_tickets(agents, n: int) -> None:
    """Tickets with their times set by hand, and the business minutes of the targets reached
    stored as support.services.sla stores them."""
    now = timezone.now()
    calendar = calendar_load()
    account = AccountFactory()
    contact = ContactFactory(account=account, owner=account.owner)
    for i in range(n):
        made = TicketFactory(
            account=account, contact=contact, created_by=agents[0], assignee=agents[i % 2]
        )
        resolved = i % 3 == 0
        created = now - timedelta(days=i % 12, hours=5)
        first_at = now - timedelta(days=i % 12, hours=4)
        resolved_at = now - timedelta(days=i % 12) if resolved else None
        Ticket.objects.filter(pk=made.pk).update(
            created_at=created,
            status="resuelto" if resolved else "abierto",
            priority=["baja", "media", "alta", "urgente"][i % 4],
            first_response_at=first_at,
            resolved_at=resolved_at,
            first_response_breached=i % 5 == 0,
            first_response_business_minutes=business_minutes_between(calendar, created, first_at),
            resolution_business_minutes=(
                business_minutes_between(calendar, created, resolved_at) if resolved else None
            ),
        )
        if resolved:
            SurveyFactory(
                ticket=made, sent_at=now, answered_at=now - timedelta(hours=i), score=1 + i % 5
            )


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_per_role(request, client_for, role):
    response = client_for(request.getfixturevalue(role)).get(DASHBOARD)
    assert response.status_code == (200 if role in {"support", "admin_user"} else 403)


def test_dashboard_page_and_filters(client_for, support, agents):
    make_tickets(agents, 12)
    client = client_for(support)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="backlog-table"' in html
    assert 'id="support-trend-data"' in html
    assert f'id="agent-{agents[0].pk}"' in html and f'id="agent-{agents[1].pk}"' in html
    assert "chart.umd.min.js" in html
    assert response.context["total"].resolved_n == 4

    one = client.get(DASHBOARD, {"period": "7", "agent": agents[1].pk})
    assert [row.pk for row in one.context["agents"]] == [agents[1].pk]
    assert one.context["days"] == 7

    fragment = client.get(DASHBOARD, {"period": "90"}, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and 'id="dashboard-summary"' in body

    # A malformed filter falls back to its default instead of failing.
    bad = client.get(DASHBOARD, {"period": "999", "agent": "abc", "team": "987654"})
    assert bad.status_code == 200
    assert bad.context["days"] == 30 and bad.context["scope"].agent is None


def test_dashboard_queries_are_constant(client_for, support, agents, django_assert_max_num_queries):
    make_tickets(agents, 60)
    client = client_for(support)
    # Session and user, the page's figures (9), the two selects of the filter.
    with django_assert_max_num_queries(14):
        response = client.get(DASHBOARD, {"period": "30"})
    assert response.context["total"].resolved_n == 20


def test_support_home_shows_the_queues(client_for, support, agents):
    make_tickets(agents, 9)
    TicketFactory(created_by=agents[0], assignee=support)
    response = client_for(support).get(HOME)
    assert response.status_code == 200
    queues = response.context["support_queues"]
    assert queues["backlog"] == 7  # 6 of the agents' and 1 of mine
    assert queues["mine"] == 1
    html = response.content.decode()
    assert 'id="home-support"' in html
    assert f"{reverse('support:ticket-list')}?queue=mine" in html
    assert reverse("support:dashboard") in html


@pytest.mark.parametrize("role", ["rep", "manager", "marketing"])
def test_other_homes_have_no_support_branch(request, client_for, role):
    response = client_for(request.getfixturevalue(role)).get(HOME)
    assert response.status_code == 200
    assert "support_queues" not in response.context
    assert 'id="home-support"' not in response.content.decode()
