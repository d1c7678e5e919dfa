"""The campaign editor's pages: who may open them, what they show, what a POST changes."""

import pytest
from django.core import mail
from django.urls import reverse

from campaigns.models import Campaign, Segment, SegmentMember
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    TopicFactory,
    consenting_contact,
)
from contacts.models import Topic
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _campaign_mail(settings):
    settings.CAMPAIGN_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CAMPAIGN_SENDERS = ["boletin@ejemplo.com.mx"]
    settings.CAMPAIGN_FROM_EMAIL = "boletin@ejemplo.com.mx"


def _static_segment(*contacts) -> Segment:
    segment = SegmentFactory(kind=Segment.Kind.STATIC, definition={})
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, contact=contact) for contact in contacts]
    )
    return segment


def _urls(campaign: Campaign, topic: Topic) -> dict[str, str]:
    return {
        "list": reverse("campaigns:campaign-list"),
        "detail": reverse("campaigns:campaign-detail", args=[campaign.pk]),
        "create": reverse("campaigns:campaign-create"),
        "edit": reverse("campaigns:campaign-edit", args=[campaign.pk]),
        "preview": reverse("campaigns:campaign-preview", args=[campaign.pk]),
        "frame": reverse("campaigns:campaign-preview-frame", args=[campaign.pk]),
        "topics": reverse("campaigns:topic-list"),
        "topic-create": reverse("campaigns:topic-create"),
        "topic-edit": reverse("campaigns:topic-edit", args=[topic.pk]),
    }


def test_paths():
    assert reverse("campaigns:campaign-list") == "/campanas/"
    assert reverse("campaigns:topic-list") == "/campanas/boletines/"
    assert reverse("campaigns:campaign-detail", args=[3]) == "/campanas/3/"
    assert (
        reverse("campaigns:campaign-preview-frame", args=[3]) == "/campanas/3/vista-previa/correo/"
    )


def test_marketing_opens_every_page(client_for, marketing):
    campaign = CampaignFactory()
    client = client_for(marketing)
    for name, url in _urls(campaign, campaign.topic).items():
        response = client.get(url)
        assert response.status_code == 200, name


@pytest.mark.parametrize("role_user", ["rep", "support"])
def test_reps_and_support_get_403_everywhere(request, client_for, role_user):
    campaign = CampaignFactory()
    client = client_for(request.getfixturevalue(role_user))
    for name, url in _urls(campaign, campaign.topic).items():
        assert client.get(url).status_code == 403, name
    for name in ("campaign-delete", "campaign-duplicate", "campaign-test-send"):
        url = reverse(f"campaigns:{name}", args=[campaign.pk])
        assert client.post(url).status_code == 403, name
    assert Campaign.objects.count() == 1


def test_manager_reads_the_list_and_the_page_but_does_not_edit(client_for, manager):
    campaign = CampaignFactory(cost=1234)
    client = client_for(manager)
    urls = _urls(campaign, campaign.topic)
    response = client.get(urls["list"])
    assert response.status_code == 200
    assert campaign.name in response.content.decode()
    assert "Nueva campaña" not in response.content.decode()
    response = client.get(urls["detail"])
    assert response.status_code == 200
    page = response.content.decode()
    assert "Costo" in page and "MXN" in page  # managers see amounts
    assert reverse("campaigns:campaign-edit", args=[campaign.pk]) not in page
    for name in ("create", "edit", "preview", "frame", "topics", "topic-create", "topic-edit"):
        assert client.get(urls[name]).status_code == 403, name


