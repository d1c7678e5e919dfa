"""The email of a public reply: sent once however often its task runs, never for a note or a
customer message, and requeued when a lost task left it pending."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from support.models import Comment
from support.services.comments import comment_reply
from support.tasks.comments import comment_replies_requeue, comment_reply_send
from support.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager(monkeypatch, settings, tmp_path):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ticket(rep):
    account = AccountFactory(owner=rep, name="Abarrotes La Esperanza")
    contact = ContactFactory(
        account=account, owner=rep, first_name="Rosa", last_name="Ibarra", email="rosa@esperanza.mx"
    )
    return TicketFactory(account=account, contact=contact, subject="Factura con RFC equivocado")


def _aged(comment: Comment, minutes: int) -> Comment:
    Comment.objects.filter(pk=comment.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )
    return comment


def test_running_the_task_twice_sends_once(support, ticket):
    reply = CommentFactory(ticket=ticket, author=support, body="Corregimos la factura hoy.")
    assert comment_reply_send.delay(reply.pk).get() is True
    assert comment_reply_send.delay(reply.pk).get() is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[{ticket.number}] Factura con RFC equivocado"
    reply.refresh_from_db()
    assert reply.emailed_at is not None


def test_a_reply_saved_and_sent_through_the_service_is_not_sent_again(
    support, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = comment_reply(actor=support, ticket=ticket, body="Ya está corregida.")
    assert len(mail.outbox) == 1
    comment_reply_send(reply.pk)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("kind", [Comment.Kind.NOTE, Comment.Kind.CUSTOMER])
def test_the_task_never_sends_a_note_or_a_customer_message(support, ticket, kind):
    comment = CommentFactory(ticket=ticket, author=support, kind=kind, body="Solo interno.")
    assert comment_reply_send(comment.pk) is False
    assert mail.outbox == []
    comment.refresh_from_db()
    assert comment.emailed_at is None


def test_a_deleted_comment_is_nothing_to_send(support, ticket):
    reply = CommentFactory(ticket=ticket, author=support)
    pk = reply.pk
    reply.delete()
    assert comment_reply_send(pk) is False
    assert mail.outbox == []


def test_the_requeue_sends_what_a_lost_task_left_pending_once(support, ticket):
    lost = _aged(CommentFactory(ticket=ticket, author=support, body="Perdida."), minutes=30)
    fresh = CommentFactory(ticket=ticket, author=support, body="Su tarea aún está en cola.")
    too_old = _aged(CommentFactory(ticket=ticket, author=support, body="Antigua."), 3 * 24 * 60)
    note = _aged(CommentFactory(ticket=ticket, author=support, kind=Comment.Kind.NOTE), minutes=30)
    no_email = TicketFactory(contact__email="")
    orphan = _aged(CommentFactory(ticket=no_email, author=support), minutes=30)

    assert comment_replies_requeue() == 1
    assert comment_replies_requeue() == 0
    assert [m.body.split("\n")[0] for m in mail.outbox] == ["Perdida."]
    for comment, sent in [(lost, True), (fresh, False), (too_old, False), (note, False)]:
        comment.refresh_from_db()
        assert (comment.emailed_at is not None) is sent
    orphan.refresh_from_db()
    assert orphan.emailed_at is None


def test_the_email_signs_with_the_agent_and_the_company(settings, ticket):
    settings.COMPANY = {
        **settings.COMPANY,
        "name": "Distribuidora del Bajío",
        "phone": "477 123 4567",
    }
    agent = ticket.created_by
    agent.first_name, agent.last_name = "Lucía", "Hernández"
    agent.save()
    reply = CommentFactory(ticket=ticket, author=agent, body="Hola Rosa:\nYa está corregida.")
    comment_reply_send(reply.pk)
    (message,) = mail.outbox
    assert message.from_email.startswith('"Distribuidora del Bajío" <')
    assert "Hola Rosa:\nYa está corregida." in message.body
    assert "Lucía Hernández" in message.body
    assert "Atención al cliente · Distribuidora del Bajío" in message.body
    assert "477 123 4567" in message.body
    assert f"Su incidencia: {ticket.number}." in message.body
    assert message.extra_headers["Message-ID"].startswith(f"<{ticket.number.lower()}.{reply.pk}@")
    html = message.alternatives[0][0]
    assert "Hola Rosa:<br>Ya está corregida." in html


def test_the_html_email_escapes_what_the_agent_typed(ticket, support):
    reply = CommentFactory(ticket=ticket, author=support, body="Use <b>este</b> enlace & listo")
    comment_reply_send(reply.pk)
    html = mail.outbox[0].alternatives[0][0]
    assert "&lt;b&gt;este&lt;/b&gt; enlace &amp; listo" in html
    assert "Use <b>este</b> enlace & listo" in mail.outbox[0].body
