"""¿Quién llama?: a caller found by any part of their number in any format, with their context
per role, and the call logged in one click (DESIGN.md §1, the support scenario)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.top.caller import caller_lookup, national_digits, phone_query
from opportunities.models import Activity, ActivityKind
from opportunities.services import activities as activity_services
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, stage
from support.models import Ticket
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MOBILE = "+525512345678"  # Elena Ruiz's mobile, as stored (E.164)
FORMATS = [
    "+52 1 55 1234 5678",
    "+52 55 1234 5678",
    "0052 55 1234 5678",
    "044 55 1234 5678",
    "045 55 1234 5678",
    "01 55 1234 5678",
    "(55) 1234-5678",
    "55-1234-5678",
    "5512345678",
    "1234 5678",
]


@pytest.fixture
def account(rep):
    return AccountFactory(owner=rep, name="Ferretería El Tornillo", phone="+528187654321")


@pytest.fixture
def elena(rep, account):
    return ContactFactory(
        owner=rep,
        account=account,
        first_name="Elena",
        last_name="Ruiz Domínguez",
        job_title="Jefa de compras",
        phone="",
        mobile=MOBILE,
    )


def _url(query: str) -> str:
    return f"{reverse('crm:caller')}?q={query}"


def _html(client, query: str, **extra) -> str:
    response = client.get(reverse("crm:caller"), {"q": query}, **extra)
    assert response.status_code == 200
    return response.content.decode()


# The number ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "national"),
    [
        ("+52 1 55 1234 5678", "5512345678"),
        ("0052 1 55 1234 5678", "5512345678"),
        ("044 55 1234 5678", "5512345678"),
        ("045 55 1234 5678", "5512345678"),
        ("01 55 1234 5678", "5512345678"),
        ("+34 912 345 678", "912345678"),
        ("0034 912 34 56 78", "912345678"),
        ("55-1234-5678", "5512345678"),
        ("1234 5678", "12345678"),
        ("678", "678"),
    ],
)
def test_national_digits_drop_international_and_trunk_prefixes(typed, national):
    assert national_digits(typed) == national


def test_fewer_than_three_digits_is_no_search():
    assert phone_query("55") is None
    assert phone_query("Elena") is None
    assert phone_query("") is None
    # A bare prefix still searches what was typed.
    assert phone_query("044").needle == "044"


@pytest.mark.parametrize("typed", FORMATS)
def test_every_format_finds_the_same_contact(support, elena, typed):
    ContactFactory(first_name="Otro", phone="", mobile="+525587654321")
    results = caller_lookup(user=support, query=typed)
    assert [hit.record for hit in results.contacts] == [elena]
    assert results.contacts[0].phones[0].matched


def test_the_page_finds_the_contact_typed_in_another_format(client_for, support, elena):
    html = _html(client_for(support), "+52 1 55 1234 5678")
    assert f'id="caller-contact-{elena.pk}"' in html
    assert "Elena Ruiz Domínguez" in html
    assert "Ferretería El Tornillo" in html
    assert "+52 55 1234 5678" in html  # the number as people write it


def test_an_account_by_its_phone(support, account):
    for typed in ("81 8765 4321", "+52 81 8765 4321", "01 81 8765 4321", "4321"):
        results = caller_lookup(user=support, query=typed)
        assert account in [hit.record for hit in results.accounts], typed


def test_a_spanish_number_in_its_formats(support):
    pilar = ContactFactory(first_name="Pilar", country="ES", phone="+34912345678", mobile="")
    for typed in ("912 34 56 78", "+34 912 345 678", "0034 912345678", "91 234 56 78"):
        assert [h.record for h in caller_lookup(user=support, query=typed).contacts] == [pilar]


def test_three_digits_find_numbers_ending_with_them_first(support):
    middle = ContactFactory(
        first_name="Andrés", last_name="Aguilar", phone="", mobile="+525567812345"
    )
    ending = ContactFactory(first_name="Zoe", last_name="Zamora", phone="", mobile="+525511112678")
    ContactFactory(first_name="Nadie", phone="", mobile="+525599990000")
    results = caller_lookup(user=support, query="678")
    assert [hit.record for hit in results.contacts] == [ending, middle]


def test_no_match(client_for, support, elena):
    html = _html(client_for(support), "999 999 9999", **HTMX)
    assert "Ningún contacto ni cuenta tiene un teléfono con «999 999 9999»." in html
    assert "caller-card" not in html


def test_too_short_asks_for_more_digits(client_for, support, elena):
    html = _html(client_for(support), "55", **HTMX)
    assert "Escribe al menos tres dígitos del número." in html
    assert "caller-card" not in html


def test_archived_records_come_last_but_come(support):
    archived = ContactFactory(
        first_name="Ana", last_name="Archivada", phone="", mobile="+525500001234"
    )
    archived.archived_at = timezone.now()
    archived.save()
    live = ContactFactory(
        first_name="Zacarías", last_name="Zúñiga", phone="", mobile="+525500011234"
    )
    results = caller_lookup(user=support, query="1234")
    assert [hit.record for hit in results.contacts] == [live, archived]


def test_more_matches_than_shown_are_announced(client_for, support):
    for n in range(10):
        ContactFactory(phone="", mobile=f"+5255100{n:02d}099")
    results = caller_lookup(user=support, query="99")
    assert not results.searched
    results = caller_lookup(user=support, query="099")
    assert len(results.contacts) == 8 and results.more_contacts
    assert "Hay más contactos con ese número" in _html(client_for(support), "099", **HTMX)


# What each role sees -------------------------------------------------------------------------


@pytest.fixture
def context(rep, other_rep, support, account, elena):
    """Elena's company with an open deal of rep's and one of other_rep's, activities of both,
    and tickets: two open (one of them Elena's) and one closed."""
    mine = OpportunityFactory(owner=rep, account=account, name="Tornillería 2026", amount=84500)
    OpportunityFactory(
        owner=other_rep, account=account, name="Trato ajeno", stage=stage("Propuesta")
    )
    OpportunityFactory(owner=rep, account=account, name="Ganada ya", stage=stage("Ganada"))
    now = timezone.now()
    ActivityFactory(
        owner=rep,
        account=account,
        contact=elena,
        kind=ActivityKind.VISIT,
        status=Activity.Status.DONE,
        done_at=now - timedelta(days=2),
        outcome="Revisamos el pedido 4471 con Elena.",
    )
    ActivityFactory(
        owner=other_rep,
        account=account,
        contact=elena,
        kind=ActivityKind.CALL,
        status=Activity.Status.DONE,
        done_at=now - timedelta(days=1),
        outcome="Llamada de otro vendedor.",
    )
    TicketFactory(account=account, contact=elena, subject="Pedido incompleto")
    TicketFactory(account=account, contact=None, subject="Factura duplicada")
    TicketFactory(
        account=account, contact=elena, status=Ticket.Status.CLOSED, resolution="Repuesto."
    )
    return {"opportunity": mine}


def test_support_sees_tickets_and_every_activity_but_no_opportunity(
    client_for, support, elena, context
):
    html = _html(client_for(support), "55 1234 5678")
    assert "1 incidencia abierta" in html
    assert "2 en su empresa" in html
    assert "Revisamos el pedido 4471 con Elena." in html
    assert "Llamada de otro vendedor." in html
    assert "Oportunidades abiertas" not in html
    assert "Tornillería 2026" not in html
    assert "500,00" not in html and "MXN" not in html
    assert "Abrir incidencia" in html


def test_a_rep_sees_their_own_opportunities_and_activities_only(client_for, rep, elena, context):
    html = _html(client_for(rep), "55 1234 5678")
    assert "Oportunidades abiertas" in html
    assert "Tornillería 2026" in html
    assert "84\xa0500,00 MXN" in html
    assert "Trato ajeno" not in html
    assert "Ganada ya" not in html  # closed
    assert "Revisamos el pedido 4471 con Elena." in html
    assert "Llamada de otro vendedor." not in html
    # Their own customer: the tickets and a ticket to open.
    assert "1 incidencia abierta" in html
    assert "Abrir incidencia" in html


def test_the_manager_sees_the_team_deals_and_tickets(client_for, manager, elena, context):
    html = _html(client_for(manager), "55 1234 5678")
    assert "Tornillería 2026" in html
    assert "Trato ajeno" not in html  # other_rep is in another team
    assert "1 incidencia abierta" in html


def test_another_rep_sees_no_tickets_deals_or_activities_of_a_customer_not_theirs(
    client_for, other_rep, elena, context
):
    html = _html(client_for(other_rep), "55 1234 5678")
    assert f'id="caller-contact-{elena.pk}"' in html  # the shared portfolio
    assert "Trato ajeno" in html  # their own deal at that account
    assert "Tornillería 2026" not in html
    assert "incidencia abierta" not in html and "incidencias abiertas" not in html
    assert "Abrir incidencia" not in html
    assert "Llamada de otro vendedor." in html
    assert "Revisamos el pedido 4471 con Elena." not in html


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("rep", True),
        ("manager", True),
        ("support", True),
        ("admin_user", True),
        ("marketing", False),
    ],
)
def test_who_may_use_the_lookup(request, client_for, elena, role, allowed):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if allowed else 403
    assert client.get(_url("5678")).status_code == expected
    assert client.get(_url("5678"), **HTMX).status_code == expected
    response = client.post(reverse("crm:caller-log-call"), {"contact": elena.pk})
    assert response.status_code == (302 if allowed else 403)
    assert Activity.objects.count() == (1 if allowed else 0)
    home = client.get(reverse("crm:home")).content.decode()
    assert ('href="/quien-llama/"' in home) == allowed
    assert ('id="caller-modal-template"' in home) == allowed


