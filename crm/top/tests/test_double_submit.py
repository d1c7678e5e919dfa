"""A form sent twice is saved once (issue 13 §2, crm.core.submit_once): a double tap on a phone,
a resent request, the back button. One record, one activity, one email."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from accounts.tests.test_views import VALID as ACCOUNT
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from crm.core.models import SubmittedForm
from crm.core.submit_once import new_token, submitted_forms_clear
from crm.core.tests.pages import form_values
from opportunities.models import Activity, Opportunity, Stage
from support.models import Comment, Ticket
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def post_twice(client, url: str, data: dict, **extra):
    """The same form, with the same token, sent twice; both answers."""
    data = {**data, "_once": new_token()}
    return client.post(url, data, **extra), client.post(url, data, **extra)


def contact_data(account) -> dict:
    return {
        "first_name": "María José",
        "last_name": "Pérez Gómez",
        "email": "mj.perez@ejemplo.mx",
        "mobile": "55 1234 5678",
        "account": account.pk,
        "lifecycle": "lead",
        "lead_source": "web",
        "lead_score": 30,
        "country": "MX",
    }


def test_an_account_sent_twice_is_created_once_and_both_answers_lead_to_it(rep, client_for):
    client = client_for(rep)
    first, second = post_twice(client, reverse("accounts:account-create"), ACCOUNT)
    account = Account.objects.get()
    assert first.status_code == 302 and first.url == account.get_absolute_url()
    assert second.status_code == 303 and second.url == account.get_absolute_url()
    page = client.get(second.url).text
    assert "Este formulario ya se había enviado: no se ha guardado dos veces." in page


def test_a_contact_sent_twice_is_created_once(rep, client_for):
    account = AccountFactory(owner=rep)
    first, second = post_twice(
        client_for(rep), reverse("contacts:contact-create"), contact_data(account)
    )
    assert Contact.objects.count() == 1
    assert first.status_code == 302 and second.status_code == 303
    assert second.url == first.url


def test_an_opportunity_sent_twice_is_created_once(rep, client_for):
    account = AccountFactory(owner=rep)
    data = {
        "name": "Ampliación de bodega",
        "account": account.pk,
        "stage": Stage.objects.get(name="Calificación").pk,
        "amount": "150000",
        "currency": "MXN",
        "expected_close_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "forecast_category": "pipeline",
        "lead_source": "web",
    }
    first, second = post_twice(client_for(rep), reverse("opportunities:opportunity-create"), data)
    assert first.status_code == 302, first.content.decode()[:2000]
    assert Opportunity.objects.filter(name="Ampliación de bodega").count() == 1
    assert second.status_code == 303 and second.url == first.url


def test_an_activity_logged_twice_by_htmx_is_logged_once_and_the_second_swaps_nothing(
    rep, client_for
):
    contact = ContactFactory(owner=rep)
    data = {
        "kind": "visita",
        "when": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "outcome": "Pidió muestras",
        "notes": "",
        "next_kind": "",
        "next_at": "",
    }
    url = f"{reverse('opportunities:activity-log')}?contact={contact.pk}"
    first, second = post_twice(client_for(rep), url, data, **HTMX)
    assert first.status_code == 200 and "Pidió muestras" in first.content.decode()
    assert second.status_code == 204 and second["HX-Reswap"] == "none"
    assert Activity.objects.filter(outcome="Pidió muestras").count() == 1


def test_a_reply_sent_twice_emails_the_customer_once(
    rep, support, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    from crm.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    contact = ContactFactory(owner=rep, email="martin@papeleriaguadalupe.mx")
    ticket = TicketFactory(account=contact.account, contact=contact, subject="No enciende")
    url = reverse("support:ticket-comments", args=[ticket.pk])
    data = {"kind": "respuesta", "body": "Martín, le cambiamos la impresora esta semana."}
    with django_capture_on_commit_callbacks(execute=True):
        first, second = post_twice(client_for(support), url, data, **HTMX)
    assert first.status_code == 200 and second.status_code == 204
    assert ticket.comments.filter(kind=Comment.Kind.REPLY).count() == 1
    assert len(mail.outbox) == 1


def test_a_ticket_sent_twice_is_opened_once(rep, support, client_for):
    contact = ContactFactory(owner=rep)
    client = client_for(support)
    data = form_values(client.get(reverse("support:ticket-create")).text)
    data.update(
        account=contact.account_id,
        contact=contact.pk,
        subject="El lector de códigos no lee",
        description="Desde ayer no lee ninguna etiqueta.",
    )
    first, second = post_twice(client, reverse("support:ticket-create"), data)
    assert first.status_code == 302, first.content.decode()[:3000]
    assert Ticket.objects.filter(subject="El lector de códigos no lee").count() == 1
    assert second.status_code == 303 and second.url == first.url


def test_a_form_with_errors_keeps_its_token_usable_for_the_corrected_form(rep, client_for):
    client = client_for(rep)
    token = new_token()
    url = reverse("accounts:account-create")
    refused = client.post(url, {**ACCOUNT, "tax_id": "GODE561231GR9", "_once": token})
    assert refused.status_code == 422 and not SubmittedForm.objects.exists()
    saved = client.post(url, {**ACCOUNT, "_once": token})
    assert saved.status_code == 302 and Account.objects.count() == 1


def test_different_tokens_are_different_forms(rep, client_for):
    client = client_for(rep)
    url = reverse("accounts:account-create")
    client.post(url, {**ACCOUNT, "_once": new_token()})
    second = client.post(
        url,
        {
            **ACCOUNT,
            "name": "Ferretería El Águila",
            "tax_id": "",
            "phone": "81 8765 4321",
            "email": "ventas@elaguila.mx",
            "_once": new_token(),
        },
    )
    assert second.status_code == 302 and Account.objects.count() == 2


def test_another_users_token_is_refused_and_writes_nothing(rep, manager, client_for):
    data = {**ACCOUNT, "_once": new_token()}
    client_for(rep).post(reverse("accounts:account-create"), data)
    response = client_for(manager).post(
        reverse("accounts:account-create"), {**data, "name": "Otra"}
    )
    assert response.status_code == 400 and Account.objects.count() == 1


def test_a_failing_view_rolls_back_with_its_token(rep, client_for, monkeypatch):
    from accounts import services

    def half_way(*, actor, data, **kwargs):
        AccountFactory(name="Escrita a medias", owner=actor)
        raise RuntimeError("falla a medias")

    monkeypatch.setattr(services, "account_create", half_way)
    client = client_for(rep)
    client.raise_request_exception = False
    response = client.post(reverse("accounts:account-create"), {**ACCOUNT, "_once": new_token()})
    assert response.status_code == 500
    assert not Account.objects.exists() and not SubmittedForm.objects.exists()


def test_tokens_are_forgotten_after_a_day(rep):
    SubmittedForm.objects.create(token=new_token(), user=rep, path="/a/")
    old = SubmittedForm.objects.create(token=new_token(), user=rep, path="/b/")
    SubmittedForm.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    assert submitted_forms_clear() == 1
    assert list(SubmittedForm.objects.values_list("path", flat=True)) == ["/a/"]


def test_the_pages_forms_carry_a_token(rep, client_for):
    html = client_for(rep).get(reverse("accounts:account-create")).text
    form = re.search(r'<form method="post".*?</form>', html, re.S).group(0)
    assert re.search(r'<input type="hidden" name="_once" value="[0-9a-f]{32}">', form)


# Forms that post without a signed-in user: the middleware does not guard them, and they are
# idempotent by their own keys (a login; an unsubscribe or a survey answer by its link's token).
PUBLIC_FORMS = {
    "templates/registration/login.html",
    "templates/registration/login_code.html",
    "campaigns/templates/campaigns/public/preferences.html",
    "support/templates/support/surveys/answer.html",
}


def test_every_post_form_of_a_signed_in_page_carries_a_token():
    root = Path(settings.BASE_DIR)
    missing = []
    for path in root.glob("**/templates/**/*.html"):
        relative = str(path.relative_to(root))
        if relative.startswith(".venv") or relative in PUBLIC_FORMS:
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "{% csrf_token %}" in line:
                following = lines[number + 1] if number + 1 < len(lines) else ""
                if "{% submit_once %}" not in line + following:
                    missing.append(f"{relative}:{number + 1}")
    assert not missing, missing
