"""The worker's fast per-message path gives what Django's slower path gives.

- `tokens.make` is `signing.Signer(salt=purpose).sign(b62(pk))`, with the keyed HMAC reused.
- `CompiledMessage.render` renders the merge templates without `Template.render` and gets the
  same text (escaping, filters, defaults, missing and non-text values).
- `CampaignEmail.wire_bytes` is byte for byte `message().as_bytes(linesep="\\r\\n")` for the
  same boundary and date, signs with DKIM, and keeps each message's own Message-ID, headers
  and merge values.
"""

import random
from email import message_from_bytes, policy
from unittest import mock

import dkim
import pytest
from django.core import signing
from django.template import Context
from django.utils.safestring import mark_safe

from campaigns import content, links, mail, tokens
from campaigns.models import Send
from campaigns.tests.factories import CampaignFactory, consenting_contact, send_over_smtp
from campaigns.tests.smtp_sink import SmtpSink
from campaigns.tests.test_sending_mail import _rsa_key

DATE = "Tue, 01 Dec 2026 10:00:00 -0000"


# Tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "purpose", [tokens.OPEN, tokens.CLICK, tokens.UNSUBSCRIBE, tokens.PREFERENCES]
)
def test_token_is_djangos_signature(purpose, settings):
    for secret in ("una-clave-larga-de-prueba", "otra-clave-ñ"):
        settings.SECRET_KEY = secret
        for pk in (1, 61, 62, 123_456, 10**12):
            token = tokens.make(purpose, pk)
            assert token == signing.Signer(salt=purpose).sign(signing.b62_encode(pk))
            assert tokens.read(purpose, token) == pk


def test_token_changes_with_the_secret_and_the_purpose(settings):
    settings.SECRET_KEY = "primera-clave"
    first = tokens.make(tokens.OPEN, 7)
    settings.SECRET_KEY = "segunda-clave"
    assert tokens.make(tokens.OPEN, 7) != first
    with pytest.raises(tokens.BadToken):
        tokens.read(tokens.OPEN, first)
    with pytest.raises(tokens.BadToken):
        tokens.read(tokens.CLICK, tokens.make(tokens.OPEN, 7))


# Rendering -----------------------------------------------------------------------------------

SOURCES = [
    "Hola {{ nombre }}",
    '<h1>Hola {{ nombre|default:"cliente" }}</h1><p>{{ empresa|upper }} · {{ ciudad }}</p>',
    "{{ nombre|title }} {{ apellidos|lower }} {{ puesto|capfirst }} {{ vendedor|default:'—' }}",
    "{{ correo }} {{ no_existe }} {{ token_clic }} fin",
    "",
    "solo texto <b>&amp;</b>",
]
VALUES = [
    {"nombre": "Ana", "empresa": "Acme & Hijos", "ciudad": "León", "token_clic": "a:b"},
    {"nombre": "<script>x</script>", "empresa": "", "ciudad": "\"comillas\" 'y'"},
    {"nombre": "", "apellidos": "PÉREZ", "puesto": None, "vendedor": ""},
    {"nombre": mark_safe("<b>ya seguro</b>"), "correo": "a@b.mx", "ciudad": 5},
    {},
]


@pytest.mark.parametrize("source", SOURCES)
def test_merge_render_is_template_render(source):
    template = content.merge_engine().from_string(source)
    fast = content._MergeTemplate(template)
    for values in VALUES:
        for autoescape in (True, False):
            expected = template.render(Context(values, autoescape=autoescape))
            assert fast.render(values, autoescape=autoescape) == expected


