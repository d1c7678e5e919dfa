"""A person's data rights (issue 10): access and erasure of everything held about a contact.

Derechos ARCO (Mexico's LFPDPPP) and GDPR (Spain) ask two things of us. Access: everything we
hold about the person, readable (a PDF) and portable (JSON), `person_data` / `person_pdf`.
Erasure: `person_erase` anonymises the person instead of deleting rows, because some of what
mentions them must stay: the consent ledger and the audit trail are the legal proof of what we
did with their data and when, and the sales figures (amounts, stages, sends, scores) belong to
the company's statistics. What identifies the person goes, in the live rows and in the history
tables too (an erasure that leaves the old values in the history is no erasure).

The data spans every app, so this module sits at the top floor (crm.top). Every relation from
another model to Contact must be named in RELATIONS (crm/top/tests/test_privacy.py fails,
naming the model, when a new one is not): a new model holding something about a person is
decided here, for the export and for the erasure, before it ships.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.models import (
    AutomationDelivery,
    FormSubmission,
    Segment,
    SegmentMember,
    Send,
    Suppression,
    TrackingEvent,
)
from campaigns.services.signup import submissions_erase
from campaigns.services.suppression import suppress
from contacts.imports.models import ImportedRecord
from contacts.models import Consent, ConsentLatest, Contact, ScoreChange
from contacts.services import consent_record
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.text import digits, search_text
from opportunities.models import Activity, LeadAssignment, Opportunity, Quote
from support.models import Comment, ContactSatisfaction, Survey, Ticket

# Every relation to Contact (`Contact._meta.get_fields(include_hidden=True)`, as
# "app.Model.field") and the section of the export that holds it. Erasure of each: see
# `person_erase`.
RELATIONS: dict[str, str] = {
    "contacts.Consent.contact": "consents",
    "contacts.ConsentLatest.contact": "consent_current",
    "opportunities.Opportunity.contact": "opportunities",
    "opportunities.Activity.contact": "activities",
    "opportunities.LeadAssignment.contact": "lead_assignments",
    "campaigns.Segment.members": "segments",
    "campaigns.SegmentMember.contact": "segments",
    "campaigns.Send.contact": "campaign_sends",
    "campaigns.TrackingEvent.contact": "tracking_events",
    "campaigns.FormSubmission.contact": "form_submissions",
    "campaigns.AutomationDelivery.contact": "automation_deliveries",
    # Scores and the rules that gave them: nothing the person typed; kept on erasure.
    "contacts.ScoreChange.contact": "score_changes",
    "support.Ticket.contact": "tickets",
    "support.Survey.contact": "surveys",
    "support.ContactSatisfaction.contact": "satisfaction",
    # Duplicates folded into this contact (crm.top.merge): the same person, erased with them.
    "contacts.Contact.merged_into": "merged_contacts",
    "contacts.HistoricalContact.merged_into": "merged_contacts",
}

# The contact's fields that identify the person, and what erasure leaves in them.
PERSONAL_FIELDS: dict[str, object] = {
    "last_name": "",
    "email": "",
    "phone": "",
    "mobile": "",
    "job_title": "",
    "street": "",
    "city": "",
    "region": "",
    "postal_code": "",
    "birthday": None,
    "time_zone": "",
    "notes": "",
}
# Internal copies derived from the fields (never shown, rebuilt on save).
INTERNAL_FIELDS = {"search_text", "phone_digits", "mobile_digits"}
# A campaign send keeps its row (the campaign's figures) under an address that is nobody's:
# `.invalid` is reserved (RFC 2606); the send's id keeps the ledger's (campaign, email) unique.
SEND_ADDRESS = "suprimido-{pk}@anonimo.invalid"
SEND_ADDRESS_SUFFIX = "@anonimo.invalid"


def relation_key(relation) -> str:
    return f"{relation.related_model._meta.label}.{relation.field.name}"


def contact_relations() -> list:
    """Every relation from another model (or another contact) to Contact, hidden ones too."""
    return [
        f
        for f in Contact._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete
    ]


def erased_name() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Persona eliminada")


def redacted_text() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("[dato eliminado]")


# --- Access: everything held about the person -----------------------------------------------


def _display(obj: models.Model, name: str):
    """A field's value as a person reads it: labels for choices, names for relations."""
    model_field = obj._meta.get_field(name)
    if model_field.is_relation:
        related = getattr(obj, name)
        return str(related) if related is not None else None
    if model_field.choices:
        return getattr(obj, f"get_{name}_display")()
    return getattr(obj, name)


