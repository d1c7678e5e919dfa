"""Quotes: numbering and versions, the snapshot, the PDF's text, sending once, and the pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.celery import app
from crm.core.tests.pdf import pdf_text
from opportunities.models import LineItem, Quote
from opportunities.services.quotes import quote_issue, quote_send_request
from opportunities.tasks.quotes import quote_send
from opportunities.tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def deal(rep):
    account = AccountFactory(
        owner=rep, name="Ferretería Bustamante", legal_name="Ferretería Bustamante S.A. de C.V."
    )
    contact = ContactFactory(
        account=account,
        owner=rep,
        first_name="Elena",
        last_name="Duarte",
        email="elena@bustamante.mx",
    )
    opportunity = OpportunityFactory(
        owner=rep, account=account, contact=contact, name="Renovación 2026"
    )
    for description, quantity, price, discount, tax in [
        ("Licencia anual", "12", "18500", "10", "16"),
        ("Implementación", "5", "9500", "0", "16"),
        ("Licencia España", "1", "950", "0", "21"),
    ]:
        LineItem.objects.create(
            opportunity=opportunity,
            description=description,
            quantity=Decimal(quantity),
            unit_price=Decimal(price),
            discount_pct=Decimal(discount),
            tax_rate=Decimal(tax),
        )
    return opportunity


def _valid_until():
    return timezone.localdate() + timedelta(days=30)


def _pdf_text(quote: Quote) -> str:
    return pdf_text(quote.pdf.path)


def test_issue_snapshots_the_figures(rep, deal):
    quote = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until(), terms=" 30 días ")
    year = timezone.localdate().year
    assert (quote.number, quote.version) == (f"COT-{year}-000001", 1)
    # 12 × 18,500 − 10 % = 199,800.00; 5 × 9,500 = 47,500.00; 950.00
    assert quote.subtotal == Decimal("248250.00")
    # IVA 16 %: 31,968.00 + 7,600.00; 21 %: 199.50
    assert quote.tax_total == Decimal("39767.50")
    assert quote.total == Decimal("288017.50")
    assert quote.currency == "MXN"
    assert quote.terms == "30 días"
    assert [line["net"] for line in quote.lines] == ["199800.00", "47500.00", "950.00"]
    assert quote.pdf.name.endswith(f"COT-{year}-000001-v1.pdf")
    # The snapshot stays as issued when the lines change afterwards.
    deal.line_items.all().delete()
    quote.refresh_from_db()
    assert quote.total == Decimal("288017.50")


def test_the_pdf_shows_the_right_totals(rep, deal):
    quote = quote_issue(
        actor=rep, opportunity=deal, valid_until=_valid_until(), terms="Pago a 30 días"
    )
    text = _pdf_text(quote)
    assert "COTIZACIÓN" in text
    assert quote.number in text
    assert "Mi Empresa S.A. de C.V." in text
    assert "Ferretería Bustamante S.A. de C.V." in text
    assert "Elena Duarte" in text
    assert "199 800,00" in text
    assert "Subtotal" in text and "248 250,00 MXN" in text
    assert "IVA 16 %" in text and "39 568,00 MXN" in text
    assert "IVA 21 %" in text and "199,50 MXN" in text
    assert "Total" in text and "288 017,50 MXN" in text
    assert "Pago a 30 días" in text
    assert _valid_until().strftime("%d/%m/%Y") in text


def test_reissuing_keeps_the_number_and_adds_a_version(rep, deal):
    first = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    LineItem.objects.filter(opportunity=deal, description="Implementación").delete()
    second = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    assert second.number == first.number
    assert (first.version, second.version) == (1, 2)
    assert second.subtotal == Decimal("200750.00")
    other = OpportunityFactory(owner=rep)
    LineItem.objects.create(opportunity=other, description="X", quantity=1, unit_price=10)
    third = quote_issue(actor=rep, opportunity=other, valid_until=_valid_until())
    assert third.number.endswith("-000002") and third.version == 1
    assert Quote.objects.count() == 3


def test_no_lines_no_quote(rep):
    deal = OpportunityFactory(owner=rep)
    with pytest.raises(ValidationError):
        quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    assert not Quote.objects.exists()


def test_a_past_validity_is_refused_and_nothing_is_saved(rep, deal):
    with pytest.raises(ValidationError):
        quote_issue(
            actor=rep, opportunity=deal, valid_until=timezone.localdate() - timedelta(days=1)
        )
    assert not Quote.objects.exists()


def test_a_failing_pdf_saves_no_quote(rep, deal, monkeypatch):
    def broken(quote):
        raise RuntimeError("sin WeasyPrint")

    monkeypatch.setattr("opportunities.services.quotes.quote_render_pdf", broken)
    with pytest.raises(RuntimeError):
        quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    assert not Quote.objects.exists()


def test_other_reps_cannot_issue(other_rep, deal):
    with pytest.raises(PermissionDenied):
        quote_issue(actor=other_rep, opportunity=deal, valid_until=_valid_until())


def test_sending_twice_sends_one_email_with_the_pdf(rep, deal, eager):
    quote = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    quote_send.delay(quote.pk)
    quote_send.delay(quote.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["elena@bustamante.mx"]
    assert quote.number in message.subject
    assert "Hola, Elena:" in message.body
    (filename, content, mimetype) = message.attachments[0]
    assert filename == f"{quote.number}-v1.pdf"
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    quote.refresh_from_db()
    assert quote.sent_at is not None and quote.sent_to == "elena@bustamante.mx"
    # A new version is a new email; the sent one is kept as it was.
    second = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    quote_send.delay(second.pk)
    assert len(mail.outbox) == 2
    assert Quote.objects.filter(sent_at__isnull=False).count() == 2


def test_send_request_needs_a_contact_email_and_an_unsent_version(rep, deal, eager):
    quote = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    deal.contact.email = ""
    deal.contact.save()
    with pytest.raises(ValidationError):
        quote_send_request(actor=rep, quote=quote)
    assert not mail.outbox


# The pages --------------------------------------------------------------------------------


def test_issue_download_and_send_pages(
    client_for, rep, deal, eager, django_capture_on_commit_callbacks
):
    client = client_for(rep)
    response = client.post(
        reverse("opportunities:quote-issue", args=[deal.pk]),
        {"valid_until": _valid_until().isoformat(), "terms": "Pago a 30 días"},
        follow=True,
    )
    quote = Quote.objects.get()
    assert f"Cotización {quote.number}, versión 1, emitida." in response.content.decode()
    pdf = client.get(reverse("opportunities:quote-pdf", args=[quote.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert f'filename="{quote.number}-v1.pdf"' in pdf["Content-Disposition"]
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("opportunities:quote-send", args=[quote.pk]), follow=True)
    assert "se está enviando a elena@bustamante.mx" in response.content.decode()
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("opportunities:quote-send", args=[quote.pk]), follow=True)
    assert "ya se envió" in response.content.decode()
    assert len(mail.outbox) == 1


def test_issue_without_lines_shows_the_message(client_for, rep):
    deal = OpportunityFactory(owner=rep)
    response = client_for(rep).post(
        reverse("opportunities:quote-issue", args=[deal.pk]),
        {"valid_until": _valid_until().isoformat()},
        follow=True,
    )
    assert "Añade al menos una línea" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("rep", 200),
        ("manager", 200),
        ("admin_user", 200),
        ("other_rep", 404),
        ("support", 404),
        ("marketing", 404),
    ],
)
def test_quote_pdf_per_role(request, client_for, rep, deal, role, expected):
    quote = quote_issue(actor=rep, opportunity=deal, valid_until=_valid_until())
    client = client_for(request.getfixturevalue(role))
    assert client.get(reverse("opportunities:quote-pdf", args=[quote.pk])).status_code == expected
    response = client.post(reverse("opportunities:quote-send", args=[quote.pk]))
    assert response.status_code == (302 if expected == 200 else 404)