def test_the_list_filters(client_for, marketing):
    news = TopicFactory(name="Noticias")
    CampaignFactory(name="Navidad", status=Campaign.Status.SENT)
    CampaignFactory(name="Rebajas de enero", topic=news)
    client = client_for(marketing)
    url = reverse("campaigns:campaign-list")
    page = client.get(url, {"status": "enviada"}).content.decode()
    assert "Navidad" in page and "Rebajas de enero" not in page
    page = client.get(url, {"topic": news.pk}).content.decode()
    assert "Rebajas de enero" in page and "Navidad" not in page
    page = client.get(url, {"q": "rebajas"}).content.decode()
    assert "Rebajas de enero" in page and "Navidad" not in page
    # A broken filter value is ignored, never an error.
    assert client.get(url, {"topic": "x", "status": "nope"}).status_code == 200
    response = client.get(url, {"q": "navidad"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    count = client.get(reverse("campaigns:campaign-list-count"), {"q": "navidad"})
    assert "1" in count.content.decode()


def test_the_list_shows_the_sent_count(client_for, marketing):
    campaign = CampaignFactory(name="Con envíos", status=Campaign.Status.SENT)
    SendFactory.create_batch(3, campaign=campaign)
    SendFactory(campaign=campaign, status="fallido")
    response = client_for(marketing).get(reverse("campaigns:campaign-list"))
    row = response.context["page_obj"].object_list[0]
    assert row.sent_count == 3


def _post_data(campaign_topic, segment, **overrides) -> dict:
    data = {
        "name": "Lanzamiento",
        "topic": campaign_topic.pk,
        "segment": segment.pk,
        "subject": "Hola {{ nombre|default:'cliente' }}",
        "subject_b": "",
        "ab_sample_pct": 20,
        "ab_metric": "aperturas",
        "ab_wait_hours": 4,
        "preheader": "Novedades",
        "from_name": "Mi Empresa",
        "from_email": "boletin@ejemplo.com.mx",
        "reply_to": "",
        "html_body": '<p>Hola</p><p><a href="https://ejemplo.com.mx/">web</a></p>',
        "text_body": "",
        "cost": "100.00",
        "currency": "MXN",
        "conversion_window_days": 30,
        "rate_per_minute": 0,
    }
    data.update(overrides)
    return data


def test_create_and_edit_through_the_form(client_for, marketing):
    topic, segment = TopicFactory(name="Novedades"), SegmentFactory()
    client = client_for(marketing)
    response = client.post(reverse("campaigns:campaign-create"), _post_data(topic, segment))
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == campaign.get_absolute_url()
    assert campaign.text_body == "Hola\n\nweb (https://ejemplo.com.mx/)"
    assert list(campaign.links.values_list("url", flat=True)) == ["https://ejemplo.com.mx/"]
    edit = reverse("campaigns:campaign-edit", args=[campaign.pk])
    response = client.post(edit, _post_data(topic, segment, text_body="Texto propio"))
    campaign.refresh_from_db()
    assert (campaign.text_body, campaign.text_body_edited) == ("Texto propio", True)
    response = client.post(
        edit, _post_data(topic, segment, text_body="Texto propio", regenerate_text="1")
    )
    assert response.status_code == 302 and response["Location"] == edit
    campaign.refresh_from_db()
    assert not campaign.text_body_edited
    assert campaign.text_body.startswith("Hola")


def test_a_broken_form_saves_nothing_and_says_why(client_for, marketing):
    topic, segment = TopicFactory(name="Novedades"), SegmentFactory()
    response = client_for(marketing).post(
        reverse("campaigns:campaign-create"),
        _post_data(topic, segment, html_body="<p>Hola {{ nombre </p>"),
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "no está cerrado" in page
    assert "No se guardó nada" in page
    assert not Campaign.objects.exists()


def test_the_form_hides_amounts_from_whoever_may_not_see_them(client_for, marketing, monkeypatch):
    monkeypatch.setattr("campaigns.views.campaigns.can_see_campaign_amounts", lambda user: False)
    response = client_for(marketing).get(reverse("campaigns:campaign-create"))
    assert "cost" not in response.context["form"].fields


def test_archived_segments_are_not_offered(client_for, marketing):
    from django.utils import timezone

    live = SegmentFactory(name="Vivo")
    SegmentFactory(name="Viejo", archived_at=timezone.now())
    form = client_for(marketing).get(reverse("campaigns:campaign-create")).context["form"]
    assert list(form.fields["segment"].queryset) == [live]


def test_a_sent_campaign_is_not_edited(client_for, marketing):
    campaign = CampaignFactory(status=Campaign.Status.SENT)
    client = client_for(marketing)
    response = client.get(reverse("campaigns:campaign-edit", args=[campaign.pk]))
    assert response.status_code == 302
    assert response["Location"] == campaign.get_absolute_url()


def test_delete_and_duplicate(client_for, marketing):
    campaign = CampaignFactory()
    client = client_for(marketing)
    response = client.post(reverse("campaigns:campaign-duplicate", args=[campaign.pk]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == reverse("campaigns:campaign-edit", args=[copy.pk])
    response = client.post(reverse("campaigns:campaign-delete", args=[campaign.pk]))
    assert response["Location"] == reverse("campaigns:campaign-list")
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    sent = CampaignFactory(status=Campaign.Status.SENT)
    response = client.post(reverse("campaigns:campaign-delete", args=[sent.pk]), follow=True)
    assert Campaign.objects.filter(pk=sent.pk).exists()
    assert "Solo se puede eliminar" in response.content.decode()
    assert client.get(reverse("campaigns:campaign-delete", args=[sent.pk])).status_code == 405


def test_unknown_campaign_is_404(client_for, marketing):
    client = client_for(marketing)
    assert client.get(reverse("campaigns:campaign-detail", args=[999])).status_code == 404
    assert client.get(reverse("campaigns:campaign-preview", args=[999])).status_code == 404


def test_detail_shows_counts_errors_warnings_and_the_other_parts(client_for, marketing):
    with_name = consenting_contact(first_name="Ana")
    ContactFactory(first_name="Sin consentimiento")
    campaign = CampaignFactory(
        segment=_static_segment(with_name, *Segment.objects.none()),
        subject="Hola {{ nombre }}",
        html_body="<p>{{ puesto }}</p>",
    )
    with_name.job_title = ""
    with_name.save()
    response = client_for(marketing).get(campaign.get_absolute_url())
    page = response.content.decode()
    assert "1 contacto, 1 con consentimiento" in page
    assert "no tiene «Puesto» (puesto)" in page
    templates = {t.name for t in response.templates}
    assert "campaigns/sending/_send_controls.html" in templates
    assert "campaigns/results/_summary.html" in templates
    for key in ("campaign", "can_manage", "can_read_results", "can_see_amounts"):
        assert key in response.context
    Campaign.objects.filter(pk=campaign.pk).update(subject="{{ nombre")
    page = client_for(marketing).get(campaign.get_absolute_url()).content.decode()
    assert "El contenido tiene errores" in page


def test_preview_as_a_contact_of_the_segment(client_for, marketing):
    lucia = consenting_contact(first_name="Lucía", last_name="Ramos")
    pedro = consenting_contact(first_name="Pedro", last_name="Zamora")
    outsider = ContactFactory(first_name="Extraño")
    campaign = CampaignFactory(segment=_static_segment(lucia, pedro), subject_b="B {{ nombre }}")
    client = client_for(marketing)
    url = reverse("campaigns:campaign-preview", args=[campaign.pk])
    response = client.get(url)
    assert response.context["contact"] == lucia  # the first of the segment
    assert "Novedades de diciembre para Lucía" in response.content.decode()
    response = client.get(url, {"contact": pedro.pk, "width": "phone", "variant": "b"})
    page = response.content.decode()
    assert "B Pedro" in page
    assert 'width="375"' in page
    assert "Hola Pedro" in response.context["rendered"].text
    # Someone outside the segment is never shown: back to the first, with a warning.
    response = client.get(url, {"contact": outsider.pk})
    assert response.context["contact"] == lucia
    response = client.get(url, {"contact": "²"})  # str.isdigit() says yes; int() said 500
    assert response.context["contact"] == lucia
    response = client.get(url, {"contact": "ejemplo"})
    assert response.context["sample"] is True
    assert "para María" in response.content.decode()
    # The picker (htmx) searches among the segment's contacts only.
    response = client.get(url, {"q": "zam"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "Zamora" in page and "Ramos" not in page
    assert "<html" not in page


def test_the_preview_picker_ignores_a_nul_byte(client_for, marketing):
    """PostgreSQL refuses a NUL in a query (a 500); no name or email holds one."""
    pedro = consenting_contact(first_name="Pedro", last_name="Zamora")
    campaign = CampaignFactory(segment=_static_segment(pedro))
    client = client_for(marketing)
    url = reverse("campaigns:campaign-preview", args=[campaign.pk])
    response = client.get(url, {"q": "za\x00m"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Zamora" in response.content.decode()
    assert client.get(url, {"q": "\x00"}).status_code == 200


def test_preview_frame(client_for, marketing):
    contact = consenting_contact(first_name="Lucía")
    campaign = CampaignFactory(segment=_static_segment(contact))
    response = client_for(marketing).get(
        reverse("campaigns:campaign-preview-frame", args=[campaign.pk]), {"contact": contact.pk}
    )
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "sandbox" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "Hola Lucía" in html
    assert "/m/o/" not in html and "/m/c/" not in html


def test_preview_of_broken_content_shows_the_errors(client_for, marketing):
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(html_body="<p>{{ nombre </p>")
    client = client_for(marketing)
    response = client.get(reverse("campaigns:campaign-preview", args=[campaign.pk]))
    assert response.status_code == 200
    assert "no está cerrado" in response.content.decode()
    assert response.context["rendered"] is None
    frame = client.get(reverse("campaigns:campaign-preview-frame", args=[campaign.pk]))
    assert frame.status_code == 422


def test_missing_merge_data_on_the_preview(client_for, marketing):
    no_city = consenting_contact(city="")
    with_city = consenting_contact(city="Puebla")
    ContactFactory(city="")  # without consent: not counted
    campaign = CampaignFactory(
        segment=_static_segment(no_city, with_city), html_body="<p>{{ ciudad }}</p>"
    )
    response = client_for(marketing).get(reverse("campaigns:campaign-preview", args=[campaign.pk]))
    missing = response.context["missing"]
    assert [(m.name, m.count) for m in missing] == [("ciudad", 1)]


def test_test_send_from_the_preview(client_for, marketing):
    marketing.email = "marketing@ejemplo.com.mx"
    marketing.save()
    contact = consenting_contact(first_name="Lucía")
    campaign = CampaignFactory(segment=_static_segment(contact))
    response = client_for(marketing).post(
        reverse("campaigns:campaign-test-send", args=[campaign.pk]),
        {"contact": contact.pk, "variant": "a", "extra": "otra@ejemplo.com.mx"},
        follow=True,
    )
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["marketing@ejemplo.com.mx"], ["otra@ejemplo.com.mx"]]
    assert mail.outbox[0].subject == "[Prueba] Novedades de diciembre para Lucía"
    assert mail.outbox[0].alternatives[0][1] == "text/html"
    assert "Prueba enviada a marketing@ejemplo.com.mx, otra@ejemplo.com.mx" in (
        response.content.decode()
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SEND).count() == 1


def test_test_send_with_a_bad_address_sends_nothing(client_for, marketing):
    marketing.email = "marketing@ejemplo.com.mx"
    marketing.save()
    campaign = CampaignFactory()
    response = client_for(marketing).post(
        reverse("campaigns:campaign-test-send", args=[campaign.pk]),
        {"contact": "ejemplo", "extra": "no-es-correo"},
        follow=True,
    )
    assert "no es un correo válido" in response.content.decode()
    assert mail.outbox == []


def test_topic_pages(client_for, marketing):
    client = client_for(marketing)
    response = client.post(
        reverse("campaigns:topic-create"), {"name": "Eventos", "description": "", "public": "on"}
    )
    assert response["Location"] == reverse("campaigns:topic-list")
    topic = Topic.objects.get(name="Eventos")
    response = client.post(
        reverse("campaigns:topic-create"), {"name": "eventos", "description": ""}
    )
    assert response.status_code == 422
    assert "Ya existe un boletín" in response.content.decode()
    response = client.post(
        reverse("campaigns:topic-edit", args=[topic.pk]),
        {"name": "Eventos y ferias", "description": "Invitaciones"},
    )
    topic.refresh_from_db()
    assert (topic.name, topic.public) == ("Eventos y ferias", False)
    page = client.get(reverse("campaigns:topic-list")).content.decode()
    assert "Eventos y ferias" in page
    assert client.get(reverse("campaigns:topic-edit", args=[999])).status_code == 404