def _user(user) -> str | None:
    return str(user) if user is not None else None


def _contact_fields(contact: Contact) -> dict:
    return {
        f.name: _display(contact, f.name)
        for f in Contact._meta.concrete_fields
        if f.name not in INTERNAL_FIELDS
    }


def _consents(contact: Contact) -> list[dict]:
    entries = contact.consents.select_related("topic", "recorded_by").order_by("at", "id")
    return [
        {
            "at": entry.at,
            "channel": entry.get_channel_display(),
            "topic": entry.topic.name if entry.topic else None,
            "action": entry.get_action_display(),
            "source": entry.get_source_display(),
            "legal_basis": entry.get_legal_basis_display(),
            "text_version": entry.text_version,
            "ip_address": entry.ip_address,
            "user_agent": entry.user_agent,
            "recorded_by": _user(entry.recorded_by),
            "note": entry.note,
        }
        for entry in entries
    ]


def _consent_current(contact: Contact) -> list[dict]:
    rows = ConsentLatest.objects.filter(contact=contact).select_related("topic", "entry")
    return [
        {
            "channel": row.get_channel_display(),
            "topic": row.topic.name if row.topic else None,
            "action": row.get_action_display(),
            "since": row.entry.at,
        }
        for row in rows.order_by("channel", "topic__name")
    ]


def _activities(contact: Contact) -> list[dict]:
    rows = Activity.objects.filter(contact=contact).select_related("owner", "opportunity")
    return [
        {
            "id": a.pk,
            "kind": a.get_kind_display(),
            "status": a.get_status_display(),
            "subject": a.subject,
            "planned_at": a.planned_at,
            "done_at": a.done_at,
            "duration_minutes": a.duration_minutes,
            "place": a.place,
            "outcome": a.outcome,
            "notes": a.notes,
            "owner": _user(a.owner),
            "opportunity": a.opportunity.name if a.opportunity else None,
        }
        for a in rows.order_by("created_at", "id")
    ]


def _opportunities(contact: Contact) -> list[dict]:
    rows = Opportunity.objects.filter(contact=contact).select_related("stage", "owner")
    return [
        {
            "id": o.pk,
            "name": o.name,
            "stage": o.stage.name,
            "amount": o.amount,
            "currency": o.currency,
            "expected_close_date": o.expected_close_date,
            "closed_at": o.closed_at,
            "owner": _user(o.owner),
            "description": o.description,
            "quotes_sent_to": sorted({q.sent_to for q in o.quotes.all() if q.sent_to}),
        }
        for o in rows.prefetch_related("quotes").order_by("created_at", "id")
    ]


def _tickets(contact: Contact) -> list[dict]:
    rows = (
        Ticket.objects.filter(contact=contact)
        .select_related("assignee")
        .prefetch_related("comments__author", "attachments")
        .order_by("created_at", "id")
    )
    return [
        {
            "number": t.number,
            "subject": t.subject,
            "description": t.description,
            "category": t.get_category_display(),
            "channel": t.get_channel_display(),
            "priority": t.get_priority_display(),
            "status": t.get_status_display(),
            "created_at": t.created_at,
            "closed_at": t.closed_at,
            "assignee": _user(t.assignee),
            "resolution": t.resolution,
            "comments": [
                {
                    "at": c.created_at,
                    "kind": c.get_kind_display(),
                    "public": c.is_public,
                    "author": _user(c.author),
                    "body": c.body,
                }
                for c in t.comments.all()
            ],
            "attachments": [a.filename for a in t.attachments.all()],
        }
        for t in rows
    ]


