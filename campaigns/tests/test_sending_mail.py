"""One campaign message: unsubscribe headers, Message-ID, DKIM; and real SMTP through the sink."""

import base64
import shutil
import subprocess
from email import message_from_bytes

import dkim
import pytest
from django.core.mail import get_connection

from campaigns import content, mail
from campaigns.models import Campaign, Send, Suppression
from campaigns.services import batches, recipients, sending
from campaigns.tests.factories import CampaignFactory, consenting_contact, send_over_smtp
from campaigns.tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db
Row = Send.Status


def _message(campaign, *, send_id=7):
    rendered = content.compile_message(campaign).render(
        {
            **content.merge_data(consenting_contact()),
            "token_apertura": "t",
            "token_clic": "c",
            "url_baja": "u",
            "url_preferencias": "p",
        }
    )
    return mail.build_message(
        campaign=campaign,
        send_id=send_id,
        to="ana@ejemplo.com.mx",
        rendered=rendered,
        domain=mail.message_domain(campaign),
    )


def test_headers(settings):
    settings.SITE_URL = "https://crm.ejemplo.com.mx"
    settings.CAMPAIGN_UNSUBSCRIBE_MAILTO = "bajas@ejemplo.com.mx"
    campaign = CampaignFactory(from_email="boletin@ejemplo.com.mx")
    message = _message(campaign).message()
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://crm.ejemplo.com.mx/m/baja/")
    assert "<mailto:bajas@ejemplo.com.mx?subject=baja>" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@ejemplo.com.mx>")
    assert message["To"] == "ana@ejemplo.com.mx"
    assert "DKIM-Signature" not in message
    assert message.is_multipart()
    other = _message(campaign, send_id=8).message()
    assert other["Message-ID"] != message["Message-ID"]


def test_no_mailto_without_a_mailbox(settings):
    settings.CAMPAIGN_UNSUBSCRIBE_MAILTO = ""
    headers = mail.unsubscribe_headers(5)
    assert "mailto:" not in headers["List-Unsubscribe"]
    assert headers["List-Unsubscribe"].count("<") == 1


def _rsa_key(tmp_path) -> tuple[str, bytes]:
    """A fresh 2048-bit key (PEM file) and its DNS record, made with openssl as dknewkey does."""
    if not shutil.which("openssl"):
        pytest.skip("The DKIM test makes its key with the openssl command, which is missing.")
    key_file = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(key_file), "2048"], check=True, capture_output=True
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key_file), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return str(key_file), b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_dkim_signature_verifies(settings, tmp_path):
    key_file, record = _rsa_key(tmp_path)
    settings.CAMPAIGN_DKIM_DOMAIN = "ejemplo.com.mx"
    settings.CAMPAIGN_DKIM_SELECTOR = "crm"
    settings.CAMPAIGN_DKIM_KEY_FILE = str(key_file)
    campaign = CampaignFactory(from_email="boletin@ejemplo.com.mx")
    raw = _message(campaign).message().as_bytes(linesep="\r\n")
    assert b"DKIM-Signature:" in raw

    def dns(name, timeout=5):
        assert name == b"crm._domainkey.ejemplo.com.mx."
        return record

    assert dkim.verify(raw, dnsfunc=dns)
    signature = message_from_bytes(raw)["DKIM-Signature"]
    assert "list-unsubscribe" in signature.lower()
    # A changed body no longer verifies.
    assert not dkim.verify(raw.replace(b"Hola", b"Adios"), dnsfunc=dns)


def test_real_smtp_batch_with_refusals(marketing, settings, django_capture_on_commit_callbacks):
    """One SMTP connection per batch: 250 → enviado, 451 → reintento, 550 → fallido + supresión."""
    ok, busy, gone = (consenting_contact() for _i in range(3))
    campaign = CampaignFactory(created_by=marketing)
    refusals = {busy.email: "451 4.3.0 Inténtalo después", gone.email: "550 5.1.1 No existe"}
    with SmtpSink(refusals=refusals, keep=True) as sink:
        send_over_smtp(
            campaign=campaign,
            user=marketing,
            sink=sink,
            settings=settings,
            capture=django_capture_on_commit_callbacks,
        )
    assert sink.counts == {ok.email: 1}
    rows = {r.contact_id: r for r in Send.objects.filter(campaign=campaign)}
    assert rows[ok.pk].status == Row.SENT
    assert rows[ok.pk].message_id == sink.message_ids[0]
    assert rows[busy.pk].status == Row.RETRY and "451" in rows[busy.pk].error
    assert rows[gone.pk].status == Row.FAILED
    assert Suppression.objects.filter(email=gone.email, reason="rebote").exists()
    assert not Suppression.objects.filter(email=busy.email).exists()
    received = message_from_bytes(sink.messages[0])
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING  # a retry is still due


def test_unreachable_server_is_a_temporary_failure(marketing, django_capture_on_commit_callbacks):
    consenting_contact()
    campaign = CampaignFactory(created_by=marketing)
    from crm.core.tests.processes import free_port

    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=free_port(), timeout=2
    )
    with django_capture_on_commit_callbacks(execute=False):
        sending.campaign_send_now(campaign=campaign, user=marketing)
        recipients.campaign_materialize(campaign_id=campaign.pk)
    batches.campaign_send_lane(campaign_id=campaign.pk, connection=connection)
    row = Send.objects.get(campaign=campaign)
    assert row.status == Row.RETRY and row.attempts == 1 and row.next_attempt_at
