"""What a person sees when the database cannot be reached for a moment (a restart, a failover):
503 "volvemos enseguida" with Retry-After, never the 500 page; other errors keep the 500 page."""

import pytest
from django.db import OperationalError
from django.urls import reverse

from contacts import selectors as contact_selectors


def _database_gone(**kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def _bug(**kwargs):
    raise ZeroDivisionError("a bug")


@pytest.mark.django_db
def test_a_database_that_cannot_be_reached_answers_503_with_retry_after(
    client_for, rep, monkeypatch
):
    client = client_for(rep)
    client.raise_request_exception = False
    monkeypatch.setattr(contact_selectors, "contact_filtered", _database_gone)
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    html = response.content.decode()
    assert "Volvemos enseguida" in html
    assert "No se ha perdido nada de lo que ya guardaste." in html
    assert "se recargará sola en 10 segundos" in html


@pytest.mark.django_db
def test_any_other_error_is_still_the_500_page(client_for, rep, monkeypatch):
    client = client_for(rep)
    client.raise_request_exception = False
    monkeypatch.setattr(contact_selectors, "contact_filtered", _bug)
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 500
    assert "Algo salió mal" in response.content.decode()
    assert not response.has_header("Retry-After")


def test_persistent_connections_are_checked_before_each_request(settings):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