def _surveys(contact: Contact) -> list[dict]:
    rows = Survey.objects.filter(contact=contact).select_related("ticket", "round")
    return [
        {
            "kind": s.get_kind_display(),
            "ticket": s.ticket.number if s.ticket else None,
            "round": s.round.name if s.round else None,
            "sent_at": s.sent_at,
            "answered_at": s.answered_at,
            "score": s.score,
            "comment": s.comment,
        }
        for s in rows.order_by("created_at", "id")
    ]


def _satisfaction(contact: Contact) -> dict | None:
    row = ContactSatisfaction.objects.filter(contact=contact).first()
    if row is None:
        return None
    return {"level": row.get_level_display(), "answers": row.answers, "updated_at": row.updated_at}


def _campaign_sends(contact: Contact) -> list[dict]:
    rows = Send.objects.filter(contact=contact).select_related("campaign")
    return [
        {
            "campaign": s.campaign.name,
            "email": s.email,
            "status": s.get_status_display(),
            "sent_at": s.sent_at,
            "first_opened_at": s.first_opened_at,
            "first_clicked_at": s.first_clicked_at,
            "bounced_at": s.bounced_at,
        }
        for s in rows.order_by("id")
    ]


def _tracking_events(contact: Contact) -> list[dict]:
    rows = TrackingEvent.objects.filter(contact=contact).select_related("campaign", "link")
    return [
        {
            "campaign": e.campaign.name,
            "kind": e.get_kind_display(),
            "at": e.at,
            "link": e.link.url if e.link else None,
            "automatic": e.is_machine,
            "ip_address": e.ip_address,
            "user_agent": e.user_agent,
            "detail": e.detail,
        }
        for e in rows.order_by("at", "id")
    ]


def _form_submissions(contact: Contact) -> list[dict]:
    rows = FormSubmission.objects.filter(contact=contact).select_related("form", "topic")
    return [
        {
            "form": s.form.name,
            "at": s.created_at,
            "status": s.get_status_display(),
            "confirmed_at": s.confirmed_at,
            "consent_version": s.consent_version,
            "topic": s.topic.name if s.topic else None,
            "email": s.email,
            "values": s.values,
            "utm": {
                key: getattr(s, key)
                for key in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
                if getattr(s, key)
            },
            "referrer": s.referrer,
            "ip_address": s.ip_address,
            "user_agent": s.user_agent,
        }
        for s in rows.order_by("created_at", "id")
    ]


def _automation_deliveries(contact: Contact) -> list[dict]:
    rows = AutomationDelivery.objects.filter(contact=contact).select_related("automation", "step")
    return [
        {
            "automation": d.automation.name,
            "step": d.step.order,
            "occurrence": d.occurrence,
            "email": d.email,
            "status": d.get_status_display(),
            "due_at": d.due_at,
            "sent_at": d.sent_at,
            "reason": d.reason,
        }
        for d in rows.order_by("due_at", "id")
    ]


def _lead_assignments(contact: Contact) -> list[dict]:
    rows = LeadAssignment.objects.filter(contact=contact).select_related("rep")
    return [
        {
            "rep": str(a.rep),
            "assigned_at": a.assigned_at,
            "status": a.get_status_display(),
            "reject_reason": a.get_reject_reason_display() if a.reject_reason else "",
            "reject_note": a.reject_note,
            "responded_at": a.responded_at,
        }
        for a in rows.order_by("assigned_at", "id")
    ]


def _score_changes(contact: Contact) -> list[dict]:
    rows = ScoreChange.objects.filter(contact=contact).order_by("at", "id")
    return [
        {
            "at": c.at,
            "old_score": c.old_score,
            "new_score": c.new_score,
            "reason": c.get_reason_display(),
            "breakdown": c.breakdown,
            "became_mql": c.became_mql,
        }
        for c in rows
    ]