def test_the_ticket_link_carries_the_caller(client_for, support, elena, account):
    html = _html(client_for(support), "5512345678")
    create = reverse("support:ticket-create")
    assert create == "/soporte/incidencias/nueva/"
    assert f"{create}?contact={elena.pk}&amp;account={account.pk}&amp;channel=telefono" in html
    results = caller_lookup(user=support, query="81 8765 4321")
    assert results.accounts[0].ticket_url == f"{create}?account={account.pk}&channel=telefono"


def test_no_ticket_for_an_archived_account(support, account):
    account.archived_at = timezone.now()
    account.save()
    hit = caller_lookup(user=support, query="81 8765 4321").accounts[0]
    assert hit.record == account and hit.ticket_url == ""
    assert hit.open_tickets == 0


# Logging the call ----------------------------------------------------------------------------


def test_support_logs_the_call_in_one_click_htmx(client_for, support, elena, account):
    response = client_for(support).post(
        reverse("crm:caller-log-call"),
        {"contact": elena.pk, "q": "55 1234 5678", "outcome": "Pregunta por su pedido 4471."},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="card mb-2 caller-card"')
    assert f'id="caller-contact-{elena.pk}"' in html
    assert "Llamada registrada." in html
    assert "Pregunta por su pedido 4471." in html  # now among the last activities
    activity = Activity.objects.get()
    assert activity.kind == ActivityKind.CALL
    assert activity.status == Activity.Status.DONE
    assert activity.owner == support
    assert activity.contact == elena
    assert activity.account == account
    assert activity.outcome == "Pregunta por su pedido 4471."
    elena.refresh_from_db()
    assert elena.last_contacted_at == activity.done_at


def test_logging_without_javascript_returns_to_the_results(client_for, rep, elena, account):
    client = client_for(rep)
    response = client.post(
        reverse("crm:caller-log-call"), {"account": account.pk, "q": "81 8765 4321"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('crm:caller')}?q=81+8765+4321"
    activity = Activity.objects.get()
    assert activity.account == account and activity.contact is None
    assert activity.outcome == "Llamada recibida."
    page = client.get(response["Location"]).content.decode()
    assert "Llamada registrada." in page


def test_logging_needs_a_known_contact_or_account(client_for, support):
    client = client_for(support)
    url = reverse("crm:caller-log-call")
    assert client.post(url, {}).status_code == 404
    assert client.post(url, {"contact": 987654}).status_code == 404
    assert client.post(url, {"account": "x"}).status_code == 404
    assert client.get(url).status_code == 405
    assert not Activity.objects.exists()


def test_support_may_log_calls_only(support, elena, context):
    activity_services.activity_log(
        actor=support, kind=ActivityKind.CALL, outcome="Llamó por la factura.", contact=elena
    )
    with pytest.raises(PermissionDenied):
        activity_services.activity_log(
            actor=support, kind=ActivityKind.VISIT, outcome="Visita.", contact=elena
        )
    with pytest.raises(PermissionDenied):
        activity_services.activity_log(
            actor=support,
            kind=ActivityKind.CALL,
            outcome="Sobre el trato.",
            contact=elena,
            opportunity=context["opportunity"],
        )
    with pytest.raises(PermissionDenied):
        activity_services.activity_log(
            actor=support,
            kind=ActivityKind.CALL,
            outcome="Y la próxima semana.",
            contact=elena,
            next_kind=ActivityKind.CALL,
            next_at=timezone.now() + timedelta(days=7),
        )
    assert Activity.objects.filter(owner=support).count() == 1


def test_marketing_may_not_log_a_call(marketing, elena):
    with pytest.raises(PermissionDenied):
        activity_services.activity_log(
            actor=marketing, kind=ActivityKind.CALL, outcome="Hola.", contact=elena
        )


# The page, the fragment and their cost -------------------------------------------------------


def test_the_page_without_htmx(client_for, support, elena):
    html = _html(client_for(support), "1234 5678")
    assert "<html" in html
    assert 'action="/quien-llama/"' in html and 'name="q"' in html
    assert 'value="1234 5678"' in html
    assert 'hx-trigger="input changed delay:200ms, search"' in html
    assert "<kbd>F2</kbd>" in html
    assert f'id="caller-contact-{elena.pk}"' in html
    assert 'action="/quien-llama/llamada/"' in html  # the log form posts without JavaScript


def test_the_htmx_fragment(client_for, support, elena):
    html = _html(client_for(support), "1234 5678", **HTMX)
    assert html.lstrip().startswith('<div id="caller-results"')
    assert "<html" not in html and "<nav" not in html
    assert f'id="caller-contact-{elena.pk}"' in html


def test_history_restore_gets_the_whole_page(client_for, support, elena):
    html = _html(client_for(support), "1234 5678", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in html


@pytest.mark.parametrize("role", ["rep", "manager", "support", "admin_user"])
@pytest.mark.parametrize("query", ["5678", "555", "55 5555 5678"])
def test_queries_are_constant_with_many_matches(
    request, client_for, django_assert_max_num_queries, role, query
):
    """Twelve companies behind one switchboard number (and their people): the last digits
    (one query), digits inside the number (a second one) and the whole number."""
    user = request.getfixturevalue(role)
    owner = request.getfixturevalue("rep")
    for n in range(12):
        account = AccountFactory(owner=owner, phone="+525555555678")
        contact = ContactFactory(
            owner=owner, account=account, phone="+525555555678", mobile=f"+52331{n:03d}0000"
        )
        OpportunityFactory(owner=owner, account=account)
        ActivityFactory(
            owner=owner,
            account=account,
            contact=contact,
            status=Activity.Status.DONE,
            done_at=timezone.now() - timedelta(hours=n + 1),
            outcome=f"Visita {n}",
        )
        TicketFactory(account=account, contact=contact)
    client = client_for(user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("crm:caller"), {"q": query}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="card mb-2 caller-card"') == 16  # eight of each
    assert html.count('· <span class="text-body-secondary">Visita ') == 16  # one on each