@pytest.mark.django_db
def test_compiled_message_renders_as_before():
    campaign = CampaignFactory()
    compiled = content.compile_message(campaign)
    contact = consenting_contact(first_name="José <Pepe>", last_name="Núñez")
    values = {**content.merge_data(contact), **links.link_values(send_id=9, contact_id=contact.pk)}
    rendered = compiled.render(values)
    engine = content.merge_engine()
    plain = Context(values, autoescape=False)
    assert rendered.html == engine.from_string(compiled._html.template.source).render(
        Context(values, autoescape=True)
    )
    assert rendered.text == engine.from_string(compiled._text.template.source).render(plain)
    assert rendered.subject == "Novedades de diciembre para José <Pepe>"
    assert "José &lt;Pepe&gt;" in rendered.html
    assert values["url_baja"] in rendered.html and values["url_baja"] in rendered.text


# Serialising ---------------------------------------------------------------------------------


def _build(campaign, *, send_id=7, to="ana@ejemplo.com.mx", **overrides):
    values = {
        "nombre": "Ana",
        "empresa": "Acme",
        "token_apertura": tokens.make(tokens.OPEN, send_id),
        "token_clic": tokens.make(tokens.CLICK, send_id),
        "url_baja": links.unsubscribe_url(send_id),
        "url_preferencias": links.preferences_url(3),
    }
    rendered = content.compile_message(campaign).render(values)
    if overrides:
        rendered = content.RenderedMessage(**{**rendered.__dict__, **overrides})
    return mail.build_message(
        campaign=campaign,
        send_id=send_id,
        to=to,
        rendered=rendered,
        domain=mail.message_domain(campaign),
        unsubscribe_url=values["url_baja"],
    )


def _both(message) -> tuple[bytes, bytes]:
    """(wire_bytes, Django's bytes) made with the same random boundary and the same date."""
    with (
        mock.patch("campaigns.mail.formatdate", return_value=DATE),
        mock.patch("django.core.mail.message.formatdate", return_value=DATE),
    ):
        random.seed(1234)
        wire = message.wire_bytes()
        random.seed(1234)
        django = message.message().as_bytes(linesep="\r\n")
    return wire, django


