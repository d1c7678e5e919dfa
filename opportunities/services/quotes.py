"""Quotes (cotizaciones): issuing a numbered, versioned PDF from the deal's lines, and sending it.

A quote is a snapshot: the figures and the PDF stay as they were issued, whatever happens to the
lines afterwards. Re-issuing a deal's quote keeps its number and adds a version; every version
is kept. Sending is idempotent: a version already sent is not sent again.
"""

import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.models import User
from crm.core.queue import enqueue_on_commit
from opportunities.models import LineItem, Opportunity, Quote
from opportunities.selectors.pipeline import summarize_lines
from opportunities.services.pipeline import _check_editable

logger = logging.getLogger(__name__)

NUMBER_DIGITS = 6


def quote_default_terms() -> str:
    return _(
        "Precios sujetos a la vigencia indicada. Forma de pago: 50 % al confirmar el pedido y "
        "50 % a la entrega. Tiempo de entrega a confirmar según disponibilidad."
    )


def _next_number(year: int) -> str:
    prefix = f"COT-{year}-"
    last = Quote.objects.filter(number__startswith=prefix).aggregate(m=Max("number"))["m"]
    sequence = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{sequence:0{NUMBER_DIGITS}d}"


def _snapshot(lines: list[LineItem]) -> tuple[list[dict], dict]:
    summary = summarize_lines(lines)
    snapshot = [
        {
            "description": row.line.description,
            "sku": row.line.product.sku if row.line.product else "",
            "quantity": str(row.line.quantity),
            "unit_price": str(row.line.unit_price),
            "discount_pct": str(row.line.discount_pct),
            "tax_rate": str(row.line.tax_rate),
            "net": str(row.net),
            "tax": str(row.tax),
        }
        for row in summary.rows
    ]
    totals = {
        "subtotal": summary.subtotal,
        "tax_total": summary.tax_total,
        "total": summary.total,
    }
    return snapshot, totals


def quote_taxes(quote: Quote) -> list[dict]:
    """The taxes of a quote grouped by rate, from its snapshot: [{rate, base, tax}]."""
    groups: dict[Decimal, dict] = {}
    for line in quote.lines:
        rate = Decimal(line["tax_rate"]).normalize()
        group = groups.setdefault(rate, {"rate": rate, "base": Decimal(0), "tax": Decimal(0)})
        group["base"] += Decimal(line["net"])
        group["tax"] += Decimal(line["tax"])
    return [groups[rate] for rate in sorted(groups)]


def _logo_uri() -> str:
    logo = settings.COMPANY.get("logo") or ""
    if not logo:
        return ""
    path = finders.find(logo)
    return Path(path).as_uri() if path else ""


def quote_render_pdf(quote: Quote) -> bytes:
    """The quote as PDF bytes, through WeasyPrint (imported here: the app starts without it)."""
    from weasyprint import HTML

    opportunity = quote.opportunity
    lines = [
        {
            **line,
            **{
                key: Decimal(line[key])
                for key in ("quantity", "unit_price", "discount_pct", "tax_rate", "net", "tax")
            },
        }
        for line in quote.lines
    ]
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(
            "opportunities/quotes/quote_pdf.html",
            {
                "quote": quote,
                "opportunity": opportunity,
                "account": opportunity.account,
                "contact": opportunity.contact,
                "owner": opportunity.owner,
                "lines": lines,
                "taxes": quote_taxes(quote),
                "company": settings.COMPANY,
                "logo_uri": _logo_uri(),
            },
        )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


@transaction.atomic
def quote_issue(
    *, actor: User, opportunity: Opportunity, valid_until: date, terms: str = ""
) -> Quote:
    """Issue the deal's quote (or its next version) from the current lines, with its PDF."""
    _check_editable(actor=actor, opportunity=opportunity)
    opportunity = (
        Opportunity.objects.select_for_update(of=("self",))
        .select_related("account", "contact", "owner")
        .get(pk=opportunity.pk)
    )
    lines = list(opportunity.line_items.select_related("product"))
    if not lines:
        raise ValidationError(_("Añade al menos una línea antes de emitir la cotización."))
    if valid_until < timezone.localdate():
        raise ValidationError({"valid_until": _("La vigencia no puede estar en el pasado.")})
    snapshot, totals = _snapshot(lines)
    previous = opportunity.quotes.order_by("-version").first()
    for _attempt in range(5):
        quote = Quote(
            opportunity=opportunity,
            number=previous.number if previous else _next_number(timezone.localdate().year),
            version=previous.version + 1 if previous else 1,
            created_by=actor,
            valid_until=valid_until,
            terms=terms.strip(),
            currency=opportunity.currency,
            lines=snapshot,
            **totals,
        )
        quote.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                quote.save()
        except IntegrityError:
            # Another deal took that number at the same instant: take the next one.
            if previous:
                raise
            continue
        break
    else:  # pragma: no cover - five collisions in a row
        raise ValidationError(_("No se pudo numerar la cotización; inténtalo de nuevo."))
    quote.opportunity = opportunity
    quote.pdf.save(f"{quote.number}-v{quote.version}.pdf", ContentFile(quote_render_pdf(quote)))
    return quote


@transaction.atomic
def quote_send_request(*, actor: User, quote: Quote) -> Quote:
    """Queue the email of this version to the deal's contact (the task sends it once)."""
    _check_editable(actor=actor, opportunity=quote.opportunity)
    quote = Quote.objects.select_related("opportunity__contact").get(pk=quote.pk)
    contact = quote.opportunity.contact
    if contact is None or not contact.email:
        raise ValidationError(
            _("La oportunidad no tiene un contacto con correo electrónico al que enviarla.")
        )
    if quote.sent_at is not None:
        raise ValidationError(
            _("La versión %(version)s ya se envió a %(email)s.")
            % {"version": quote.version, "email": quote.sent_to}
        )
    enqueue_on_commit("opportunities.quote_send", [quote.pk])
    return quote


@transaction.atomic
def quote_email(*, quote_id: int) -> bool:
    """Email the quote's PDF to the deal's contact, unless this version was already sent.

    The row is locked while sending, so two workers running the task at once send one email.
    Returns whether an email was sent.
    """
    quote = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("opportunity", "opportunity__contact", "opportunity__owner")
        .get(pk=quote_id)
    )
    if quote.sent_at is not None:
        return False
    contact = quote.opportunity.contact
    if contact is None or not contact.email:
        logger.warning("quote %s has no contact email; not sent", quote.pk)
        return False
    owner = quote.opportunity.owner
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "quote": quote,
            "contact": contact,
            "owner": owner,
            "company": settings.COMPANY,
        }
        subject = _("Cotización %(number)s (versión %(version)s) — %(company)s") % {
            "number": quote.number,
            "version": quote.version,
            "company": settings.COMPANY["name"],
        }
        body = render_to_string("opportunities/quotes/quote_email.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        to=[contact.email],
        reply_to=[owner.email] if owner.email else None,
    )
    if not quote.pdf:
        quote.pdf.save(f"{quote.number}-v{quote.version}.pdf", ContentFile(quote_render_pdf(quote)))
    with quote.pdf.open("rb") as pdf:
        message.attach(f"{quote.number}-v{quote.version}.pdf", pdf.read(), "application/pdf")
    message.send()
    quote.sent_at = timezone.now()
    quote.sent_to = contact.email
    quote.save(update_fields=["sent_at", "sent_to"])
    return True
