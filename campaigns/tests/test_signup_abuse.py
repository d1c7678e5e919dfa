"""Abuse of the public sign-up form: forged and expired tokens, the honeypot, sizes, and the
rate limits per IP and per form (counted in the local-memory cache). None of them writes."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from campaigns.models import FormSubmission
from campaigns.tests.factories import SignupFormFactory
from campaigns.tests.test_signup_views import post_data, public_url
from contacts.models import Consent, Contact
from crm.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def form(rep, marketing):
    return SignupFormFactory(owner=rep, created_by=marketing, slug="ofertas")


def nothing_written() -> bool:
    return not (
        Contact.objects.exists() or FormSubmission.objects.exists() or Consent.objects.exists()
    )


@pytest.mark.parametrize(
    "token",
    ["", "inventado", "MQ:1tXyZ:firma-falsa", "x" * 180],
)
def test_a_forged_token_changes_nothing_and_answers_the_form(client, form, token, mailoutbox):
    response = client.post(public_url(form), post_data(form, token=token))
    assert response.status_code == 400
    html = response.content.decode()
    assert "El formulario caducó o no es válido" in html
    assert 'value="Lucía"' in html  # what they typed is kept for the second try
    assert nothing_written() and mailoutbox == []


def test_a_token_of_another_form_or_an_old_one_is_refused(client, form, settings):
    other = SignupFormFactory(slug="otro")
    assert client.post(public_url(form), post_data(other)).status_code == 400
    settings.SIGNUP_PAGE_TOKEN_MAX_AGE = -1
    assert client.post(public_url(form), post_data(form)).status_code == 400
    assert nothing_written()


def test_a_filled_honeypot_is_thanked_and_nothing_is_written(client, form, mailoutbox):
    response = client.post(public_url(form), post_data(form, sitio_web="http://spam.example"))
    assert response.status_code == 302
    assert response["Location"] == f"/f/{form.slug}/gracias/"
    assert nothing_written() and mailoutbox == []


def test_a_body_past_the_limit_is_refused_before_it_is_read(client, form):
    response = client.post(public_url(form), post_data(form, last_name="x" * 20_000))
    assert response.status_code == 413
    assert "Datos demasiado largos" in response.content.decode()
    assert nothing_written()


def test_a_value_past_its_fields_length_is_the_fields_error(client, form):
    response = client.post(public_url(form), post_data(form, city="x" * 101))
    assert response.status_code == 422
    assert "100 caracteres" in response.content.decode()
    assert nothing_written()


def test_a_thousand_posts_from_one_ip_are_throttled_after_the_limit(
    form, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    client = Client()
    statuses = []
    # The limit counts in fixed windows: frozen at a window's start, a slow run cannot cross
    # into the next one (which would let ten more through).
    start = datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            for number in range(1000):
                response = client.post(
                    public_url(form),
                    post_data(form, email=f"bot{number}@ejemplo.mx"),
                    REMOTE_ADDR="203.0.113.66",
                )
                statuses.append(response.status_code)
        assert statuses[:10] == [302] * 10
        assert set(statuses[10:]) == {429}
        assert FormSubmission.objects.count() == 10
        assert Contact.objects.count() == 10
        # Another visitor still gets through; the throttled page is Spanish with Retry-After.
        other = client.post(public_url(form), post_data(form), REMOTE_ADDR="198.51.100.1")
        assert other.status_code == 302
        refused = client.post(public_url(form), post_data(form), REMOTE_ADDR="203.0.113.66")
        assert "Demasiados envíos" in refused.content.decode()
        assert refused["Retry-After"] == "600"


def test_the_form_as_a_whole_is_throttled_too(client, form, settings):
    settings.SIGNUP_RATE_PER_FORM = 5
    statuses = [
        client.post(
            public_url(form),
            post_data(form, email=f"p{number}@ejemplo.mx"),
            REMOTE_ADDR=f"198.51.100.{number + 1}",
        ).status_code
        for number in range(8)
    ]
    assert statuses == [302] * 5 + [429] * 3
    # Another form has its own count.
    other = SignupFormFactory(slug="otro")
    assert (
        client.post(public_url(other), post_data(other), REMOTE_ADDR="192.0.2.1").status_code == 302
    )


def test_forged_posts_are_counted_by_the_limit_too(client, form):
    for _ in range(10):
        client.post(public_url(form), post_data(form, token="falso"), REMOTE_ADDR="203.0.113.9")
    response = client.post(public_url(form), post_data(form), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert nothing_written()


def test_script_in_the_values_is_stored_as_text_and_shown_escaped(
    client, client_for, marketing, form
):
    client.post(public_url(form), post_data(form, first_name="<script>alert(1)</script>"))
    contact = Contact.objects.get()
    assert contact.first_name == "<script>alert(1)</script>"
    html = client_for(marketing).get(f"/campanas/formularios/{form.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
