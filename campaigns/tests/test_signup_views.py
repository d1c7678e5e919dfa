"""Sign-up forms' pages: marketing's list, editor and results (per role), and the public form,
thank-you and confirmation pages."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaigns.models import FormSubmission, SignupForm
from campaigns.services import signup as services
from campaigns.tests.factories import SignupFormFactory, TopicFactory
from contacts.models import Consent, Contact, Lifecycle
from contacts.tests.factories import ContactFactory
from crm.celery import app

pytestmark = pytest.mark.django_db

ROLES = ["rep", "manager", "support", "marketing", "admin_user"]
MANAGE = {"marketing", "admin_user"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the rate limits count in the (local-memory) cache
    yield
    cache.clear()


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def form(rep, marketing):
    return SignupFormFactory(
        owner=rep, created_by=marketing, slug="ofertas", topic=TopicFactory(name="Ofertas")
    )


def public_url(form) -> str:
    return reverse("crm:signup-public", args=[form.slug])


def post_data(form, **changes) -> dict:
    data = {
        "token": services.form_token(form),
        "first_name": "Lucía",
        "last_name": "Fernández",
        "email": "lucia.fernandez@ejemplo.mx",
        "phone": "",
        "company": "",
        "city": "Puebla",
        "consentimiento": "on",
        "sitio_web": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- Marketing's pages ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_page_answers_marketing_and_administrators_only(request, client_for, form, role):
    client = client_for(request.getfixturevalue(role))
    for name, args in (
        ("campaigns:signup-list", []),
        ("campaigns:signup-create", []),
        ("campaigns:signup-detail", [form.pk]),
        ("campaigns:signup-edit", [form.pk]),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == (200 if role in MANAGE else 403), (name, role)
    before = SignupForm.objects.count()
    response = client.post(reverse("campaigns:signup-create"), {"name": "X"})
    if role not in MANAGE:
        assert response.status_code == 403
        assert SignupForm.objects.count() == before


def test_the_list_shows_the_counts_in_constant_queries(
    client_for, marketing, rep, django_assert_max_num_queries
):
    forms = [SignupFormFactory(owner=rep, created_by=marketing) for _ in range(30)]
    contact = ContactFactory(owner=rep)
    rows = []
    for index, signup_form in enumerate(forms):
        for number in range(3):
            confirmed = number < index % 3
            rows.append(
                FormSubmission(
                    form=signup_form,
                    contact=contact,
                    email=contact.email,
                    consent_version="v1",
                    status="confirmada" if confirmed else "pendiente",
                    confirmed_at=contact.created_at if confirmed else None,
                )
            )
    FormSubmission.objects.bulk_create(rows)
    client = client_for(marketing)
    client.get(reverse("campaigns:signup-list"))  # the session and the user, warmed
    with django_assert_max_num_queries(8):
        response = client.get(reverse("campaigns:signup-list"))
    assert response.status_code == 200
    first = sorted(forms, key=lambda f: (f.name, f.pk))[0]
    row = re.search(
        rf'href="/campanas/formularios/{first.pk}/".*?</tr>', response.content.decode(), re.S
    ).group(0)
    expected = first.submissions.filter(status="confirmada").count()
    assert re.findall(r">(\d+)</td>", row) == ["3", str(expected)]


def test_marketing_creates_a_form_from_the_editor(client_for, marketing, rep):
    response = client_for(marketing).post(
        reverse("campaigns:signup-create"),
        {
            "name": "Ofertas de primavera",
            "slug": "primavera",
            "title": "Ofertas de primavera",
            "intro": "",
            "active": "on",
            "use_first_name": "obligatorio",
            "label_first_name": "¿Cómo te llamas?",
            "use_email": "obligatorio",
            "use_phone": "opcional",
            "consent_text": "Acepto recibir ofertas.",
            "consent_version": "primavera-1",
            "double_opt_in": "on",
            "thank_you": "Gracias",
            "owner": rep.pk,
        },
    )
    form = SignupForm.objects.get(slug="primavera")
    assert response.status_code == 302 and response["Location"] == form.get_absolute_url()
    assert form.fields == [
        {"name": "first_name", "required": True, "label": "¿Cómo te llamas?"},
        {"name": "email", "required": True, "label": ""},
        {"name": "phone", "required": False, "label": ""},
    ]
    assert form.created_by == marketing and form.double_opt_in


def test_the_editor_shows_a_taken_address_in_spanish(client_for, marketing, rep, form):
    response = client_for(marketing).post(
        reverse("campaigns:signup-create"),
        {
            "name": "Otro",
            "slug": form.slug,
            "title": "Otro",
            "use_email": "obligatorio",
            "consent_text": "Acepto.",
            "consent_version": "v1",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 422
    assert "Ya existe un formulario con esa dirección" in response.content.decode()
    assert SignupForm.objects.count() == 1


def test_the_edit_page_keeps_the_fields_chosen(client_for, marketing, form):
    response = client_for(marketing).get(reverse("campaigns:signup-edit", args=[form.pk]))
    html = response.content.decode()
    assert 'value="Tu nombre"' in html
    assert re.search(r'<option value="obligatorio" selected>', html)


def test_the_detail_shows_results_the_public_url_and_a_plain_snippet(
    client_for, marketing, form, rep
):
    for lifecycle in (Lifecycle.SUBSCRIBER, Lifecycle.MQL, Lifecycle.SQL, Lifecycle.CUSTOMER):
        contact = ContactFactory(owner=rep, lifecycle=lifecycle)
        FormSubmission.objects.create(
            form=form, contact=contact, email=contact.email, consent_version="v1"
        )
    response = client_for(marketing).get(reverse("campaigns:signup-detail", args=[form.pk]))
    assert response.status_code == 200
    results = response.context["results"]
    assert (results.submissions, results.contacts, results.mql, results.sql) == (4, 4, 3, 2)
    assert results.customers == 1
    html = response.content.decode()
    assert "http://testserver/f/ofertas/" in html or "/f/ofertas/" in html
    snippet = response.context["snippet"]
    assert snippet.startswith('<form method="post" action="') and "/f/ofertas/" in snippet
    assert "<script" not in snippet
    assert 'name="sitio_web"' in snippet and 'name="consentimiento"' in snippet
    token = re.search(r'name="token" value="([^"]+)"', snippet).group(1)
    assert services.form_token_valid(form, token)
    # In the page the snippet is text to copy, not a form.
    assert "&lt;form method=&quot;post&quot;" in html


def test_the_submissions_table_pages_by_htmx(client_for, marketing, form, rep, settings):
    settings.PAGE_SIZE = 2
    contact = ContactFactory(owner=rep)
    for _ in range(3):
        FormSubmission.objects.create(
            form=form, contact=contact, email=contact.email, consent_version="v1"
        )
    url = reverse("campaigns:signup-detail", args=[form.pk])
    response = client_for(marketing).get(url, {"page": 2}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="submission-table"' in html and "<html" not in html
    assert html.count("<tr>") == 2  # the header and one row


def test_the_navigation_links_to_the_forms(client_for, marketing, rep):
    assert reverse("campaigns:signup-list") in client_for(marketing).get("/").content.decode()
    assert reverse("campaigns:signup-list") not in client_for(rep).get("/").content.decode()


# --- The public side --------------------------------------------------------------------------


def test_the_public_form_is_spanish_without_login_and_carries_its_token(client, form):
    response = client.get(
        public_url(form) + "?utm_source=facebook&utm_campaign=primavera",
        HTTP_ACCEPT_LANGUAGE="en",
        HTTP_REFERER="https://www.facebook.com/",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Suscribirme" in html and form.consent_text in html and "Tu nombre" in html
    assert 'name="viewport"' in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    assert services.form_token_valid(form, token)
    assert 'name="utm_source" value="facebook"' in html
    assert 'value="https://www.facebook.com/"' in html
    assert response["X-Robots-Tag"] == "noindex"


def test_a_submission_creates_the_contact_and_asks_to_confirm(
    client, form, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            public_url(form),
            post_data(form, utm_source="facebook", origen="https://www.facebook.com/"),
            REMOTE_ADDR="203.0.113.7",
            HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:signup-thanks", args=[form.slug]) + "?confirmar=1"
    submission = FormSubmission.objects.get()
    assert submission.contact.email == "lucia.fernandez@ejemplo.mx"
    assert (submission.utm_source, submission.referrer) == ("facebook", "https://www.facebook.com/")
    assert (submission.ip_address, submission.user_agent) == ("203.0.113.7", "Mozilla/5.0 (iPhone)")
    assert len(mailoutbox) == 1
    thanks = client.get(response["Location"])
    assert "¡Gracias por suscribirte!" in thanks.content.decode()
    assert "abre el enlace" in thanks.content.decode()


def test_the_snippet_posts_from_the_website_without_a_cookie(
    form, eager, django_capture_on_commit_callbacks, client_for, marketing
):
    from django.test import Client

    detail = client_for(marketing).get(reverse("campaigns:signup-detail", args=[form.pk]))
    token = re.search(r'name="token" value="([^"]+)"', detail.context["snippet"]).group(1)
    website = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = website.post(
            public_url(form),
            post_data(form, token=token),
            HTTP_REFERER="https://www.ejemplo.com.mx/contacto?utm_source=sitio&utm_medium=web",
        )
    assert response.status_code == 302
    submission = FormSubmission.objects.get()
    assert (submission.utm_source, submission.utm_medium) == ("sitio", "web")
    assert submission.referrer.startswith("https://www.ejemplo.com.mx/contacto")


def test_bad_input_answers_the_form_in_spanish_and_writes_nothing(client, form):
    response = client.post(
        public_url(form),
        post_data(form, email="no-es-un-correo", first_name="", consentimiento=None),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Introduzca una dirección de correo electrónico válida" in html
    assert "Este campo es requerido" in html
    assert "Marca la casilla para aceptar" in html
    assert 'aria-invalid="true"' in html
    assert not Contact.objects.exists() and not FormSubmission.objects.exists()


def test_a_bad_phone_is_the_fields_error(client, form):
    response = client.post(public_url(form), post_data(form, phone="12"))
    assert response.status_code == 422
    assert "no es un número de teléfono" in response.content.decode()
    assert not Contact.objects.exists()


def test_an_inactive_or_unknown_form_answers_404_in_spanish(client, form):
    form.active = False
    form.save()
    for url in (public_url(form), reverse("crm:signup-public", args=["no-existe"])):
        response = client.get(url)
        assert response.status_code == 404
        assert "Formulario no disponible" in response.content.decode()
    assert client.post(public_url(form), post_data(form)).status_code == 404
    assert not Contact.objects.exists()


def test_the_confirmation_link_asks_then_records_once(
    client, form, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(public_url(form), post_data(form))
    url = re.search(r"https?://[^/]+(/f/confirmar/\S+/)", mailoutbox[0].body).group(1)
    page = client.get(url)
    assert page.status_code == 200
    assert "Confirmar mi suscripción" in page.content.decode()
    assert not Consent.objects.exists()  # a scanner following the link confirms nothing
    assert page["Referrer-Policy"] == "no-referrer"
    done = client.post(url, REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Android")
    assert done.status_code == 200
    assert "¡Suscripción confirmada!" in done.content.decode()
    assert client.post(url).status_code == 200
    entries = Consent.objects.all()
    assert entries.count() == 2
    assert {e.ip_address for e in entries} == {"198.51.100.9"}
    assert FormSubmission.objects.get().status == FormSubmission.Status.CONFIRMED


def test_a_forged_confirmation_link_changes_nothing(client, form):
    for method in (client.get, client.post):
        response = method(reverse("crm:signup-confirm", args=["falso:firma"]))
        assert response.status_code == 400
        assert "Este enlace no es válido" in response.content.decode()
    assert not Consent.objects.exists()
