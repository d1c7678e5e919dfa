"""The queues' rows made in Python (support/views/ticket_rows.py) show what the row template they
replace showed, value for value and escaped the same: data/ticket_row_reference.html is that
template, kept only to compare with."""

import datetime
import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from crm.core.tests.pages import in_order, markup_text
from support.models import Ticket
from support.selectors import tickets as selectors
from support.tests.factories import TicketFactory
from support.views.ticket_rows import render_rows

pytestmark = pytest.mark.django_db

REFERENCE = Path(__file__).with_name("data") / "ticket_row_reference.html"
NOW = datetime.datetime(2026, 3, 10, 17, 45, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def _rows(user, tickets: list[Ticket]) -> list:
    """As the list reads them: named tuples, in the order of `tickets`."""
    return in_order(selectors.ticket_rows(user=user), tickets)


def _models(tickets: list[Ticket]) -> list[Ticket]:
    """As the replaced template read them: models with their customer and assignee, flagged."""
    models = Ticket.objects.select_related("account", "contact", "assignee")
    return selectors.with_sla_flags(in_order(models, tickets), NOW)


def _ticket(*, sla: dict | None = None, **fields) -> Ticket:
    ticket = TicketFactory(**fields)
    if sla:
        Ticket.objects.filter(pk=ticket.pk).update(**sla)
    return ticket


def _variety(rep) -> list[Ticket]:
    """One ticket for each way a row can look: every status and priority; overdue (by its due
    time, its breached flag or its business minutes left), due soon, met, running, paused and
    finished clocks; with and without contact and assignee; names that look like markup."""
    agent = UserFactory(role=Role.SOPORTE, first_name="Sofía", last_name="<b>Soporte</b>")
    nameless = UserFactory(role=Role.SOPORTE, first_name="", last_name="", username="agente&1")
    account = AccountFactory(owner=rep, name='Papelería "La Pluma" & <b>Hijos</b>')
    contact = ContactFactory(account=account, owner=rep, first_name="Inés", last_name="O'Neil <i>")
    late_first = {"first_response_due": NOW - 2 * HOUR, "resolution_due": NOW + 30 * HOUR}
    soon = {
        "first_response_due": NOW + HOUR,
        "first_response_warn_at": NOW - HOUR,
        "resolution_due": NOW + 20 * HOUR,
    }
    met = {
        "first_response_at": NOW - 5 * HOUR,
        "first_response_due": NOW + HOUR,
        "resolution_due": NOW + 48 * HOUR,
        "resolution_warn_at": NOW + 40 * HOUR,
    }
    return [
        _ticket(
            account=account,
            contact=contact,
            assignee=agent,
            subject='<script>alert("x")</script> & más',
            priority="urgente",
            status="nuevo",
            sla=late_first,
        ),
        _ticket(
            account=account,
            contact=None,
            assignee=None,
            priority="alta",
            status="abierto",
            sla=soon,
        ),
        _ticket(
            account=account,
            contact=contact,
            assignee=nameless,
            priority="media",
            status="abierto",
            sla=met,
        ),
        # Waiting for the customer: the clock stopped, no due time.
        _ticket(
            account=account, contact=contact, assignee=agent, priority="baja", status="en_espera"
        ),
        # Waiting, but a target already missed while it ran.
        _ticket(
            account__owner=rep,
            assignee=None,
            priority="media",
            status="en_espera",
            sla={"resolution_breached": True, "resolution_left": -30},
        ),
        # Its business minutes ran out before the due time came (a holiday moved it).
        _ticket(
            account__owner=rep,
            assignee=agent,
            priority="alta",
            status="abierto",
            sla={"resolution_due": NOW + 3 * HOUR, "resolution_left": -5},
        ),
        _ticket(
            account__owner=rep,
            contact=None,
            assignee=agent,
            priority="baja",
            status="resuelto",
            sla={"first_response_at": NOW - 9 * HOUR, "resolved_at": NOW - HOUR},
        ),
        _ticket(
            account__owner=rep,
            assignee=nameless,
            priority="urgente",
            status="cerrado",
            resolution="Cambiado el tóner.",
            sla={"first_response_breached": True, "closed_at": NOW - HOUR},
        ),
        # Resolved after its due time: the row still says so, without a due time.
        _ticket(
            account__owner=rep,
            assignee=agent,
            priority="alta",
            status="resuelto",
            sla={"resolution_due": NOW - HOUR, "resolved_at": NOW - 2 * HOUR},
        ),
    ]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("selectable", [True, False])
def test_rows_are_the_reference_template_row_for_row(rep, support, language, selectable):
    tickets = _variety(rep)
    # A page in the user's time zone (crm.core.middleware.UserTimezoneMiddleware), not UTC's.
    with override(language), timezone.override("America/Mexico_City"):
        made = render_rows(_rows(support, tickets), now=NOW, selectable=selectable)
        reference = Template(REFERENCE.read_text()).render(
            Context({"page_obj": _models(tickets), "can_work": selectable})
        )
    expected = [f"<tr{row}" for row in markup_text(reference).split("<tr")[1:]]
    assert [markup_text(row) for row in made] == expected
    assert len(made) == len(tickets)
    states = [re.search(r'<tr class="([^"]*)"', row)[1] for row in made]
    assert states.count("table-danger") == 5 and states.count("table-warning") == 1


def test_a_rep_reads_the_same_rows_as_support(rep, support):
    tickets = _variety(rep)
    assert render_rows(_rows(rep, tickets), now=NOW, selectable=False) == render_rows(
        _rows(support, tickets), now=NOW, selectable=False
    )


def test_the_queue_and_its_live_filtering_show_the_rows_escaped(support, client_for):
    ticket = TicketFactory(subject="<b>Impresora</b> & tóner", contact__first_name='Ana "<i>"')
    client = client_for(support)
    url = reverse("support:ticket-list") + "?queue=all"
    page = client.get(url).text
    partial = client.get(url, headers={"HX-Request": "true"}).text
    for html in (page, partial):
        assert "&lt;b&gt;Impresora&lt;/b&gt; &amp; tóner</a>" in html
        assert "Ana &quot;&lt;i&gt;&quot;" in html
        assert "<b>Impresora" not in html
        assert f'name="tickets" value="{ticket.pk}" aria-label="Marcar {ticket.number}"' in html
    row = re.search(r"<tr class=.*?</tr>", page, re.S)[0]
    assert row in partial and "<html" not in partial


def test_whoever_only_reads_tickets_has_no_boxes_to_tick(rep, client_for):
    TicketFactory(account__owner=rep)
    response = client_for(rep).get(reverse("support:ticket-list"))
    assert response.status_code == 200
    assert "row-select" not in response.text and 'name="tickets"' not in response.text