def _segments(contact: Contact) -> list[str]:
    return list(
        Segment.objects.filter(memberships__contact=contact)
        .order_by("name")
        .values_list("name", flat=True)
    )


def _merged_contacts(contact: Contact) -> list[dict]:
    return [
        {"id": c.pk, "name": c.full_name, "email": c.email, "merged_at": c.merged_at}
        for c in Contact.objects.filter(merged_into=contact).order_by("id")
    ]


def _history_value(model_field, value):
    """An old or new value of the history as a person reads it (dates stay dates)."""
    if value in (None, ""):
        return None
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if model_field.is_relation:
        related = model_field.related_model._default_manager.filter(pk=value).first()
        return str(related) if related is not None else value
    return value


def _history(contact: Contact) -> list[dict]:
    """What changed when, and who changed it (django-simple-history's records, oldest first)."""
    records = list(contact.history.select_related("history_user").order_by("history_date"))
    types = {"+": _("Alta"), "~": _("Modificación"), "-": _("Eliminación")}
    entries = []
    for index, record in enumerate(records):
        changes = []
        if index and record.history_type == "~":
            for change in record.diff_against(records[index - 1]).changes:
                model_field = Contact._meta.get_field(change.field)
                changes.append(
                    {
                        "field": str(model_field.verbose_name),
                        "old": _history_value(model_field, change.old),
                        "new": _history_value(model_field, change.new),
                    }
                )
        entries.append(
            {
                "at": record.history_date,
                "type": types.get(record.history_type, record.history_type),
                "user": _user(record.history_user),
                "reason": record.history_change_reason or "",
                "changes": changes,
            }
        )
    return entries


def _audit_events(contact: Contact) -> list[dict]:
    rows = AuditEvent.objects.filter(target=f"contacts.contact:{contact.pk}")
    return [
        {
            "at": e.at,
            "action": e.get_action_display(),
            "actor": _user(e.actor),
            "detail": e.detail,
        }
        for e in rows.select_related("actor").order_by("at", "id")
    ]


SECTIONS = {
    "consents": _consents,
    "consent_current": _consent_current,
    "activities": _activities,
    "lead_assignments": _lead_assignments,
    "opportunities": _opportunities,
    "tickets": _tickets,
    "surveys": _surveys,
    "satisfaction": _satisfaction,
    "campaign_sends": _campaign_sends,
    "tracking_events": _tracking_events,
    "form_submissions": _form_submissions,
    "automation_deliveries": _automation_deliveries,
    "score_changes": _score_changes,
    "segments": _segments,
    "merged_contacts": _merged_contacts,
}


def _unregistered(contact: Contact) -> dict:
    """Rows of relations nobody has decided about yet (the test names them): exported as they
    are, so that an access request never silently misses what a new model holds."""
    found = {}
    for relation in contact_relations():
        key = relation_key(relation)
        if key in RELATIONS:
            continue
        model = relation.related_model
        rows = model._default_manager.filter(**{relation.field.name: contact})
        found[key] = [
            {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}
            for row in rows[:1000]
        ]
    return found


def person_get(pk: int) -> Contact:
    """The contact whose rights are exercised, archived, merged or erased alike (raises
    Contact.DoesNotExist); only administrators reach it, and they see every contact."""
    return Contact.objects.select_related("account", "owner").get(pk=pk)


def person_data(contact: Contact) -> dict:
    """Everything held about the person, in Python values (the JSON view encodes dates and
    money with DjangoJSONEncoder; the PDF formats them). Read afresh from the database, so
    that a caller holding an instance from before an erasure gets what is stored now."""
    contact = Contact.objects.select_related("account", "owner").get(pk=contact.pk)
    data = {
        "generated_at": timezone.now(),
        "contact": _contact_fields(contact),
        "account": (
            {
                "id": contact.account.pk,
                "name": contact.account.name,
                "legal_name": contact.account.legal_name,
            }
            if contact.account
            else None
        ),
        "owner": _user(contact.owner),
        "tags": sorted(contact.tags.names()),
    }
    for name, collect in SECTIONS.items():
        data[name] = collect(contact)
    data["history"] = _history(contact)
    data["audit_events"] = _audit_events(contact)
    other = _unregistered(contact)
    if other:
        data["other"] = other
    return data


