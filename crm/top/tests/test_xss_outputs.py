"""Script stored in text fields, in what leaves the pages (issue 13 §5): the quote PDF, a ticket
reply's email and a campaign's email show it as text. (The pages themselves: the browser test
crm/top/tests/browser/test_xss.py.)"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import content
from campaigns.tests.factories import CampaignFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from crm.core.tests.pdf import pdf_text
from opportunities.models import Quote
from opportunities.services.quotes import quote_render_pdf
from opportunities.tests.factories import OpportunityFactory
from support.services.comments import comment_reply_message
from support.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("xss")</script>'
IMAGE = '"><img src=x onerror=alert(1)>'


def test_the_quote_pdf_prints_a_payload_as_text(rep):
    opportunity = OpportunityFactory(owner=rep, name=f"Bodega {IMAGE}")
    quote = Quote.objects.create(
        opportunity=opportunity,
        number="COT-2026-0099",
        version=1,
        created_by=rep,
        valid_until=timezone.localdate() + timedelta(days=30),
        terms=f"Pago a 30 días {SCRIPT}",
        currency="MXN",
        subtotal=Decimal("100"),
        tax_total=Decimal("16"),
        total=Decimal("116"),
    )
    text = " ".join(pdf_text(quote_render_pdf(quote)).split())
    assert f"Pago a 30 días {SCRIPT}" in text
    assert "onerror=alert(1)>" in text


def test_a_ticket_reply_email_escapes_the_reply_and_the_names(rep, support):
    contact = ContactFactory(owner=rep, first_name=SCRIPT, email="martin@ejemplo.mx")
    ticket = TicketFactory(account=contact.account, contact=contact, subject=f"Falla {IMAGE}")
    comment = CommentFactory(ticket=ticket, author=support, kind="respuesta", body=SCRIPT)
    message = comment_reply_message(comment)
    (html, _mime) = message.alternatives[0]
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_a_campaign_email_escapes_merge_values(marketing):
    contact = ContactFactory(first_name=SCRIPT, job_title=IMAGE)
    campaign = CampaignFactory(
        created_by=marketing,
        html_body=content.sanitize_html("<p>Hola {{ nombre }}, {{ puesto }}</p>"),
    )
    contact = Contact.objects.select_related("account", "owner").get(pk=contact.pk)
    rendered = content.compile_message(campaign, tracking=False).render(content.merge_data(contact))
    assert "<script" not in rendered.html and "<img src=x" not in rendered.html
    assert "Hola &lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in rendered.html


def test_a_campaign_body_loses_its_scripts_when_saved():
    cleaned = content.sanitize_html(
        f'<p>Oferta</p>{SCRIPT}<a href="javascript:alert(1)">ver</a>{IMAGE}'
        '<a href="data:text/html,x">otra</a>'
    )
    assert "<script" not in cleaned and "javascript:" not in cleaned
    assert "onerror" not in cleaned and "data:text" not in cleaned
