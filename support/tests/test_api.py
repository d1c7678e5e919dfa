"""Tickets in the REST API: the pages' visibility and rules per role and per key scope, the
services' writes (status machine, assignment, SLA, the conversation and its email), If-Match,
problem details in Spanish with nothing written, and the queries of the lists."""

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from support.models import Comment, StatusChange, Ticket
from support.services.tickets import ticket_create, ticket_transition
from support.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
ROLES = ["rep", "other_rep", "manager", "support", "marketing", "admin_user"]


def api(user, scopes=None) -> APIClient:
    _token, key = token_create(user=user, name="Centralita", scopes=scopes or SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def account(rep):
    return AccountFactory(owner=rep, name="Papelería Guadalupe")


@pytest.fixture
def contact(account, rep):
    return ContactFactory(
        account=account,
        owner=rep,
        first_name="Martín",
        last_name="Salgado",
        email="martin@papeleriaguadalupe.mx",
    )


@pytest.fixture
def ticket(support, account, contact):
    """A ticket of the rep's customer, opened by support through the service (with its SLA)."""
    return ticket_create(
        actor=support,
        account=account,
        contact=contact,
        subject="La impresora no enciende",
        category=Ticket.Category.WARRANTY,
        channel=Ticket.Channel.PHONE,
        priority="media",
    )


def detail(ticket) -> str:
    return reverse("api:ticket-detail", args=[ticket.pk])


def comments(ticket) -> str:
    return reverse("api:ticket-comments", args=[ticket.pk])


# The round trip -------------------------------------------------------------------------------


def test_a_phone_system_opens_a_ticket_and_support_works_it(
    support, account, contact, django_capture_on_commit_callbacks
):
    client = api(support)
    created = client.post(
        reverse("api:ticket-list"),
        {
            "account": account.pk,
            "contact": contact.pk,
            "subject": "  No llega el pedido 4411 ",
            "channel": "telefono",
            "priority": "alta",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    ticket = Ticket.objects.get(subject="No llega el pedido 4411")
    assert ticket.created_by == support and ticket.status == "nuevo"
    assert ticket.number.startswith("INC-") and ticket.resolution_due is not None
    assert StatusChange.objects.filter(ticket=ticket, to_status="nuevo").exists()
    body = created.json()
    assert created["Location"] == detail(ticket)
    assert body["number"] == ticket.number and body["category"] == "incidencia"
    assert (
        body["account_name"] == "Papelería Guadalupe" and body["contact_name"] == "Martín Salgado"
    )
    assert body["sla"]["state"] in ("ok", "soon", "breached")
    assert body["sla"]["resolution_due"] is not None

    read = client.get(detail(ticket))
    assert read.status_code == 200 and read.json()["status"] == "nuevo"
    etag = read["ETag"]
    assert etag == created["ETag"]

    # Assign, reprioritise and put on hold in one PATCH, through the three services.
    changed = client.patch(
        detail(ticket),
        {"assignee": support.pk, "priority": "urgente", "status": "en_espera", "note": "Llamará"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200, changed.json()
    assert changed["ETag"] != etag
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.priority, ticket.status) == (support, "urgente", "en_espera")
    assert ticket.paused_at is not None  # the SLA clock stopped while waiting
    assert changed.json()["sla"]["paused"] is True
    assert StatusChange.objects.filter(ticket=ticket, to_status="en_espera", note="Llamará")

    # A public reply: saved, emailed to the customer after the commit, the ticket reopens.
    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(
            comments(ticket), {"kind": "respuesta", "body": "Ya salió su pedido."}, format="json"
        )
    assert reply.status_code == 201, reply.json()
    assert reply.json()["kind"] == "respuesta" and reply.json()["author"] == support.pk
    assert len(mail.outbox) == 1 and mail.outbox[0].to[0].endswith("martin@papeleriaguadalupe.mx>")
    note = client.post(comments(ticket), {"kind": "nota", "body": "Revisar paquetería."})
    assert note.status_code == 201 and len(mail.outbox) == 1  # a note never leaves
    thread = client.get(comments(ticket)).json()
    assert [row["kind"] for row in thread] == ["respuesta", "nota"]
    assert thread[0]["emailed_at"] is not None

    # Resolve with its resolution, then close.
    etag = client.get(detail(ticket))["ETag"]
    resolved = client.patch(
        detail(ticket),
        {"status": "resuelto", "resolution": "Se reenvió el pedido."},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert resolved.status_code == 200, resolved.json()
    closed = client.patch(
        detail(ticket), {"status": "cerrado"}, format="json", HTTP_IF_MATCH=resolved["ETag"]
    )
    assert closed.status_code == 200, closed.json()
    ticket.refresh_from_db()
    assert ticket.status == "cerrado" and ticket.resolution == "Se reenvió el pedido."
    assert ticket.closed_at is not None


def test_an_etag_holds_while_the_ticket_does(support, ticket, monkeypatch):
    """Read now, write a minute later: the tag depends on the row, not on the clock."""
    import time

    from django.core import signing

    client = api(support)
    etag = client.get(detail(ticket))["ETag"]
    later = time.time() + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert client.get(detail(ticket))["ETag"] == etag
    changed = client.patch(detail(ticket), {"priority": "alta"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()


def test_a_stale_or_missing_if_match_writes_nothing(support, ticket):
    client = api(support)
    etag = client.get(detail(ticket))["ETag"]
    missing = client.patch(detail(ticket), {"priority": "alta"}, format="json")
    assert missing.status_code == 428 and missing["Content-Type"] == PROBLEM
    assert missing.json()["title"] == "Falta la versión del registro"
    # Someone else moves the ticket meanwhile (a reply on the page, another client…).
    ticket_transition(actor=support, ticket=ticket, to_status="abierto")
    stale = client.patch(
        detail(ticket),
        {"priority": "alta", "assignee": support.pk},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert stale.status_code == 412 and stale["Content-Type"] == PROBLEM
    assert stale.json()["title"] == "El registro cambió desde que lo leíste"
    ticket.refresh_from_db()
    assert ticket.priority == "media" and ticket.assignee is None
    # A comment does not change what the ETag covers: the version read after the move holds.
    etag = client.get(detail(ticket))["ETag"]
    CommentFactory(ticket=ticket, kind=Comment.Kind.NOTE)
    fine = client.patch(detail(ticket), {"priority": "alta"}, format="json", HTTP_IF_MATCH=etag)
    assert fine.status_code == 200


def test_a_refused_move_is_a_spanish_problem_and_nothing_is_written(support, ticket):
    client = api(support)
    etag = client.get(detail(ticket))["ETag"]
    # nuevo → cerrado is not a move of the status machine; the priority must not change either.
    refused = client.patch(
        detail(ticket),
        {"priority": "urgente", "status": "cerrado", "resolution": "Nada"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert refused.status_code == 400 and refused["Content-Type"] == PROBLEM
    problem = refused.json()
    assert problem["title"] == "Datos no válidos"
    assert problem["errors"]["status"] == ["Una incidencia «Nuevo» no puede pasar a «Cerrado»."]
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status, ticket.resolution) == ("media", "nuevo", "")
    assert ticket.status_changes.count() == 1

    no_resolution = client.patch(
        detail(ticket), {"status": "resuelto"}, format="json", HTTP_IF_MATCH=etag
    )
    assert no_resolution.status_code == 400
    assert no_resolution.json()["errors"]["resolution"] == [
        "Explica cómo se resolvió la incidencia."
    ]
    loose = client.patch(detail(ticket), {"resolution": "Hecho"}, format="json", HTTP_IF_MATCH=etag)
    assert loose.status_code == 400 and "resolution" in loose.json()["errors"]
    bad_choice = client.patch(
        detail(ticket), {"status": "perdido"}, format="json", HTTP_IF_MATCH=etag
    )
    assert bad_choice.status_code == 400 and "status" in bad_choice.json()["errors"]
    marketing_agent = UserFactory(role=Role.MARKETING)
    not_an_agent = client.patch(
        detail(ticket), {"assignee": marketing_agent.pk}, format="json", HTTP_IF_MATCH=etag
    )
    assert not_an_agent.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == "nuevo" and ticket.assignee is None and ticket.resolution == ""

    empty = client.post(comments(ticket), {"kind": "nota", "body": ""}, format="json")
    assert empty.status_code == 400 and "body" in empty.json()["errors"]
    assert not ticket.comments.exists()


def test_a_closed_ticket_takes_no_message(support, ticket):
    ticket_transition(actor=support, ticket=ticket, to_status="resuelto", resolution="Listo")
    ticket_transition(actor=support, ticket=ticket, to_status="cerrado")
    response = api(support).post(comments(ticket), {"kind": "nota", "body": "Hola"})
    assert response.status_code == 400
    assert "está cerrada" in response.json()["errors"]["non_field_errors"][0]
    assert not ticket.comments.exists()


def test_bad_input_on_create_names_the_field_in_spanish(rep, support, other_rep):
    theirs = AccountFactory(owner=other_rep)
    refused = api(rep).post(
        reverse("api:ticket-list"), {"account": theirs.pk, "subject": "Ayuda"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["account"] == [
        "Solo puedes abrir incidencias de los clientes de tu cartera."
    ]
    missing = api(support).post(reverse("api:ticket-list"), {"subject": "Ayuda"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"]["account"] == ["Este campo es requerido."]
    assert not Ticket.objects.exists()


# Who sees and does what -----------------------------------------------------------------------

# The pages' rules (support.permissions): rep and manager read the tickets of their (team's)
# accounts, support and administrators all; marketing none; only support and admins work them.
READ = {
    "rep": 200,
    "other_rep": 404,
    "manager": 200,
    "support": 200,
    "marketing": 403,
    "admin_user": 200,
}
WORK = {
    "rep": 403,
    "other_rep": 404,
    "manager": 403,
    "support": 200,
    "marketing": 403,
    "admin_user": 200,
}


@pytest.mark.parametrize("role", ROLES)
def test_the_access_matrix(request, role, ticket):
    user = request.getfixturevalue(role)
    client = api(user)
    listed = client.get(reverse("api:ticket-list"))
    read = client.get(detail(ticket))
    assert read.status_code == READ[role]
    assert client.get(comments(ticket)).status_code == READ[role]
    if READ[role] == 403:
        assert listed.status_code == 403 and listed.json()["title"] == "Sin permiso"
        assert listed.json()["detail"] == "Tu rol no tiene acceso a las incidencias."
    else:
        assert listed.status_code == 200
        ids = [row["id"] for row in listed.json()["results"]]
        assert ids == ([ticket.pk] if READ[role] == 200 else [])
    etag = read["ETag"] if read.status_code == 200 else '"x"'
    changed = client.patch(detail(ticket), {"priority": "alta"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == WORK[role]
    noted = client.post(comments(ticket), {"kind": "nota", "body": "Visto."}, format="json")
    assert noted.status_code == (201 if WORK[role] == 200 else WORK[role])
    ticket.refresh_from_db()
    assert (ticket.priority == "alta") == (WORK[role] == 200)
    assert ticket.comments.exists() == (WORK[role] == 200)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("rep", 201),
        ("manager", 201),
        ("support", 201),
        ("admin_user", 201),
        ("other_rep", 400),
        ("marketing", 403),
    ],
)
def test_who_opens_a_ticket_for_the_reps_customer(request, role, expected, account):
    user = request.getfixturevalue(role)
    response = api(user).post(
        reverse("api:ticket-list"),
        {"account": account.pk, "subject": "Factura duplicada", "category": "reclamacion"},
        format="json",
    )
    assert response.status_code == expected, response.json()
    assert Ticket.objects.filter(subject="Factura duplicada").exists() == (expected == 201)


def test_only_support_assigns_when_opening(rep, support, account):
    refused = api(rep).post(
        reverse("api:ticket-list"),
        {"account": account.pk, "subject": "Pedido", "assignee": support.pk},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["assignee"] == ["Solo el equipo de soporte asigna incidencias."]
    assert not Ticket.objects.exists()


def test_the_rep_reads_the_conversation_but_does_not_write(rep, support, ticket):
    CommentFactory(ticket=ticket, kind=Comment.Kind.NOTE, author=support, body="Interna")
    client = api(rep)
    assert [row["body"] for row in client.get(comments(ticket)).json()] == ["Interna"]
    refused = client.post(comments(ticket), {"kind": "respuesta", "body": "Hola"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Puedes leer la conversación, pero solo el equipo de soporte escribe en ella."
    )


def test_another_reps_or_an_unknown_id_is_404(rep, other_rep, support):
    theirs = TicketFactory(account=AccountFactory(owner=other_rep))
    client = api(rep)
    for url in (detail(theirs), comments(theirs)):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert client.get(reverse("api:ticket-detail", args=[999999])).status_code == 404


def test_scopes(support, ticket):
    read_only = api(support, scopes=["support:read"])
    assert read_only.get(reverse("api:ticket-list")).status_code == 200
    etag = read_only.get(detail(ticket))["ETag"]
    assert (
        read_only.patch(
            detail(ticket), {"priority": "alta"}, format="json", HTTP_IF_MATCH=etag
        ).status_code
        == 403
    )
    assert read_only.post(comments(ticket), {"kind": "nota", "body": "x"}).status_code == 403
    assert (
        read_only.post(
            reverse("api:ticket-list"),
            {"account": ticket.account_id, "subject": "Otra"},
            format="json",
        ).status_code
        == 403
    )
    elsewhere = api(support, scopes=["contacts:read", "accounts:write"])
    assert elsewhere.get(reverse("api:ticket-list")).status_code == 403
    assert elsewhere.get(detail(ticket)).status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority == "media" and not ticket.comments.exists()
    assert Ticket.objects.count() == 1


# Filters, pages and queries ------------------------------------------------------------------


def test_the_list_filters_like_the_queues(support, account, ticket):
    other = TicketFactory(account=account, subject="Cobro doble", priority="urgente")
    ticket_transition(actor=support, ticket=other, to_status="resuelto", resolution="Reembolso")
    client = api(support)
    url = reverse("api:ticket-list")
    open_ids = [row["id"] for row in client.get(url).json()["results"]]
    assert open_ids == [ticket.pk]  # the default queue: the open tickets
    every = [row["id"] for row in client.get(url, {"queue": "all"}).json()["results"]]
    assert set(every) == {ticket.pk, other.pk}
    resolved = client.get(url, {"status": "resuelto"}).json()["results"]
    assert [row["number"] for row in resolved] == [other.number]
    found = client.get(url, {"queue": "all", "q": "impresora"}).json()["results"]
    assert [row["id"] for row in found] == [ticket.pk]  # the text filter (number, subject…)
    assert client.get(url, {"queue": "unassigned"}).json()["results"][0]["id"] == ticket.pk
    sparse = client.get(url, {"fields": "id,number,sla"}).json()["results"][0]
    assert set(sparse) == {"id", "number", "sla"}
    assert client.get(url, {"ordering": "subject"}).status_code == 400


def _tickets(account, n: int) -> None:
    agent = UserFactory(role=Role.SOPORTE)
    for index in range(n):
        TicketFactory(
            account=account,
            contact=None if index % 3 else ContactFactory(account=account),
            assignee=agent if index % 2 else None,
            priority=["baja", "media", "alta", "urgente"][index % 4],
        )


@pytest.mark.parametrize("role", ["support", "rep"])
def test_the_list_costs_the_same_queries_for_5_or_60_tickets(
    request, role, account, django_assert_max_num_queries
):
    client = api(request.getfixturevalue(role))
    url = reverse("api:ticket-list")
    client.get(url)  # the key's last use is written once a minute, not measured here
    _tickets(account, 5)
    with django_assert_max_num_queries(8) as few:
        assert len(client.get(url, {"page_size": 50}).json()["results"]) == 5
    _tickets(account, 55)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url, {"page_size": 50}).json()
    assert len(page["results"]) == 50 and page["next"]


def test_a_long_thread_costs_the_same_queries(support, ticket, django_assert_max_num_queries):
    client = api(support)
    client.get(comments(ticket))
    CommentFactory.create_batch(3, ticket=ticket, author=support)
    with django_assert_max_num_queries(8) as few:
        assert len(client.get(comments(ticket)).json()) == 3
    CommentFactory.create_batch(40, ticket=ticket, author=UserFactory(role=Role.SOPORTE))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(comments(ticket)).json()) == 43
