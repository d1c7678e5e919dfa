"""The public pages of a message: pixel, click, one-click unsubscribe and preference centre."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import links, tokens
from campaigns.models import CampaignLink, Send, TrackingEvent
from campaigns.tests.factories import (
    CampaignFactory,
    SendFactory,
    TopicFactory,
    consenting_contact,
)
from campaigns.views.public import PIXEL
from contacts.models import Consent, ConsentLatest
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.fixture
def send():
    contact = consenting_contact()
    return SendFactory(
        contact=contact, campaign=CampaignFactory(), sent_at=timezone.now() - timedelta(hours=1)
    )


@pytest.fixture
def anonymous():
    """A client with CSRF checks on, as a mail client or a browser without a session."""
    return Client(enforce_csrf_checks=True, HTTP_USER_AGENT=BROWSER)


def _path(url: str) -> str:
    return urlsplit(url).path


def _latest(contact, topic=None) -> str | None:
    row = ConsentLatest.objects.filter(contact=contact, channel="email", topic=topic).first()
    return row.action if row else None


# --- The paths are those campaigns.links writes into the messages -----------------------------


def test_the_link_builders_and_the_url_names_agree(send):
    token_open = tokens.make(tokens.OPEN, send.pk)
    assert _path(links.open_url(send.pk)) == reverse("campaigns_public:open", args=[token_open])
    link = send.campaign.links.get()
    assert _path(links.click_url(send_id=send.pk, link_id=link.pk)) == reverse(
        "campaigns_public:click", args=[tokens.make(tokens.CLICK, send.pk), link.pk]
    )
    assert _path(links.unsubscribe_url(send.pk)) == reverse(
        "campaigns_public:unsubscribe", args=[tokens.make(tokens.UNSUBSCRIBE, send.pk)]
    )
    assert _path(links.preferences_url(send.contact_id)) == reverse(
        "campaigns_public:preferences", args=[tokens.make(tokens.PREFERENCES, send.contact_id)]
    )


# --- Open pixel -------------------------------------------------------------------------------


def test_the_pixel_is_a_transparent_gif_that_is_never_cached(anonymous, send):
    response = anonymous.get(_path(links.open_url(send.pk)))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == PIXEL and PIXEL.startswith(b"GIF89a") and len(PIXEL) == 43
    assert "no-store" in response["Cache-Control"]
    event = TrackingEvent.objects.get(send=send)
    assert event.kind == TrackingEvent.Kind.OPEN and not event.is_machine
    send.refresh_from_db()
    assert send.first_opened_at == event.at


def test_every_open_is_an_event_but_the_first_open_is_dated_once(anonymous, send):
    url = _path(links.open_url(send.pk))
    anonymous.get(url)
    send.refresh_from_db()
    first = send.first_opened_at
    anonymous.get(url)
    send.refresh_from_db()
    assert send.first_opened_at == first
    assert TrackingEvent.objects.filter(send=send, kind="apertura").count() == 2


@pytest.mark.parametrize(
    "token",
    ["x", "abc:def", "", "Zm9v:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_a_bad_token_still_gets_the_gif_and_records_nothing(anonymous, send, token):
    response = anonymous.get(f"/m/o/{token or 'x'}.gif")
    assert response.status_code == 200
    assert response.content == PIXEL
    assert not TrackingEvent.objects.exists()


def test_a_token_of_another_purpose_is_not_an_open(anonymous, send):
    response = anonymous.get(f"/m/o/{tokens.make(tokens.UNSUBSCRIBE, send.pk)}.gif")
    assert response.content == PIXEL
    assert not TrackingEvent.objects.exists()


def test_a_token_of_a_send_that_does_not_exist_still_gets_the_gif(anonymous, send):
    response = anonymous.get(f"/m/o/{tokens.make(tokens.OPEN, send.pk + 1000)}.gif")
    assert response.content == PIXEL
    assert not TrackingEvent.objects.exists()


def test_apple_privacy_proxy_opens_are_machine_opens(send):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="17.58.1.20")
    client.get(_path(links.open_url(send.pk)))
    event = TrackingEvent.objects.get(send=send)
    assert event.is_machine
    send.refresh_from_db()
    assert send.first_opened_at is None


# --- Clicks -----------------------------------------------------------------------------------


def test_a_click_redirects_to_the_stored_link_and_counts_as_an_open(anonymous, send):
    link = send.campaign.links.get()
    response = anonymous.get(_path(links.click_url(send_id=send.pk, link_id=link.pk)))
    assert response.status_code == 302
    assert response["Location"] == "https://ejemplo.com.mx/ofertas?utm_source=crm"
    kinds = sorted(TrackingEvent.objects.filter(send=send).values_list("kind", flat=True))
    assert kinds == ["apertura", "clic"]
    click = TrackingEvent.objects.get(send=send, kind="clic")
    assert click.link == link
    send.refresh_from_db()
    assert send.first_clicked_at is not None and send.first_opened_at is not None


def test_a_click_after_an_open_adds_no_second_open(anonymous, send):
    anonymous.get(_path(links.open_url(send.pk)))
    link = send.campaign.links.get()
    anonymous.get(_path(links.click_url(send_id=send.pk, link_id=link.pk)))
    anonymous.get(_path(links.click_url(send_id=send.pk, link_id=link.pk)))
    assert TrackingEvent.objects.filter(send=send, kind="apertura").count() == 1
    assert TrackingEvent.objects.filter(send=send, kind="clic").count() == 2


def test_a_link_of_another_campaign_is_a_404_and_no_redirect(anonymous, send):
    other = CampaignLink.objects.create(campaign=CampaignFactory(), url="https://otro.example/")
    response = anonymous.get(_path(links.click_url(send_id=send.pk, link_id=other.pk)))
    assert response.status_code == 404
    assert "Location" not in response
    assert "Este enlace no es válido" in response.content.decode()
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize("token", ["forjado", "abc:def"])
def test_a_bad_click_token_is_a_404(anonymous, send, token):
    link = send.campaign.links.get()
    response = anonymous.get(f"/m/c/{token}/{link.pk}/?next=https://malo.example/")
    assert response.status_code == 404
    assert "Location" not in response
    assert not TrackingEvent.objects.exists()


def test_an_open_token_is_not_a_click_token(anonymous, send):
    link = send.campaign.links.get()
    response = anonymous.get(f"/m/c/{tokens.make(tokens.OPEN, send.pk)}/{link.pk}/")
    assert response.status_code == 404


def test_the_click_never_reads_an_address_from_the_request(anonymous, send):
    link = send.campaign.links.get()
    url = _path(links.click_url(send_id=send.pk, link_id=link.pk))
    response = anonymous.get(url + "?url=https://malo.example/&next=//malo.example")
    assert response["Location"] == link.url


# --- Unsubscribe ------------------------------------------------------------------------------


def test_the_one_click_post_needs_no_cookie_nor_csrf_and_withdraws_the_topic(anonymous, send):
    url = _path(links.unsubscribe_url(send.pk))
    response = anonymous.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    topic = send.campaign.topic
    assert _latest(send.contact, topic) == Consent.Action.WITHDRAW
    assert _latest(send.contact) == Consent.Action.GRANT  # other topics still arrive
    entry = Consent.objects.get(contact=send.contact, topic=topic)
    assert entry.source == Consent.Source.UNSUBSCRIBE
    assert entry.action == Consent.Action.WITHDRAW
    assert entry.ip_address == "203.0.113.9"
    assert entry.user_agent == BROWSER
    assert entry.recorded_by is None
    assert TrackingEvent.objects.get(send=send).kind == TrackingEvent.Kind.UNSUBSCRIBE
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT).exists()
    assert "sessionid" not in response.cookies


def test_the_one_click_post_is_idempotent(anonymous, send):
    url = _path(links.unsubscribe_url(send.pk))
    for _ in range(3):
        response = anonymous.post(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    assert Consent.objects.filter(contact=send.contact, action="withdraw").count() == 1
    assert TrackingEvent.objects.filter(send=send, kind="baja").count() == 1


def test_the_get_only_asks_and_changes_nothing(anonymous, send):
    before = Consent.objects.count()
    response = anonymous.get(_path(links.unsubscribe_url(send.pk)))
    assert response.status_code == 200
    body = response.content.decode()
    assert "¿Quieres darte de baja?" in body
    assert "No recibir ningún correo" in body
    assert 'method="post"' in body
    assert Consent.objects.count() == before
    assert not TrackingEvent.objects.exists()


def test_the_everything_button_withdraws_all_email(anonymous, send):
    response = anonymous.post(_path(links.unsubscribe_url(send.pk)), {"alcance": "todos"})
    assert response.status_code == 200
    assert "Ya no recibirás ningún correo nuestro" in response.content.decode()
    assert _latest(send.contact) == Consent.Action.WITHDRAW
    history = list(Consent.objects.filter(contact=send.contact).order_by("at", "id"))
    assert [entry.action for entry in history] == ["grant", "withdraw"]
    assert history[-1].topic is None and history[-1].source == "baja"


def test_the_confirmation_page_shows_the_company(anonymous, send, settings):
    settings.COMPANY = {**settings.COMPANY, "name": "Papelería del Centro"}
    response = anonymous.get(_path(links.unsubscribe_url(send.pk)))
    assert "Papelería del Centro" in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_unsubscribe_token_is_a_friendly_400_and_writes_nothing(anonymous, send, method):
    before = Consent.objects.count()
    response = getattr(anonymous, method)(f"/m/baja/{send.pk}:forjado/")
    assert response.status_code == 400
    assert "Este enlace no es válido" in response.content.decode()
    assert Consent.objects.count() == before
    assert not TrackingEvent.objects.exists()


def test_tokens_of_another_purpose_do_not_unsubscribe(anonymous, send):
    before = Consent.objects.count()
    for purpose in (tokens.OPEN, tokens.CLICK, tokens.PREFERENCES):
        response = anonymous.post(f"/m/baja/{tokens.make(purpose, send.pk)}/")
        assert response.status_code == 400
    assert Consent.objects.count() == before


def test_one_recipients_token_does_not_touch_another_recipient(anonymous, send):
    other = SendFactory(campaign=send.campaign, contact=consenting_contact())
    anonymous.post(_path(links.unsubscribe_url(send.pk)), {"List-Unsubscribe": "One-Click"})
    assert _latest(other.contact, send.campaign.topic) is None
    assert _latest(other.contact) == Consent.Action.GRANT


def test_the_unsubscribe_is_honoured_by_the_eligibility_rule(anonymous, send):
    from campaigns.eligibility import eligible_contact_ids

    topic_id = send.campaign.topic_id
    assert eligible_contact_ids([send.contact_id], topic_id) == {send.contact_id}
    anonymous.post(_path(links.unsubscribe_url(send.pk)), {"List-Unsubscribe": "One-Click"})
    assert eligible_contact_ids([send.contact_id], topic_id) == set()
    assert eligible_contact_ids([send.contact_id], TopicFactory(name="Eventos").pk) == {
        send.contact_id
    }


# --- Preference centre ------------------------------------------------------------------------


@pytest.fixture
def topics():
    return [
        TopicFactory(name="Novedades"),
        TopicFactory(name="Ofertas"),
        TopicFactory(name="Eventos"),
    ]


def test_the_preference_centre_shows_the_current_choices(anonymous, send, topics):
    url = _path(links.preferences_url(send.contact_id))
    response = anonymous.get(url)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.initial["topics"]) == {t.pk for t in topics}
    assert form.initial["nothing"] is False
    assert "Mis preferencias de correo" in response.content.decode()


def test_the_preference_form_needs_its_csrf_token(anonymous, send, topics):
    url = _path(links.preferences_url(send.contact_id))
    response = anonymous.post(url, {"topics": [topics[0].pk]})
    assert response.status_code == 403
    assert not Consent.objects.filter(topic__isnull=False).exists()


def test_the_preference_centre_writes_only_the_changes(send, topics):
    client = Client(HTTP_USER_AGENT=BROWSER)
    url = _path(links.preferences_url(send.contact_id))
    novedades, ofertas, eventos = topics
    response = client.post(url, {"topics": [novedades.pk, eventos.pk]})
    assert response.status_code == 200
    assert response.context["saved"] == 1
    assert _latest(send.contact, ofertas) == Consent.Action.WITHDRAW
    assert _latest(send.contact, novedades) is None
    # The same choices again: nothing written.
    count = Consent.objects.count()
    response = client.post(url, {"topics": [novedades.pk, eventos.pk]})
    assert response.context["saved"] == 0
    assert Consent.objects.count() == count
    # Back to offers.
    client.post(url, {"topics": [novedades.pk, ofertas.pk, eventos.pk]})
    entry = Consent.objects.filter(topic=ofertas).order_by("-at", "-id").first()
    assert entry.action == Consent.Action.GRANT
    assert entry.text_version


def test_no_email_at_all_is_a_channel_withdrawal(send, topics):
    client = Client()
    url = _path(links.preferences_url(send.contact_id))
    response = client.post(url, {"topics": [topics[0].pk], "nothing": "on"})
    assert response.status_code == 200
    assert _latest(send.contact) == Consent.Action.WITHDRAW
    assert response.context["form"].initial["nothing"] is True
    assert not Consent.objects.filter(topic__isnull=False).exists()


def test_choosing_a_topic_again_grants_the_channel_from_the_preference_centre(send, topics):
    client = Client()
    url = _path(links.preferences_url(send.contact_id))
    client.post(url, {"nothing": "on"})
    client.post(url, {"topics": [topics[1].pk]})
    assert _latest(send.contact) == Consent.Action.GRANT
    grant = Consent.objects.filter(topic=None).order_by("-at", "-id").first()
    assert grant.action == "grant" and grant.note == "Centro de preferencias"
    assert _latest(send.contact, topics[0]) == Consent.Action.WITHDRAW
    assert _latest(send.contact, topics[2]) == Consent.Action.WITHDRAW


def test_a_bad_preferences_token_is_a_400(anonymous, send, topics):
    for token in ("nada", tokens.make(tokens.UNSUBSCRIBE, send.contact_id)):
        response = anonymous.get(f"/m/preferencias/{token}/")
        assert response.status_code == 400


def test_a_send_token_is_not_a_contact_token(send, topics):
    """A preferences token names a contact; the same number as a send must not leak."""
    assert Send.objects.filter(pk=send.pk).exists()
    response = Client().get(f"/m/preferencias/{tokens.make(tokens.CLICK, send.contact_id)}/")
    assert response.status_code == 400


# --- The links of a real compiled message -----------------------------------------------------


def test_the_links_of_a_rendered_message_reach_these_views(anonymous, send):
    from campaigns import content

    compiled = content.compile_message(send.campaign)
    values = {
        **content.merge_data(send.contact),
        **links.link_values(send_id=send.pk, contact_id=send.contact_id),
    }
    html = compiled.render(values).html
    click = re.search(r'href="([^"]*/m/c/[^"]+)"', html).group(1)
    pixel = re.search(r'src="([^"]*/m/o/[^"]+\.gif)"', html).group(1)
    unsubscribe = re.search(r'href="([^"]*/m/baja/[^"]+)"', html).group(1)
    response = anonymous.get(_path(click))
    assert response.status_code == 302
    assert response["Location"] == send.campaign.links.get().url
    assert anonymous.get(_path(pixel)).content == PIXEL
    assert anonymous.get(_path(unsubscribe)).status_code == 200
    assert TrackingEvent.objects.filter(send=send, kind="clic").count() == 1