def _contact_rows(contact_data: dict) -> list[tuple[str, object]]:
    rows = []
    for name, value in contact_data.items():
        if value in (None, "") or name == "id":
            continue
        rows.append((str(Contact._meta.get_field(name).verbose_name), value))
    return rows


def person_pdf(contact: Contact) -> bytes:
    """The same data as a readable PDF in Spanish (WeasyPrint, imported here: heavy)."""
    from weasyprint import HTML

    contact = Contact.objects.get(pk=contact.pk)
    with translation.override(settings.LANGUAGE_CODE):
        data = person_data(contact)
        html = render_to_string(
            "top/privacy/person_pdf.html",
            {
                "contact": contact,
                "data": data,
                "contact_rows": _contact_rows(data["contact"]),
                "company": settings.COMPANY,
            },
        )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


# --- Erasure ---------------------------------------------------------------------------------


@dataclass
class Erasure:
    """What an erasure did: `changed` is False when there was nothing left to erase."""

    contact: Contact
    already_erased: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.counts.values())


class Scrubber:
    """Replaces the person's identifiers (names, addresses, phone numbers) inside text that
    we keep because it is someone else's work (a rep's opportunity name, a support reply)."""

    def __init__(self, *, phrases: set[str], phones: set[str]):
        alternatives = [re.escape(p) for p in sorted(phrases, key=len, reverse=True) if p]
        for number in sorted(phones, key=len, reverse=True):
            # The number in any format: "+52 55 1234 5678", "(55) 1234-5678", "5512345678".
            alternatives.append(r"\+?" + r"[\s().-]*".join(re.escape(d) for d in number))
        self.pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
            if alternatives
            else None
        )
        self.replacement = redacted_text()

    def __call__(self, text: str) -> str:
        if not text or self.pattern is None:
            return text
        return self.pattern.sub(self.replacement, text)


def _identifiers(contact: Contact, *, strict: bool, emails: set[str]) -> Scrubber:
    """The person's identifiers, current and past (the history keeps older names, addresses).

    strict: only what identifies them anywhere (full name, email, phone, street), for text not
    tied to them (their account's activities); otherwise their first and last names alone too,
    for text about them (their tickets, their deals)."""
    values = [
        {n: getattr(contact, n) for n in ("first_name", "last_name", "email", "phone", "mobile")}
        | {"street": contact.street}
    ]
    values += list(
        contact.history.values("first_name", "last_name", "email", "phone", "mobile", "street")
    )
    phrases, phones = set(emails), set()
    for row in values:
        first, last = (row["first_name"] or "").strip(), (row["last_name"] or "").strip()
        if first == erased_name():
            continue
        phrases.add(f"{first} {last}".strip() if last else "")
        phrases.update({row["email"] or "", (row["street"] or "").strip()})
        if not strict:
            phrases.update(p for p in (first, last) if len(p) >= 3)
        for number in (row["phone"], row["mobile"]):
            number_digits = digits(number)
            if len(number_digits) >= 7:
                phones.add(number_digits[-10:])
    return Scrubber(phrases={p for p in phrases if len(p) >= 3}, phones=phones)


def _person_emails(contact: Contact) -> set[str]:
    emails = {contact.email}
    emails.update(contact.history.values_list("email", flat=True))
    emails.update(Send.objects.filter(contact=contact).values_list("email", flat=True))
    imported = ImportedRecord.objects.filter(
        model=ImportedRecord.Model.CONTACT, object_id=contact.pk
    )
    for changes in imported.values_list("changes", flat=True):
        emails.update(v for v in (changes or {}).get("email", []) if isinstance(v, str))
    return {e.strip().lower() for e in emails if e and not e.lower().endswith(SEND_ADDRESS_SUFFIX)}


