"""Every URL of support and of ¿Quién llama?, for every role (DESIGN.md §1, issue #4).

Support works every ticket; a rep reads the tickets of the accounts they own (and opens one for
them), their manager those of the team; another team's rep sees none of them; marketing reads no
ticket but runs NPS rounds. A ticket someone may not see answers 404. The matrix below must name
every URL of `support.urls`: a new URL without its row fails `test_the_matrix_covers_every_url`.
"""

import pytest
from django.urls import reverse

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from support.models import Attachment, SurveyRound
from support.services.surveys import survey_token
from support.tests.factories import CommentFactory, SurveyFactory, TicketFactory
from support.urls import urlpatterns as support_urls

ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]

OK, DENIED, HIDDEN = 200, 403, 404
ALL = dict.fromkeys(ROLES, OK)
READERS = {**ALL, "marketing": DENIED}  # the ticket section: not marketing
# One ticket at the rep's account: the rep and their manager read it, the other rep never.
TICKET = {**READERS, "other_rep": HIDDEN, "marketing": HIDDEN}
WORKERS = {"support": OK, "admin_user": OK}
DASHBOARD = {**dict.fromkeys(ROLES, DENIED), **WORKERS}
NPS = {**DASHBOARD, "marketing": OK}
# Workflow pages: a role that never works tickets is refused whatever the ticket.
WORKFLOW = DASHBOARD

# name: (args of the URL from the records, the GET status per role)
MATRIX = {
    "ticket-list": (None, READERS),
    "ticket-list-count": (None, READERS),
    # Everyone who reads tickets but marketing exports them (a rep: their own customers').
    "ticket-export": (None, READERS),
    "ticket-queue-counts": (None, READERS),
    "ticket-create": (None, READERS),
    "ticket-account-picker": (None, READERS),
    "ticket-contact-options": (None, READERS),
    "ticket-detail": ("ticket", TICKET),
    "ticket-comments": ("ticket", TICKET),
    # On a sheet everyone reads, each sees the tickets they may (the other rep: none of them).
    "account-tickets-panel": ("account", {**READERS, "other_rep": OK}),
    "contact-tickets-panel": ("contact", {**READERS, "other_rep": OK}),
    "attachment-download": ("attachment", TICKET),
    "contact-satisfaction-panel": ("contact", ALL),
    "dashboard": (None, DASHBOARD),
    "nps-round-list": (None, NPS),
    "nps-round-create": (None, NPS),
    "nps-round-preview": (None, NPS),
    "nps-round-detail": ("round", NPS),
    "nps-round-count": ("round", NPS),
    "ticket-edit": ("ticket", WORKFLOW),
    "ticket-transition": ("ticket", WORKFLOW),  # asked with ?to=resuelto (the dialog's page)
    "canned-response": ("ticket", {**WORKFLOW, "other_rep": HIDDEN, "marketing": HIDDEN}),
    # POST only.
    "ticket-assign": ("ticket", None),
    "ticket-bulk-assign": (None, None),
    # Public: the customer answers without logging in (its own tests cover tokens).
    "survey-answer": ("token", None),
}


@pytest.fixture
def records(rep, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    account = AccountFactory(owner=rep, name="Ferretería La Tuerca")
    contact = ContactFactory(owner=rep, account=account)
    ticket = TicketFactory(account=account, contact=contact)
    comment = CommentFactory(ticket=ticket)
    attachment = Attachment.objects.create(
        ticket=ticket,
        comment=comment,
        file="tickets/1/nota.txt",
        filename="nota.txt",
        content_type="text/plain",
        size=4,
        uploaded_by=comment.author,
    )
    (tmp_path / "tickets" / "1").mkdir(parents=True)
    (tmp_path / "tickets" / "1" / "nota.txt").write_text("hola")
    survey = SurveyFactory(ticket=ticket)
    survey_round = SurveyRound.objects.create(name="NPS 2026", created_by=comment.author)
    return {
        "ticket": ticket.pk,
        "account": account.pk,
        "contact": contact.pk,
        "attachment": attachment.pk,
        "round": survey_round.pk,
        "token": survey_token(survey=survey, score=5),
    }


def test_the_matrix_covers_every_url():
    assert {pattern.name for pattern in support_urls} == set(MATRIX)


@pytest.mark.parametrize("role", ROLES)
def test_every_support_url_for_every_role(request, client_for, records, role):
    client = client_for(request.getfixturevalue(role))
    for name, (arg, expected) in MATRIX.items():
        if expected is None:
            continue
        url = reverse(f"support:{name}", args=[records[arg]] if arg else [])
        query = {"to": "resuelto"} if name == "ticket-transition" else {}
        assert client.get(url, query).status_code == expected[role], (name, role)


@pytest.mark.parametrize("role", ROLES)
def test_caller_lookup_for_every_role(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    status = client.get(reverse("crm:caller"), {"q": "5512345678"}).status_code
    assert status == (DENIED if role == "marketing" else OK)


def test_nobody_outside_support_changes_a_ticket(client_for, rep, manager, marketing, records):
    ticket = records["ticket"]
    for user in (rep, manager, marketing):
        client = client_for(user)
        for name, data in (
            ("ticket-assign", {"assignee": user.pk}),
            ("ticket-transition", {"to_status": "abierto"}),
            ("ticket-comments", {"kind": "nota", "body": "No debería quedar"}),
        ):
            response = client.post(reverse(f"support:{name}", args=[ticket]), data)
            assert response.status_code in (DENIED, HIDDEN), (name, user.role)
    from support.models import Comment, Ticket

    assert Ticket.objects.get(pk=ticket).status == "nuevo"
    assert not Comment.objects.filter(body="No debería quedar").exists()