CASES = {
    "ascii": {},
    "accents": {"subject": "Novedades para José Núñez: ¡oferta!", "text": "Hola José\n"},
    "long subject": {"subject": "Una oferta " + "muy " * 30 + "larga"},
    "long non-ascii subject": {"subject": "Oferta " + "señal " * 30},
    "spaces and tabs": {"subject": "dos  espacios\tcon tab "},
    "long html line": {"html": "<p>" + "x" * 1200 + "</p>\n<p>fin</p>"},
    "long non-ascii line": {"html": "<p>" + "ñ" * 600 + "</p>", "text": "á" * 700},
    "line endings": {"text": "uno\r\ndos\rtres\nfin", "html": "<p>a</p>\r\n<p>b</p>"},
    "no final newline": {"text": "sin salto final"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_wire_bytes_are_djangos_bytes(case, settings):
    settings.SITE_URL = "https://crm.ejemplo.com.mx"
    settings.CAMPAIGN_UNSUBSCRIBE_MAILTO = "bajas@ejemplo.com.mx" if "accents" in case else ""
    campaign = CampaignFactory(
        from_email="boletin@ejemplo.com.mx",
        from_name='Ñandú, S.A. "La Buena"' if "accents" in case else "Mi Empresa",
        reply_to="ventas@ejemplo.com.mx" if case != "ascii" else "",
    )
    wire, django = _both(_build(campaign, **CASES[case]))
    assert wire == django


@pytest.mark.django_db
def test_wire_bytes_keep_headers_and_merge_values(settings):
    settings.SITE_URL = "https://crm.ejemplo.com.mx"
    campaign = CampaignFactory(from_email="boletin@ejemplo.com.mx")
    first, second = _build(campaign, send_id=7), _build(campaign, send_id=8)
    parsed = [message_from_bytes(m.wire_bytes(), policy=policy.SMTP) for m in (first, second)]
    for message, received, send_id in zip((first, second), parsed, (7, 8), strict=True):
        assert received["Message-ID"] == message.extra_headers["Message-ID"]
        assert received["Message-ID"].endswith("@ejemplo.com.mx>")
        assert f".s{send_id}@" in received["Message-ID"]
        assert received["List-Unsubscribe"].strip() == f"<{links.unsubscribe_url(send_id)}>"
        assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert received["To"] == "ana@ejemplo.com.mx"
        assert received["Subject"] == "Novedades de diciembre para Ana"
        assert received["Date"] and received["Precedence"] == "bulk"
        text, html = (p.get_payload(decode=True).decode() for p in received.get_payload())
        assert "Hola Ana" in html and "Acme" in html and "Hola Ana" in text
        assert links.unsubscribe_url(send_id) in html
        assert tokens.make(tokens.OPEN, send_id) in html
    assert parsed[0]["Message-ID"] != parsed[1]["Message-ID"]
    assert parsed[0].get_boundary() != parsed[1].get_boundary()


def test_boundary_is_never_in_a_part():
    random.seed(99)
    taken = mail._boundary([])
    random.seed(99)
    other = mail._boundary([b"antes\r\n--" + taken.encode() + b"\r\ndespues"])
    assert other != taken and other.startswith(taken)


@pytest.mark.django_db
def test_other_shapes_go_through_django(settings):
    campaign = CampaignFactory(from_email="boletin@ejemplo.com.mx")
    message = _build(campaign)
    message.attach("lista.csv", "a,b\n1,2\n", "text/csv")
    received = message_from_bytes(message.wire_bytes())
    assert received.get_content_type() == "multipart/mixed"
    assert any(p.get_filename() == "lista.csv" for p in received.walk())


@pytest.mark.django_db
def test_wire_bytes_dkim_signature_verifies(settings, tmp_path):
    key_file, record = _rsa_key(tmp_path)
    settings.CAMPAIGN_DKIM_DOMAIN = "ejemplo.com.mx"
    settings.CAMPAIGN_DKIM_SELECTOR = "crm"
    settings.CAMPAIGN_DKIM_KEY_FILE = str(key_file)
    campaign = CampaignFactory(from_email="boletin@ejemplo.com.mx")
    raw = _build(campaign, subject="Señales para José").wire_bytes()
    assert raw.startswith(b"DKIM-Signature:")

    def dns(name, timeout=5):
        assert name == b"crm._domainkey.ejemplo.com.mx."
        return record

    assert dkim.verify(raw, dnsfunc=dns)
    signature = message_from_bytes(raw)["DKIM-Signature"].lower()
    for header in ("from", "to", "subject", "message-id", "list-unsubscribe", "content-type"):
        assert header in signature
    assert not dkim.verify(raw.replace(b"Hola", b"Adios"), dnsfunc=dns)


@pytest.mark.django_db
def test_real_smtp_messages_carry_their_rows_ids_and_links(
    marketing, settings, django_capture_on_commit_callbacks
):
    """Through the sink: one message per row, each with the row's Message-ID (stored), its own
    unsubscribe link in the header and the body, and the contact's merge values."""
    contacts = [consenting_contact(first_name=f"Nombre{i}") for i in range(5)]
    campaign = CampaignFactory(created_by=marketing)
    with SmtpSink(keep=True) as sink:
        send_over_smtp(
            campaign=campaign,
            user=marketing,
            sink=sink,
            settings=settings,
            capture=django_capture_on_commit_callbacks,
        )
    assert sorted(sink.counts.values()) == [1] * len(contacts)
    rows = {r.message_id: r for r in Send.objects.filter(campaign=campaign)}
    assert all(r.status == Send.Status.SENT for r in rows.values())
    assert len(rows) == len(contacts)
    for raw in sink.messages:
        received = message_from_bytes(raw, policy=policy.SMTP)  # unfolds the headers
        row = rows[received["Message-ID"]]
        unsubscribe = links.unsubscribe_url(row.pk)
        assert received["List-Unsubscribe"].strip() == f"<{unsubscribe}>"
        assert received["To"] == row.email
        text, html = (p.get_payload(decode=True).decode() for p in received.get_payload())
        assert f"Hola {row.contact.first_name}" in html
        assert unsubscribe in html and unsubscribe in text