def _update_texts(queryset, fields: tuple[str, ...], transform, *, load=()) -> int:
    """Rewrite `fields` of each row through `transform(row, field, value)` (`load`: more fields
    the transform reads); the number of rows changed."""
    changed = 0
    for row in queryset.only("pk", *fields, *load):
        new = {f: transform(row, f, getattr(row, f)) for f in fields}
        new = {f: v for f, v in new.items() if v != getattr(row, f)}
        if new:
            queryset.model._default_manager.filter(pk=row.pk).update(**new)
            changed += 1
    return changed


def _erase_contact(contact: Contact, *, actor: User, now: datetime) -> int:
    """The contact's own fields, tags included: the name becomes «Persona eliminada»."""
    if contact.erased_at is not None:
        return 0
    for name, value in PERSONAL_FIELDS.items():
        setattr(contact, name, value)
    contact.first_name = erased_name()
    contact.archived_at = contact.archived_at or now
    contact.erased_at = now
    with translation.override(settings.LANGUAGE_CODE):
        contact._change_reason = _("Datos personales eliminados")
    contact._history_user = actor
    contact.save()
    contact.tags.clear()
    return 1


def _erase_history(contact: Contact) -> int:
    """The contact's history tables lose the old values too, or the erasure would be fake."""
    anonymous = {"first_name": erased_name(), **PERSONAL_FIELDS}
    differs = Q()
    for name, value in anonymous.items():
        differs |= Q(**{f"{name}__isnull": False}) if value is None else ~Q(**{name: value})
    return contact.history.filter(differs).update(**anonymous)


def _history_reasons(contact: Contact, scrub: Scrubber) -> int:
    return _update_texts(
        contact.history.exclude(history_change_reason=None).exclude(history_change_reason=""),
        ("history_change_reason",),
        lambda row, name, value: scrub(value),
    )


def _withdraw_consents(contact: Contact, *, actor: User) -> int:
    """Every consent still granted gets its withdrawal, appended to the ledger like any other
    (the ledger itself is kept, untouched: it is the proof)."""
    with translation.override(settings.LANGUAGE_CODE):
        note = _("Supresión de datos personales (derechos ARCO / RGPD).")
    granted = ConsentLatest.objects.filter(contact=contact, action=Consent.Action.GRANT)
    count = 0
    for row in granted.select_related("topic", "entry"):
        consent_record(
            contact=contact,
            action=Consent.Action.WITHDRAW,
            channel=row.channel,
            topic=row.topic,
            source=Consent.Source.STAFF,
            actor=actor,
            legal_basis=row.entry.legal_basis,
            note=note,
        )
        count += 1
    return count


def _suppress_addresses(emails: set[str], *, actor: User) -> int:
    """The person's addresses go on the suppression list: the one place their address stays.

    The contact has no address left, but the same address may come back (an import, a sign-up
    form, a colleague typing it): the list is what keeps campaigns from writing to it, and it
    matches addresses by equality, so it needs the address itself. Keeping it to honour the
    person's objection is allowed (GDPR art. 17.3, 21; LFPDPPP's bloqueo). The note names no one.
    """
    with translation.override(settings.LANGUAGE_CODE):
        note = _("Supresión de datos personales (derechos ARCO / RGPD).")
    added = 0
    for email in sorted(emails):
        if Suppression.objects.filter(email=email).exists():
            continue
        try:
            entry = suppress(email=email, reason=Suppression.Reason.MANUAL, note=note)
        except ValidationError:  # an address that was never valid: nothing to send to
            continue
        Suppression.objects.filter(pk=entry.pk, created_by=None).update(created_by=actor)
        added += 1
    return added


