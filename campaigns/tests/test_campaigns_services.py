"""The campaign editor's rules: content checked before saving, sanitised, the text part, the
stored links, what may change when, topics, and the test send."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from campaigns import content
from campaigns.models import Campaign, CampaignLink
from campaigns.services import campaigns as services
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    TopicFactory,
    TrackingEventFactory,
)
from contacts.models import Topic
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

BODY = (
    '<h1>Hola {{ nombre|default:"cliente" }}</h1>'
    '<p>Mira <a href="https://ejemplo.com.mx/ofertas">las ofertas</a> y '
    '<a href="https://ejemplo.com.mx/eventos">los eventos</a>.</p>'
)


@pytest.fixture(autouse=True)
def _campaign_mail(settings):
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CAMPAIGN_SENDERS = ["boletin@ejemplo.com.mx", "ofertas@ejemplo.com.mx"]
    settings.CAMPAIGN_FROM_EMAIL = "boletin@ejemplo.com.mx"


def _data(**overrides) -> dict:
    data = {
        "name": "Ofertas de invierno",
        "topic": TopicFactory(name="Ofertas"),
        "segment": SegmentFactory(),
        "subject": "Hola {{ nombre|default:'cliente' }}, ofertas",
        "subject_b": "",
        "ab_sample_pct": 20,
        "ab_metric": Campaign.AbMetric.OPENS,
        "ab_wait_hours": 4,
        "preheader": "Solo esta semana",
        "from_name": "Mi Empresa",
        "from_email": "boletin@ejemplo.com.mx",
        "reply_to": "ventas@ejemplo.com.mx",
        "html_body": BODY,
        "text_body": "",
        "cost": Decimal("1500.00"),
        "currency": "mxn",
        "conversion_window_days": 30,
        "rate_per_minute": 0,
    }
    data.update(overrides)
    return data


def test_create_sanitises_generates_text_and_stores_links(marketing):
    campaign = services.campaign_create(
        actor=marketing,
        data=_data(html_body=BODY + '<script>alert(1)</script><p onclick="x()">Hasta pronto</p>'),
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.created_by == marketing
    assert "<script" not in campaign.html_body and "onclick" not in campaign.html_body
    assert "Hasta pronto" in campaign.html_body
    assert campaign.text_body == content.html_to_text(campaign.html_body)
    assert "https://ejemplo.com.mx/ofertas" in campaign.text_body
    assert not campaign.text_body_edited
    assert campaign.currency == "MXN"
    assert sorted(campaign.links.values_list("url", flat=True)) == [
        "https://ejemplo.com.mx/eventos",
        "https://ejemplo.com.mx/ofertas",
    ]
    event = AuditEvent.objects.get(target=f"campaigns.campaign:{campaign.pk}")
    assert event.action == services.AUDIT_CREATE
    assert event.actor == marketing


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("subject", "Hola {{ nombre.upper }}", "no existe"),
        ("subject", "Hola {% if x %}tú{% endif %}", "etiquetas"),
        ("html_body", "<p>Hola {{ nombre </p>", "no está cerrado"),
        ("html_body", "<p>Hola {{ telefono }}</p>", "no existe"),
        ("html_body", '<a href="https://x.mx/{{ correo }}">x</a>', "enlaces"),
        ("html_body", "", "vacío"),
        ("preheader", "{{ ciudad|date }}", ""),
        ("from_email", "otro@spam.example", "no está autorizado"),
    ],
)
def test_broken_content_is_a_spanish_error_and_nothing_is_saved(marketing, field, value, fragment):
    with pytest.raises(ValidationError) as exc:
        services.campaign_create(actor=marketing, data=_data(**{field: value}))
    assert field in exc.value.error_dict
    assert fragment in " ".join(exc.value.message_dict[field])
    assert not Campaign.objects.exists()
    assert not CampaignLink.objects.exists()
    assert not AuditEvent.objects.exists()


def test_ab_subject_b_must_differ(marketing):
    with pytest.raises(ValidationError) as exc:
        services.campaign_create(
            actor=marketing, data=_data(subject="Igual", subject_b="Igual", ab_sample_pct=20)
        )
    assert "subject_b" in exc.value.error_dict


def test_ab_sample_out_of_range(marketing):
    with pytest.raises(ValidationError) as exc:
        services.campaign_create(actor=marketing, data=_data(subject_b="Otro", ab_sample_pct=80))
    assert "ab_sample_pct" in exc.value.error_dict
    assert not Campaign.objects.exists()


def test_text_follows_the_html_until_edited(marketing):
    campaign = services.campaign_create(actor=marketing, data=_data())
    generated = campaign.text_body
    # Sent back unchanged with a new body: regenerated from the new body.
    campaign = services.campaign_update(
        actor=marketing,
        campaign=campaign,
        data={"html_body": "<p>Nuevo texto</p>", "text_body": generated},
    )
    assert campaign.text_body == "Nuevo texto"
    assert not campaign.text_body_edited
    # Edited by a person: kept, also when the HTML changes afterwards.
    campaign = services.campaign_update(
        actor=marketing, campaign=campaign, data={"text_body": "Mi texto\r\na mano"}
    )
    assert campaign.text_body == "Mi texto\na mano"
    assert campaign.text_body_edited
    campaign = services.campaign_update(
        actor=marketing,
        campaign=campaign,
        data={"html_body": "<p>Otro</p>", "text_body": "Mi texto\na mano"},
    )
    assert campaign.text_body == "Mi texto\na mano"
    # "Regenerar desde HTML".
    campaign = services.campaign_update(
        actor=marketing,
        campaign=campaign,
        data={"text_body": "Mi texto\na mano"},
        regenerate_text=True,
    )
    assert campaign.text_body == "Otro"
    assert not campaign.text_body_edited


def test_update_refreshes_links_but_keeps_a_clicked_one(marketing):
    campaign = services.campaign_create(actor=marketing, data=_data())
    clicked = campaign.links.get(url="https://ejemplo.com.mx/eventos")
    TrackingEventFactory(send__campaign=campaign, kind="clic", link=clicked)
    services.campaign_update(
        actor=marketing,
        campaign=campaign,
        data={"html_body": '<p><a href="https://ejemplo.com.mx/nuevo">nuevo</a></p>'},
    )
    assert set(campaign.links.values_list("url", flat=True)) == {
        "https://ejemplo.com.mx/nuevo",
        "https://ejemplo.com.mx/eventos",
    }
    event = AuditEvent.objects.filter(action=services.AUDIT_UPDATE).get()
    assert "html_body" in event.detail["fields"]


def test_failed_update_changes_nothing(marketing):
    campaign = services.campaign_create(actor=marketing, data=_data())
    with pytest.raises(ValidationError):
        services.campaign_update(
            actor=marketing,
            campaign=campaign,
            data={"name": "Cambiado", "html_body": "<p>{{ nombre </p>"},
        )
    campaign.refresh_from_db()
    assert campaign.name == "Ofertas de invierno"
    assert campaign.links.count() == 2


@pytest.mark.parametrize("status", ["enviando", "pausada", "enviada", "cancelada"])
def test_a_campaign_on_its_way_is_not_edited(marketing, status):
    campaign = CampaignFactory(status=status)
    with pytest.raises(ValidationError):
        services.campaign_update(actor=marketing, campaign=campaign, data={"name": "Otro"})
    campaign.refresh_from_db()
    assert campaign.name != "Otro"


def test_scheduled_campaign_is_editable(marketing):
    campaign = CampaignFactory(status=Campaign.Status.SCHEDULED)
    campaign = services.campaign_update(actor=marketing, campaign=campaign, data={"name": "Otro"})
    assert campaign.name == "Otro"


@pytest.mark.parametrize("role_user", ["rep", "manager", "support"])
def test_other_roles_cannot_write(request, role_user):
    user = request.getfixturevalue(role_user)
    with pytest.raises(PermissionDenied):
        services.campaign_create(actor=user, data=_data())
    campaign = CampaignFactory()
    with pytest.raises(PermissionDenied):
        services.campaign_update(actor=user, campaign=campaign, data={"name": "x"})
    with pytest.raises(PermissionDenied):
        services.campaign_delete(actor=user, campaign=campaign)
    with pytest.raises(PermissionDenied):
        services.topic_create(actor=user, data={"name": "Eventos"})
    assert Campaign.objects.count() == 1


def test_delete_only_drafts(marketing):
    draft = CampaignFactory()
    services.campaign_delete(actor=marketing, campaign=draft)
    assert not Campaign.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action=services.AUDIT_DELETE).count() == 1
    sent = CampaignFactory(status=Campaign.Status.SENT)
    SendFactory(campaign=sent)
    with pytest.raises(ValidationError):
        services.campaign_delete(actor=marketing, campaign=sent)
    assert Campaign.objects.filter(pk=sent.pk).exists()


def test_duplicate_is_a_new_draft_with_the_same_content(marketing):
    source = CampaignFactory(status=Campaign.Status.SENT, subject_b="Otro asunto", cost=10)
    copy = services.campaign_duplicate(actor=marketing, campaign=source)
    assert copy.pk != source.pk
    assert copy.status == Campaign.Status.DRAFT
    assert copy.name == f"{source.name} (copia)"
    assert (copy.subject, copy.subject_b, copy.html_body) == (
        source.subject,
        source.subject_b,
        source.html_body,
    )
    assert copy.created_by == marketing
    assert list(copy.links.values_list("url", flat=True)) == list(
        source.links.values_list("url", flat=True)
    )
    assert copy.sends.count() == 0


def test_topics(marketing):
    topic = services.topic_create(actor=marketing, data={"name": " Eventos ", "public": True})
    assert topic.name == "Eventos"
    with pytest.raises(ValidationError) as exc:
        services.topic_create(actor=marketing, data={"name": "eventos"})
    assert "name" in exc.value.error_dict
    assert Topic.objects.count() == 1
    services.topic_update(
        actor=marketing, topic=topic, data={"name": "Eventos y ferias", "public": False}
    )
    topic.refresh_from_db()
    assert (topic.name, topic.public) == ("Eventos y ferias", False)


# --- The test send ------------------------------------------------------------------------


def test_test_send_goes_to_the_user_as_the_contact(marketing, settings):
    settings.SITE_URL = "https://crm.ejemplo.com.mx"
    marketing.email = "marketing@ejemplo.com.mx"
    marketing.save()
    contact = ContactFactory(first_name="Lucía")
    campaign = CampaignFactory(subject_b="B para {{ nombre }}")
    sent = services.campaign_test_send(
        actor=marketing,
        campaign=campaign,
        contact=contact,
        extra=["Otra@Ejemplo.com.mx", "marketing@ejemplo.com.mx"],
        links_to="https://crm.ejemplo.com.mx/campanas/1/vista-previa/",
    )
    assert sent == ["marketing@ejemplo.com.mx", "otra@ejemplo.com.mx"]
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.to == ["marketing@ejemplo.com.mx"]
    assert message.subject == "[Prueba] Novedades de diciembre para Lucía"
    assert "Hola Lucía" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Hola Lucía" in html
    # No tracking, and the footer's links lead to the harmless preview.
    assert "/m/o/" not in html and "/m/c/" not in html and "/m/baja/" not in html
    assert "https://ejemplo.com.mx/ofertas?utm_source=crm" in html
    assert "https://crm.ejemplo.com.mx/campanas/1/vista-previa/" in message.body
    assert not campaign.sends.exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SEND)
    assert event.detail["test"] is True
    assert event.detail["as_contact"] == contact.pk


def test_test_send_with_sample_data_and_variant_b(marketing):
    marketing.email = "marketing@ejemplo.com.mx"
    marketing.save()
    campaign = CampaignFactory(subject_b="B para {{ nombre }}")
    services.campaign_test_send(
        actor=marketing, campaign=campaign, contact=None, variant="b", links_to="#"
    )
    assert mail.outbox[0].subject == "[Prueba] B para María"


def test_test_send_refuses_broken_content(marketing):
    marketing.email = "marketing@ejemplo.com.mx"
    marketing.save()
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(subject="Hola {{ nombre")
    campaign.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.campaign_test_send(actor=marketing, campaign=campaign, contact=None, links_to="#")
    assert "Corrige el contenido" in exc.value.messages[0]
    assert mail.outbox == []
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("email", "extra", "fragment"),
    [
        ("", [], "no tiene correo"),
        ("m@ejemplo.com.mx", ["no-es-correo"], "no es un correo válido"),
        ("m@ejemplo.com.mx", [f"a{i}@ejemplo.com.mx" for i in range(6)], "Como máximo 5"),
    ],
)
def test_test_send_recipients_are_checked(marketing, email, extra, fragment):
    marketing.email = email
    marketing.save()
    with pytest.raises(ValidationError) as exc:
        services.campaign_test_send(
            actor=marketing, campaign=CampaignFactory(), contact=None, extra=extra, links_to="#"
        )
    assert fragment in " ".join(exc.value.messages)
    assert mail.outbox == []


def test_test_send_failure_of_the_mail_server_is_a_message(marketing, settings):
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard: nothing listens
    settings.EMAIL_TIMEOUT = 2
    marketing.email = "m@ejemplo.com.mx"
    marketing.save()
    with pytest.raises(ValidationError) as exc:
        services.campaign_test_send(
            actor=marketing, campaign=CampaignFactory(), contact=None, links_to="#"
        )
    assert "No se pudo enviar la prueba" in exc.value.messages[0]
