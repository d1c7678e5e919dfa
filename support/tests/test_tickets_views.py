"""The ticket pages: the queues, the ticket page and its moves, the form, the sheet's panels;
and who may open each URL (support works, a rep reads their customers' tickets, marketing
nothing)."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.models import Role
from crm.core.panels import panels_for
from crm.core.tests.factories import UserFactory
from crm.core.tests.pages import form_values, loaded_version
from opportunities.tests.factories import OpportunityFactory
from support.models import StatusChange, Ticket
from support.services import tickets as services
from support.services.comments import comment_note
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
READERS = {"rep", "manager", "other_rep", "support", "admin_user"}
WORKERS = {"support", "admin_user"}
SEES_REPS_TICKETS = {"rep", "manager", "support", "admin_user"}
Status = Ticket.Status


@pytest.fixture
def account(rep):
    return AccountFactory(owner=rep, name="Refaccionaria Hernández")


@pytest.fixture
def contact(account, rep):
    return ContactFactory(
        account=account, owner=rep, first_name="Rocío", last_name="Durán", phone="+525512345678"
    )


@pytest.fixture
def ticket(account, contact, support):
    return services.ticket_create(
        actor=support,
        account=account,
        contact=contact,
        subject="El pedido 4471 llegó sin la bomba de agua",
        description="Faltó una pieza del pedido.",
        category=Ticket.Category.INCIDENT,
        channel=Ticket.Channel.PHONE,
        priority="alta",
    )


@pytest.fixture(autouse=True)
def _no_surveys(monkeypatch):
    monkeypatch.setattr("support.services.surveys.csat_request", lambda *, ticket: None)


# Who opens what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_section_pages_by_role(request, client_for, ticket, role):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if role in READERS else 403
    for url in [
        reverse("support:ticket-list"),
        reverse("support:ticket-list") + "?queue=breached",
        reverse("support:ticket-list-count"),
        reverse("support:ticket-queue-counts"),
        reverse("support:ticket-create"),
        reverse("support:ticket-account-picker") + "?q=refac",
        reverse("support:ticket-contact-options") + f"?account={ticket.account_id}",
        reverse("support:account-tickets-panel", args=[ticket.account_id]),
        reverse("support:contact-tickets-panel", args=[ticket.contact_id]),
    ]:
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("role", ROLES)
def test_a_ticket_page_answers_404_to_whoever_may_not_see_it(request, client_for, ticket, role):
    client = client_for(request.getfixturevalue(role))
    response = client.get(ticket.get_absolute_url())
    assert response.status_code == (200 if role in SEES_REPS_TICKETS else 404)
    if role in SEES_REPS_TICKETS:
        assert "El pedido 4471" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_the_workflow_urls_are_supports(request, client_for, ticket, role):
    user = request.getfixturevalue(role)
    client = client_for(user)
    expected = 200 if role in WORKERS else 403
    assert client.get(reverse("support:ticket-edit", args=[ticket.pk])).status_code == expected
    assert (
        client.get(
            reverse("support:ticket-transition", args=[ticket.pk]) + "?to=resuelto"
        ).status_code
        == expected
    )
    posts = [
        (reverse("support:ticket-transition", args=[ticket.pk]), {"to_status": "abierto"}),
        (reverse("support:ticket-assign", args=[ticket.pk]), {"assignee": user.pk}),
        (reverse("support:ticket-bulk-assign"), {"tickets": [ticket.pk], "assignee": ""}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == (302 if role in WORKERS else 403), url
    # Allowed, but the form is incomplete.
    response = client.post(reverse("support:ticket-edit", args=[ticket.pk]), {"subject": "X"})
    assert response.status_code == (422 if role in WORKERS else 403)
    ticket.refresh_from_db()
    assert (ticket.status == Status.OPEN) is (role in WORKERS)


def test_support_gets_404_for_a_ticket_that_does_not_exist(client_for, support):
    client = client_for(support)
    assert client.get(reverse("support:ticket-detail", args=[999999])).status_code == 404
    url = reverse("support:ticket-transition", args=[999999])
    assert client.post(url, {"to_status": "abierto"}).status_code == 404


# The queues -------------------------------------------------------------------------------


def test_the_list_shows_the_open_tickets_with_their_badges(client_for, support, ticket, account):
    now = timezone.now()
    late = TicketFactory(account=account, subject="Cobro duplicado", priority="urgente")
    Ticket.objects.filter(pk=late.pk).update(first_response_due=now - datetime.timedelta(hours=1))
    TicketFactory(account=account, subject="Ya cerrada", status="cerrado", resolution="Ok.")
    response = client_for(support).get(reverse("support:ticket-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "El pedido 4471" in html and "Cobro duplicado" in html
    assert "Ya cerrada" not in html
    assert "Vencido" in html
    assert 'name="tickets"' in html and reverse("support:ticket-bulk-assign") in html
    # The most urgent first.
    assert html.index("Cobro duplicado") < html.index("El pedido 4471")


def test_a_rep_reads_the_list_without_the_workers_tools(client_for, rep, other_rep, ticket):
    TicketFactory(account__owner=other_rep, subject="De otra cartera")
    response = client_for(rep).get(reverse("support:ticket-list"))
    html = response.content.decode()
    assert "El pedido 4471" in html and "De otra cartera" not in html
    assert 'name="tickets"' not in html
    assert "?queue=mine" not in html  # the assignee queues are support's
    assert "?queue=breached" in html


def test_the_list_by_htmx_answers_the_results_only(client_for, support, ticket):
    response = client_for(support).get(
        reverse("support:ticket-list"), {"q": "bomba", "priority": "alta"}, **HTMX
    )
    html = response.content.decode()
    assert "El pedido 4471" in html
    assert "<nav" not in html.split('id="bulk-assign-form"')[0]
    assert "<html" not in html


def test_the_queue_and_filters_narrow_the_list(client_for, support, ticket, account):
    waiting = TicketFactory(
        account=account,
        subject="Espera de fotos",
        status=Status.WAITING,
        search_text="espera de fotos",
    )
    client = client_for(support)
    html = client.get(reverse("support:ticket-list"), {"queue": "waiting"}).content.decode()
    assert "Espera de fotos" in html and "El pedido 4471" not in html
    html = client.get(reverse("support:ticket-list"), {"q": "fotos"}).content.decode()
    assert "Espera de fotos" in html and "El pedido 4471" not in html
    html = client.get(reverse("support:ticket-list"), {"status": "nuevo"}).content.decode()
    assert waiting.subject not in html and "El pedido 4471" in html


def test_clearing_the_filters_keeps_the_queue(client_for, support, ticket):
    html = (
        client_for(support)
        .get(reverse("support:ticket-list"), {"queue": "waiting", "q": "fotos"})
        .content.decode()
    )
    clear = reverse("support:ticket-list") + "?queue=waiting"
    assert f'<a class="small ms-auto" href="{clear}">Quitar filtros</a>' in html
    html = client_for(support).get(reverse("support:ticket-list"), {"q": "x"}).content.decode()
    assert f'href="{reverse("support:ticket-list")}">Quitar filtros</a>' in html
    assert "Más filtros" in html and 'id="list-loading"' in html


def test_a_customers_tickets_from_the_sheet_include_the_closed_ones(client_for, rep, ticket):
    TicketFactory(
        account=ticket.account, subject="Cerrada hace tiempo", status="cerrado", resolution="Ok."
    )
    html = (
        client_for(rep)
        .get(reverse("support:ticket-list"), {"account": ticket.account_id})
        .content.decode()
    )
    assert "Cerrada hace tiempo" in html and "El pedido 4471" in html
    assert 'name="queue" value="all"' in html


def test_the_counts(client_for, support, ticket, account):
    TicketFactory.create_batch(2, account=account, status=Status.WAITING)
    client = client_for(support)
    response = client.get(reverse("support:ticket-list-count"), {"queue": "waiting"})
    assert "de 2 en total" in response.content.decode()
    html = client.get(reverse("support:ticket-queue-counts"), **HTMX).content.decode()
    assert re.search(r"En espera del cliente\s*<span[^>]*>2</span>", html)
    assert re.search(r"Abiertas\s*<span[^>]*>3</span>", html)
    assert "hx-get" not in html  # counted: the tabs do not ask again


def test_bulk_assign_from_the_list(client_for, support, ticket, account):
    agent = UserFactory(role=Role.SOPORTE, first_name="Lucía", last_name="Paz")
    second = TicketFactory(account=account)
    back = reverse("support:ticket-list") + "?queue=unassigned"
    response = client_for(support).post(
        reverse("support:ticket-bulk-assign"),
        {"tickets": [ticket.pk, second.pk], "assignee": agent.pk, "next": back},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == back
    assert "2 incidencias asignadas a Lucía Paz." in response.content.decode()
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {agent.pk}


def test_bulk_assign_refuses_everything_when_one_cannot_be(client_for, support, ticket, account):
    closed = TicketFactory(account=account, status="cerrado", resolution="Ok.")
    response = client_for(support).post(
        reverse("support:ticket-bulk-assign"),
        {"tickets": [ticket.pk, closed.pk], "assignee": support.pk},
        follow=True,
    )
    assert closed.number in response.content.decode()
    assert not Ticket.objects.filter(assignee__isnull=False).exists()


def test_bulk_assign_without_tickets_says_so(client_for, support):
    response = client_for(support).post(
        reverse("support:ticket-bulk-assign"), {"assignee": support.pk}, follow=True
    )
    assert "Marca al menos una incidencia." in response.content.decode()


@pytest.mark.parametrize("bad", ["9" * 40, "abc", "-1"])
def test_bulk_assign_of_ids_no_ticket_can_have_says_so(client_for, support, ticket, bad):
    """A number past the database's integers reached the query (SQLite: a 500)."""
    client = client_for(support)
    client.raise_request_exception = False
    response = client.post(
        reverse("support:ticket-bulk-assign"),
        {"tickets": [ticket.pk, bad], "assignee": support.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "La selección de incidencias no es válida." in response.content.decode()
    assert not Ticket.objects.filter(assignee__isnull=False).exists()


def test_bulk_assign_never_redirects_elsewhere(client_for, support, ticket):
    response = client_for(support).post(
        reverse("support:ticket-bulk-assign"),
        {"tickets": [ticket.pk], "assignee": support.pk, "next": "https://malicioso.example/"},
    )
    assert response.url == reverse("support:ticket-list")


# The ticket page --------------------------------------------------------------------------


def test_the_ticket_page_for_support(client_for, support, ticket, account, contact):
    other = TicketFactory(account=account, subject="Garantía del compresor")
    OpportunityFactory(owner=account.owner, account=account, name="Renovación de flotilla")
    response = client_for(support).get(ticket.get_absolute_url())
    html = response.content.decode()
    assert ticket.number in html
    assert "Refaccionaria Hernández" in html and "Rocío Durán" in html
    assert other.subject in html  # the account's other open tickets
    assert "Renovación de flotilla" not in html  # support sees no opportunity
    assert reverse("support:ticket-comments", args=[ticket.pk]) in html
    for move in ("abierto", "en_espera"):
        assert f'name="to_status" value="{move}"' in html
    assert 'data-bs-target="#move-resuelto"' in html
    assert "?to=cerrado" not in html  # not from nuevo
    assert "Asignarme" in html
    assert "Abierta como <strong>Nuevo</strong>" in html


def test_the_ticket_page_for_the_rep_has_no_workflow(client_for, rep, ticket, account):
    OpportunityFactory(owner=rep, account=account, name="Renovación de flotilla")
    html = client_for(rep).get(ticket.get_absolute_url()).content.decode()
    assert "El pedido 4471" in html
    assert "Renovación de flotilla" in html  # the rep sells to them
    assert "to_status" not in html
    assert "Asignarme" not in html
    assert reverse("support:ticket-edit", args=[ticket.pk]) not in html


def test_resolve_asks_for_the_resolution(client_for, support, ticket):
    client = client_for(support)
    url = reverse("support:ticket-transition", args=[ticket.pk])
    response = client.post(url, {"to_status": "resuelto", "resolution": ""})
    assert response.status_code == 422
    assert "Explica cómo se resolvió la incidencia." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    response = client.post(
        url,
        {"to_status": "resuelto", "resolution": "Se envió la bomba por paquetería."},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == ticket.get_absolute_url()
    assert "ahora «Resuelto»" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolution == "Se envió la bomba por paquetería."


def test_a_refused_move_says_why(client_for, support, ticket):
    url = reverse("support:ticket-transition", args=[ticket.pk])
    response = client_for(support).post(url, {"to_status": "cerrado"}, follow=True)
    assert "no puede pasar a «Cerrado»" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert StatusChange.objects.filter(ticket=ticket).count() == 1


def test_the_resolve_dialog_works_as_a_page_without_javascript(client_for, support, ticket):
    url = reverse("support:ticket-transition", args=[ticket.pk])
    client = client_for(support)
    response = client.get(url, {"to": "resuelto"})
    assert response.status_code == 200
    assert 'name="resolution"' in response.content.decode()
    # A move that is not allowed from here goes back to the ticket.
    assert client.get(url, {"to": "cerrado"}).url == ticket.get_absolute_url()


def test_assign_to_me_in_one_click(client_for, support, ticket):
    response = client_for(support).post(
        reverse("support:ticket-assign", args=[ticket.pk]), {"assignee": support.pk}, follow=True
    )
    assert f"{ticket.number} es tuya." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee == support


def test_assign_refuses_someone_outside_support(client_for, support, rep, ticket):
    client_for(support).post(
        reverse("support:ticket-assign", args=[ticket.pk]), {"assignee": rep.pk}
    )
    ticket.refresh_from_db()
    assert ticket.assignee is None


# The form ---------------------------------------------------------------------------------


def test_the_caller_lookup_link_prefills_the_form(client_for, support, account, contact):
    response = client_for(support).get(
        reverse("support:ticket-create"),
        {"contact": contact.pk, "account": account.pk, "channel": "telefono"},
    )
    form = response.context["form"]
    assert form.initial == {"account": account.pk, "contact": contact.pk, "channel": "telefono"}
    html = response.content.decode()
    assert "Refaccionaria Hernández" in html
    assert f'<option value="{contact.pk}" selected>Rocío Durán</option>' in html


def test_the_contact_alone_is_enough_to_prefill(client_for, support, account, contact):
    response = client_for(support).get(reverse("support:ticket-create"), {"contact": contact.pk})
    assert response.context["form"].initial == {"account": account.pk, "contact": contact.pk}


def test_a_rep_cannot_prefill_someone_elses_customer(client_for, other_rep, account, contact):
    response = client_for(other_rep).get(reverse("support:ticket-create"), {"contact": contact.pk})
    assert response.context["form"].initial == {}


def test_open_a_ticket(client_for, support, account, contact):
    response = client_for(support).post(
        reverse("support:ticket-create"),
        {
            "account": account.pk,
            "contact": contact.pk,
            "subject": "No enciende el equipo",
            "description": "Desde ayer.",
            "category": "garantia",
            "channel": "telefono",
            "priority": "urgente",
            "assignee": support.pk,
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == ticket.get_absolute_url()
    assert (ticket.subject, ticket.priority, ticket.assignee) == (
        "No enciende el equipo",
        "urgente",
        support,
    )


def test_a_rep_opens_one_for_their_customer_but_not_for_others(
    client_for, rep, other_rep, account, contact
):
    data = {
        "account": account.pk,
        "contact": contact.pk,
        "subject": "Factura con RFC equivocado",
        "category": "reclamacion",
        "channel": "presencial",
        "priority": "media",
    }
    response = client_for(other_rep).post(reverse("support:ticket-create"), data)
    assert response.status_code == 422
    assert "Elige una de las cuentas que llevas" in response.content.decode()
    assert not Ticket.objects.exists()
    response = client_for(rep).post(reverse("support:ticket-create"), data)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.created_by == rep and ticket.assignee is None


def test_the_form_refuses_a_contact_of_another_account(client_for, support, account):
    stranger = ContactFactory()
    response = client_for(support).post(
        reverse("support:ticket-create"),
        {
            "account": account.pk,
            "contact": stranger.pk,
            "subject": "X",
            "category": "consulta",
            "channel": "email",
            "priority": "baja",
        },
    )
    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_edit_a_ticket(client_for, support, ticket):
    before = ticket.resolution_due
    client = client_for(support)
    url = reverse("support:ticket-edit", args=[ticket.pk])
    response = client.post(
        url,
        {
            "subject": "Falta la bomba de agua del pedido 4471",
            "description": "Faltó una pieza.",
            "category": "reclamacion",
            "channel": "telefono",
            "priority": "urgente",
            "version": loaded_version(client, url),
        },
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.category == "reclamacion" and ticket.priority == "urgente"
    assert ticket.resolution_due < before


def test_a_closed_ticket_is_not_edited(client_for, support, ticket):
    for status in ("resuelto", "cerrado"):
        services.ticket_transition(
            actor=support, ticket=ticket, to_status=status, resolution="Entregada."
        )
    response = client_for(support).get(reverse("support:ticket-edit", args=[ticket.pk]))
    assert response.url == ticket.get_absolute_url()


def test_the_account_picker_offers_only_the_accounts_one_may_open_for(
    client_for, rep, other_rep, account
):
    AccountFactory(owner=other_rep, name="Refacciones del Norte")
    html = (
        client_for(rep)
        .get(reverse("support:ticket-account-picker"), {"account__search": "refac"})
        .content.decode()
    )
    assert "Refaccionaria Hernández" in html and "Refacciones del Norte" not in html


HUGE = "9" * 40  # digits past any database integer (SQLite raised OverflowError)


@pytest.mark.parametrize("bad", ["abc", "²", HUGE])  # "²" passes str.isdigit(), not int()
def test_ids_no_row_can_have_are_refused_or_dropped_not_a_500(client_for, support, contact, bad):
    client = client_for(support)
    client.raise_request_exception = False
    data = {
        "account": bad,
        "contact": contact.pk,
        "subject": "X",
        "category": "consulta",
        "channel": "email",
        "priority": "baja",
    }
    assert client.post(reverse("support:ticket-create"), data).status_code == 422
    assert not Ticket.objects.exists()
    for name in ("support:ticket-create", "support:ticket-contact-options"):
        for param in ("account", "contact"):
            assert client.get(reverse(name), {param: bad}).status_code == 200, (name, param)
    for name in ("support:ticket-list", "support:ticket-list-count"):
        for param in ("account", "contact"):
            assert client.get(reverse(name), {param: bad}).status_code == 200, (name, param)


def test_the_contact_options_follow_the_account(client_for, support, rep, other_rep, contact):
    url = reverse("support:ticket-contact-options")
    html = client_for(support).get(url, {"account": contact.account_id}).content.decode()
    assert "Rocío Durán" in html
    html = client_for(other_rep).get(url, {"account": contact.account_id}).content.decode()
    assert "Rocío Durán" not in html


# The sheet's panels -----------------------------------------------------------------------


def test_the_panels_are_registered_for_who_may_see_tickets(account, contact, support, marketing):
    assert "tickets" in {p["key"] for p in panels_for(account, user=support)}
    assert "tickets" in {p["key"] for p in panels_for(contact, user=support)}
    assert "tickets" not in {p["key"] for p in panels_for(account, user=marketing)}
    panel = next(p for p in panels_for(account, user=support) if p["key"] == "tickets")
    assert panel["url"] == reverse("support:account-tickets-panel", args=[account.pk])
    assert panel["list_url"] == f"{reverse('support:ticket-list')}?account={account.pk}"


def test_the_account_panel(client_for, rep, other_rep, ticket, account):
    html = (
        client_for(rep)
        .get(reverse("support:account-tickets-panel", args=[account.pk]))
        .content.decode()
    )
    assert "El pedido 4471" in html
    assert f"{reverse('support:ticket-create')}?account={account.pk}" in html
    html = (
        client_for(other_rep)
        .get(reverse("support:account-tickets-panel", args=[account.pk]))
        .content.decode()
    )
    assert "El pedido 4471" not in html
    assert reverse("support:ticket-create") not in html  # not their customer


def test_the_contact_panel(client_for, support, ticket, contact):
    html = (
        client_for(support)
        .get(reverse("support:contact-tickets-panel", args=[contact.pk]))
        .content.decode()
    )
    assert "El pedido 4471" in html
    assert f"contact={contact.pk}" in html


def test_panels_of_records_that_do_not_exist(client_for, support):
    client = client_for(support)
    assert client.get(reverse("support:account-tickets-panel", args=[999999])).status_code == 404
    assert client.get(reverse("support:contact-tickets-panel", args=[999999])).status_code == 404


# No lost update (issue 13 §2) ------------------------------------------------------------


def test_a_stale_edit_overwrites_nothing_and_saving_again_reapplies(client_for, support, ticket):
    client = client_for(support)
    url = reverse("support:ticket-edit", args=[ticket.pk])
    data = form_values(client.get(url).text)
    # Meanwhile another agent saves the same ticket.
    colleague = UserFactory(role=Role.SOPORTE)
    services.ticket_update(actor=colleague, ticket=ticket, data={"priority": "urgente"})

    response = client.post(url, {**data, "subject": "Falta la bomba de agua"})

    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.subject == "El pedido 4471 llegó sin la bomba de agua"
    assert ticket.priority == "urgente"
    page = response.text
    assert "guardó cambios en «" in page and "Revisa lo que cambió y vuelve a guardar." in page
    assert "<td>Prioridad</td>" in page and "<td>Urgente</td>" in page
    again = form_values(page)
    assert again["subject"] == "Falta la bomba de agua" and again["version"] != data["version"]

    response = client.post(url, again)

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.subject == "Falta la bomba de agua"


def test_an_edit_without_its_version_is_refused_like_a_stale_one(client_for, support, ticket):
    client = client_for(support)
    url = reverse("support:ticket-edit", args=[ticket.pk])
    data = form_values(client.get(url).text)
    data.pop("version")

    response = client.post(url, {**data, "subject": "Falta la bomba de agua"})

    assert response.status_code == 409 and "no indica qué versión" in response.text
    ticket.refresh_from_db()
    assert ticket.subject == "El pedido 4471 llegó sin la bomba de agua"
    assert client.post(url, form_values(response.text)).status_code == 302
    ticket.refresh_from_db()
    assert ticket.subject == "Falta la bomba de agua"


def test_a_comment_meanwhile_is_no_conflict(client_for, support, ticket):
    """A note touches the ticket's updated_at, not what the edit form changes."""
    client = client_for(support)
    url = reverse("support:ticket-edit", args=[ticket.pk])
    data = form_values(client.get(url).text)
    before = Ticket.objects.get(pk=ticket.pk).updated_at
    comment_note(actor=support, ticket=ticket, body="Llamé al cliente.")
    assert Ticket.objects.get(pk=ticket.pk).updated_at != before

    assert client.post(url, {**data, "subject": "Falta la bomba de agua"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.subject == "Falta la bomba de agua"