def _erase_activities(contact: Contact, scrub: Scrubber, account_scrub: Scrubber) -> int:
    """Notes and outcomes of the person's activities are blanked (what was said with them);
    subject and place keep the rep's words without the person's identifiers. The account's
    other activities lose the identifiers only."""
    blank = ("notes", "outcome")
    count = _update_texts(
        Activity.objects.filter(contact=contact),
        ("subject", "place", *blank),
        lambda row, name, value: "" if name in blank else scrub(value),
    )
    if contact.account_id:
        count += _update_texts(
            Activity.objects.filter(account_id=contact.account_id).exclude(contact=contact),
            ("subject", "place", "outcome", "notes"),
            lambda row, name, value: account_scrub(value),
        )
    return count


def _erase_opportunities(contact: Contact, scrub: Scrubber, emails: set[str]) -> int:
    """Deals keep stage, amount, dates (sales figures); their words lose the identifiers."""
    count = _update_texts(
        Opportunity.objects.filter(contact=contact),
        ("name", "description", "lost_reason", "won_reason"),
        lambda row, name, value: scrub(value),
    )
    if emails:
        count += Quote.objects.filter(
            opportunity__contact=contact, sent_to__in=list(emails)
        ).update(sent_to="")
    return count


def _erase_tickets(contact: Contact, scrub: Scrubber) -> int:
    """The customer's own words (the ticket's description, their messages) are removed; the
    staff's replies and notes lose the identifiers; SLA times, status and category stay."""
    tickets = Ticket.objects.filter(contact=contact)
    redacted = redacted_text()

    def ticket_text(row, name, value):
        return "" if name == "description" else scrub(value)

    count = _update_texts(tickets, ("subject", "description", "resolution"), ticket_text)
    for ticket in tickets.only("pk", "number", "subject", "search_text"):
        wanted = search_text(ticket.number, ticket.subject)
        if ticket.search_text != wanted:
            Ticket.objects.filter(pk=ticket.pk).update(search_text=wanted)

    def comment_text(row, name, value):
        if row.kind == Comment.Kind.CUSTOMER:
            return redacted
        return scrub(value)

    count += _update_texts(
        Comment.objects.filter(ticket__contact=contact), ("body",), comment_text, load=("kind",)
    )
    return count


def _erase_surveys(contact: Contact) -> int:
    """The person's comments go; scores stay (CSAT and NPS figures)."""
    return Survey.objects.filter(contact=contact).exclude(comment="").update(comment="")


def _erase_campaigns(contact: Contact, scrub: Scrubber) -> int:
    """Sends stay (the campaign's figures) without the address; tracking events stay without
    the person's IP address and browser."""
    count = 0
    sends = Send.objects.filter(contact=contact).exclude(email__endswith=SEND_ADDRESS_SUFFIX)
    for send in sends.only("pk"):
        Send.objects.filter(pk=send.pk).update(email=SEND_ADDRESS.format(pk=send.pk))
        count += 1
    count += _update_texts(
        Send.objects.filter(contact=contact), ("error",), lambda row, name, value: scrub(value)
    )
    events = TrackingEvent.objects.filter(contact=contact)
    count += events.filter(~Q(user_agent="") | Q(ip_address__isnull=False)).update(
        ip_address=None, user_agent=""
    )
    count += _update_texts(events, ("detail",), lambda row, name, value: scrub(value))
    count += SegmentMember.objects.filter(contact=contact).delete()[0]
    # Automation deliveries stay (the automation's figures) without the address; any still
    # pending is skipped at its claim (the address is suppressed above).
    deliveries = AutomationDelivery.objects.filter(contact=contact).exclude(
        email__endswith=SEND_ADDRESS_SUFFIX
    )
    for delivery in deliveries.only("pk"):
        AutomationDelivery.objects.filter(pk=delivery.pk).update(
            email=SEND_ADDRESS.format(pk=f"a{delivery.pk}")
        )
        count += 1
    return count


def _erase_imported_records(contact: Contact) -> int:
    """An import's record of what it changed keeps the before and after values of the fields:
    the person's fields there take the erased values (the undo then restores nothing of them)."""
    anonymous = {"first_name": erased_name(), **PERSONAL_FIELDS}
    count = 0
    rows = ImportedRecord.objects.filter(model=ImportedRecord.Model.CONTACT, object_id=contact.pk)
    for record in rows.only("pk", "changes"):
        changes = dict(record.changes or {})
        for name in changes.keys() & anonymous.keys():
            value = anonymous[name]
            changes[name] = [value, value]
        if changes != record.changes:
            ImportedRecord.objects.filter(pk=record.pk).update(changes=changes)
            count += 1
    return count


def _check_admin(actor: User) -> None:
    if not getattr(actor, "is_admin_role", False):
        raise PermissionDenied(_("Solo un administrador ejerce los derechos sobre los datos."))


@transaction.atomic
def person_erase(*, actor: User, contact: Contact, reason: str) -> Erasure:
    """Erase the person: anonymise, never delete. Idempotent: a second run finds nothing to
    do, changes nothing, audits nothing, and says so (`Erasure.changed`)."""
    _check_admin(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Escribe el motivo de la supresión.")})
    contact = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
    already = contact.erased_at is not None
    emails = _person_emails(contact)
    scrub = _identifiers(contact, strict=False, emails=emails)
    account_scrub = _identifiers(contact, strict=True, emails=emails)
    now = timezone.now()

    counts = {"merged_contacts": 0}
    merged = Contact.objects.filter(merged_into=contact, erased_at__isnull=True)
    for duplicate in merged.exclude(pk=contact.pk):
        counts["merged_contacts"] += person_erase(
            actor=actor, contact=duplicate, reason=reason
        ).changed
    counts["suppressions"] = _suppress_addresses(emails, actor=actor)
    counts["consent_withdrawals"] = _withdraw_consents(contact, actor=actor)
    counts["activities"] = _erase_activities(contact, scrub, account_scrub)
    counts["lead_assignments"] = _update_texts(
        LeadAssignment.objects.filter(contact=contact),
        ("reject_note",),
        lambda row, name, value: scrub(value),
    )
    counts["opportunities"] = _erase_opportunities(contact, scrub, emails)
    counts["tickets"] = _erase_tickets(contact, scrub)
    counts["surveys"] = _erase_surveys(contact)
    counts["campaigns"] = _erase_campaigns(contact, scrub)
    counts["form_submissions"] = submissions_erase(contact=contact)
    counts["imported_records"] = _erase_imported_records(contact)
    counts["history_reasons"] = _history_reasons(contact, scrub)
    counts["contact"] = _erase_contact(contact, actor=actor, now=now)
    counts["history"] = _erase_history(contact)
    result = Erasure(contact=contact, already_erased=already, counts=counts)
    if result.changed:
        audit(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            target=contact,
            detail={
                "erasure": "repeated" if already else "done",
                # The reason may name the person ("as Ana asked by email"): scrubbed too.
                "reason": scrub(reason)[:500],
                "counts": counts,
            },
        )
    return result


def person_export_audit(*, actor: User, contact: Contact, kind: str, ip: str | None) -> None:
    """Every download of a person's data is recorded (it is an export of personal data)."""
    audit(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target=contact,
        detail={"privacy": kind},
        ip=ip,
    )


def privacy_summary(data: dict) -> list[tuple[str, int]]:
    """How many rows of each kind the export holds (the page's overview)."""
    return [
        (_("Consentimientos registrados"), len(data["consents"])),
        (_("Actividades"), len(data["activities"])),
        (_("Oportunidades"), len(data["opportunities"])),
        (_("Incidencias"), len(data["tickets"])),
        (_("Encuestas"), len(data["surveys"])),
        (_("Envíos de campañas"), len(data["campaign_sends"])),
        (_("Eventos de seguimiento"), len(data["tracking_events"])),
        (_("Cambios en el historial"), len(data["history"])),
        (_("Eventos de auditoría"), len(data["audit_events"])),
    ]
