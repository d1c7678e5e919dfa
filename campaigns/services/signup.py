"""Sign-up forms (web-to-lead): marketing's forms, a visitor's submission and its confirmation.

A submission finds the contact by email (case-insensitively, never a second one), fills only
the fields that are empty (never what a rep typed), and records where it came from
(FormSubmission: UTM parameters, referrer, IP, user agent, what was typed). The consent the
visitor gives goes to the contacts ledger (contacts.services.consent_record, no actor: the
person acts themselves) with the form's text version:

- double opt-in (the default): when the link of the confirmation email is clicked, with the
  click's IP and user agent; a second click records nothing;
- single opt-in (where the form says so): at once, with the submission's IP and user agent.

An address on the suppression list is never re-subscribed without a new consent record
(DESIGN.md §5): its submission is always double opt-in, whatever the form says, and the
confirmed click lifts the suppression, except one a person put there by hand (it stays; the
consent is recorded all the same, and marketing decides).

Integrations: a "form submitted" event belongs right after `signup_submit` creates the
FormSubmission (and a "form confirmed" one in `signup_confirm` when it returns True).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account
from campaigns import tokens
from campaigns.models import SIGNUP_FIELDS, FormSubmission, SignupForm, Suppression
from campaigns.permissions import can_manage_campaigns
from campaigns.scoring import contact_score_recompute_later
from contacts.models import Consent, Contact, LeadSource, Lifecycle
from contacts.services import consent_record
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.queue import enqueue_on_commit
from crm.core.webhooks import webhook_emit

EMAIL = Consent.Channel.EMAIL
GRANT = Consent.Action.GRANT
# How a consent given through a sign-up form is recorded (contacts.Consent.Source).
SOURCE = Consent.Source.FORM
# The lowest step of the lifecycle, and the lead source of a contact a form creates.
NEW_LIFECYCLE = Lifecycle.SUBSCRIBER
NEW_LEAD_SOURCE = LeadSource.WEB
# Contact fields a form may fill (SIGNUP_FIELDS without "company", which names an account).
CONTACT_FIELDS = tuple(name for name in SIGNUP_FIELDS if name != "company")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
ERASED_EMAIL_DOMAIN = "@eliminado.invalid"
# Suppressions a confirmed sign-up lifts: those the address earned by itself (a bounce, a
# complaint) or that came from a list (an import). One a person added by hand stays.
LIFTED_REASONS = {
    Suppression.Reason.BOUNCE,
    Suppression.Reason.COMPLAINT,
    Suppression.Reason.IMPORT,
}
TASK = "campaigns.signup_confirmation_send"


def page_token_max_age() -> int:
    return settings.SIGNUP_PAGE_TOKEN_MAX_AGE


def embed_token_max_age() -> int:
    return settings.SIGNUP_EMBED_TOKEN_MAX_AGE


def confirm_token_max_age() -> int:
    return settings.SIGNUP_CONFIRM_MAX_AGE


# --- Marketing's forms --------------------------------------------------------------------------

FORM_FIELDS = (
    "name",
    "slug",
    "title",
    "intro",
    "fields",
    "topic",
    "consent_text",
    "consent_version",
    "double_opt_in",
    "thank_you",
    "owner",
    "active",
)
RESERVED_SLUGS = {"confirmar", "gracias"}


def _check_manager(actor: User) -> None:
    if not can_manage_campaigns(actor):
        raise PermissionDenied(_("Solo marketing y los administradores gestionan formularios."))


def clean_field_specs(fields: list) -> list[dict]:
    """The form's field list, checked against the allow-list: the email always, once each."""
    if not isinstance(fields, list):
        raise ValidationError({"fields": _("La lista de campos no es válida.")})
    cleaned, seen = [], set()
    for item in fields:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in SIGNUP_FIELDS:
            raise ValidationError(
                {"fields": _("«%(name)s» no es un campo permitido.") % {"name": name}}
            )
        if name in seen:
            raise ValidationError(
                {"fields": _("El campo «%(name)s» está repetido.") % {"name": name}}
            )
        seen.add(name)
        label = str(item.get("label") or "").strip()
        if len(label) > 100:
            raise ValidationError(
                {"fields": _("La etiqueta de un campo admite como máximo 100 caracteres.")}
            )
        cleaned.append(
            {
                "name": name,
                "required": name == "email" or bool(item.get("required")),
                "label": label,
            }
        )
    if "email" not in seen:
        raise ValidationError({"fields": _("El formulario debe pedir el correo electrónico.")})
    return cleaned


def _save_form(form: SignupForm) -> None:
    form.slug = (form.slug or "").strip().lower()
    if form.slug in RESERVED_SLUGS:
        raise ValidationError({"slug": _("Esa dirección está reservada; elige otra.")})
    form.fields = clean_field_specs(form.fields)
    if SignupForm.objects.filter(slug=form.slug).exclude(pk=form.pk).exists():
        raise ValidationError({"slug": _("Ya existe un formulario con esa dirección.")})
    form.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError as exc:
        raise ValidationError({"slug": _("Ya existe un formulario con esa dirección.")}) from exc


@transaction.atomic
def signup_form_create(*, actor: User, data: dict) -> SignupForm:
    _check_manager(actor)
    form = SignupForm(created_by=actor, **{k: v for k, v in data.items() if k in FORM_FIELDS})
    _save_form(form)
    audit(actor=actor, action=AuditEvent.Action.CREATE, target=form, detail={"slug": form.slug})
    return form


@transaction.atomic
def signup_form_update(*, actor: User, form: SignupForm, data: dict) -> SignupForm:
    _check_manager(actor)
    form = SignupForm.objects.select_for_update().get(pk=form.pk)
    for name, value in data.items():
        if name in FORM_FIELDS:
            setattr(form, name, value)
    _save_form(form)
    audit(actor=actor, action=AuditEvent.Action.UPDATE, target=form, detail={"slug": form.slug})
    return form


# --- Tokens and links ---------------------------------------------------------------------------


def form_token(form: SignupForm, *, embed: bool = False) -> str:
    """The signed token a form's page (a day) or its snippet (a year) posts back."""
    return tokens.make_timed(tokens.SIGNUP_EMBED if embed else tokens.SIGNUP_PAGE, form.pk)


def form_token_valid(form: SignupForm, token: str) -> bool:
    """Whether `token` was made by us for this very form and is not too old."""
    for purpose, max_age in (
        (tokens.SIGNUP_PAGE, page_token_max_age()),
        (tokens.SIGNUP_EMBED, embed_token_max_age()),
    ):
        try:
            if tokens.read_timed(purpose, token or "", max_age=max_age) == form.pk:
                return True
        except tokens.BadToken:
            continue
    return False


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def public_url(form: SignupForm) -> str:
    return _site() + reverse("crm:signup-public", args=[form.slug])


def confirm_url(submission: FormSubmission) -> str:
    token = tokens.make_timed(tokens.SIGNUP_CONFIRM, submission.pk)
    return _site() + reverse("crm:signup-confirm", args=[token])


def submission_for_token(token: str) -> FormSubmission | None:
    """The submission a confirmation link names; None if forged, of another purpose or expired."""
    try:
        pk = tokens.read_timed(tokens.SIGNUP_CONFIRM, token, max_age=confirm_token_max_age())
    except tokens.BadToken:
        return None
    return FormSubmission.objects.select_related("form", "contact").filter(pk=pk).first()


# --- A visitor's submission ---------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionSource:
    """Where a submission came from, as the request tells it."""

    ip_address: str | None = None
    user_agent: str = ""
    referrer: str = ""
    utm: dict = field(default_factory=dict)


def _find_contact(email: str) -> Contact | None:
    """The contact with this address (stored lower-case, unique case-insensitively), locked;
    one merged into another stands for the one that was kept."""
    contact = (
        Contact.objects.select_for_update()
        .alias(email_lower=Lower("email"))
        # `email <> ''` lets PostgreSQL use the partial unique index on lower(email).
        .filter(email_lower=email)
        .exclude(email="")
        .first()
    )
    seen = set()
    while contact is not None and contact.merged_into_id and contact.pk not in seen:
        seen.add(contact.pk)
        contact = Contact.objects.select_for_update().get(pk=contact.merged_into_id)
    return contact


def _account_for(company: str) -> Account | None:
    """The one live account of this name (commercial or legal, any case); none if zero or
    several match: a visitor's spelling never creates or guesses an account."""
    company = (company or "").strip()
    if not company:
        return None
    found = list(
        Account.objects.filter(archived_at__isnull=True, merged_into__isnull=True)
        .filter(Q(name__iexact=company) | Q(legal_name__iexact=company))
        .values_list("pk", flat=True)[:2]
    )
    if len(found) != 1:
        return None
    return Account.objects.get(pk=found[0])


def _placeholder_name(email: str) -> str:
    return email.split("@", 1)[0][:100] or email[:100]


def _save_contact(contact: Contact, *, created: bool, form: SignupForm) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        contact._change_reason = _("Formulario web «%(name)s»") % {"name": form.name}
    contact._history_user = None
    # The fields are validated here; the table's constraints (one row per address, the checks)
    # are left to the database, whose refusal is caught below: Django would validate each one
    # with a query of its own, most of a submission's time, on a page anyone may post to.
    contact.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:  # the same address inserted by a concurrent submission
        raise ValidationError(
            {"email": _("No pudimos guardar tus datos; inténtalo de nuevo en un momento.")}
        ) from exc
    webhook_emit(
        "contact.created" if created else "contact.updated",
        {
            "contact_id": contact.pk,
            "account_id": contact.account_id,
            "owner_id": contact.owner_id,
            "lifecycle": contact.lifecycle,
        },
    )


def _contact_for(form: SignupForm, values: dict) -> tuple[Contact, bool]:
    """The submission's contact: found by email and completed where empty, or created."""
    email = values["email"]
    contact = _find_contact(email)
    fill = {name: values[name] for name in CONTACT_FIELDS if values.get(name)}
    account = _account_for(values.get("company", ""))
    if contact is None:
        contact = Contact(
            owner=form.owner,
            lifecycle=NEW_LIFECYCLE,
            lead_source=NEW_LEAD_SOURCE,
            account=account,
            **fill,
        )
        if not contact.first_name:
            contact.first_name = _placeholder_name(email)
        _save_contact(contact, created=True, form=form)
        return contact, True
    if contact.erased_at is not None:
        # The person asked to be forgotten; a new sign-up is a new person.
        raise ValidationError(
            {"email": _("No pudimos registrar este correo; escríbenos directamente.")}
        )
    changed = False
    for name, value in fill.items():
        if name == "email":
            continue
        if name == "country":
            continue  # never empty (it has a default): a rep's or the default stays
        if not getattr(contact, name):
            setattr(contact, name, value)
            changed = True
    if account is not None and contact.account_id is None:
        contact.account = account
        changed = True
    if changed:
        _save_contact(contact, created=False, form=form)
    return contact, False


def _grant(submission: FormSubmission, *, ip_address: str | None, user_agent: str) -> None:
    """The consent of a confirmed submission: the channel, and the form's boletín."""
    with translation.override(settings.LANGUAGE_CODE):
        note = _("Formulario «%(name)s»") % {"name": submission.form.name}
    for topic in (None, submission.topic) if submission.topic_id else (None,):
        consent_record(
            contact=submission.contact,
            action=GRANT,
            channel=EMAIL,
            topic=topic,
            source=SOURCE,
            text_version=submission.consent_version,
            ip_address=ip_address,
            user_agent=user_agent,
            note=note[:300],
        )
    # A confirmed sign-up scores (campaigns.scoring's "form submitted" rules) once committed.
    contact_score_recompute_later(submission.contact_id)


@transaction.atomic
def signup_submit(*, form: SignupForm, values: dict, source: SubmissionSource) -> FormSubmission:
    """Record one valid submission: the contact, the submission, and its consent or the email
    that asks to confirm it (sent after the commit). All or nothing.

    `values`: the form's cleaned values by field name (SIGNUP_FIELDS), "email" required.
    """
    email = (values.get("email") or "").strip().lower()
    if not email:
        raise ValidationError({"email": _("Escribe tu correo electrónico.")})
    values = {**values, "email": email}
    form = SignupForm.objects.select_related("topic", "owner").get(pk=form.pk)
    if not form.active:
        raise ValidationError(_("Este formulario ya no recibe suscripciones."))
    suppressed = Suppression.objects.filter(email=email).exists()
    contact, created = _contact_for(form, values)
    double = form.double_opt_in or suppressed
    now = timezone.now()
    submission = FormSubmission(
        form=form,
        contact=contact,
        created_at=now,
        double_opt_in=double,
        consent_version=form.consent_version,
        topic=form.topic,
        email=email,
        values={k: str(v) for k, v in values.items() if v not in (None, "")},
        referrer=(source.referrer or "")[:500],
        ip_address=source.ip_address or None,
        user_agent=(source.user_agent or "")[:300],
        created_contact=created,
        was_suppressed=suppressed,
        **{key: str(source.utm.get(key) or "")[:200] for key in UTM_KEYS},
    )
    if not double:
        submission.status = FormSubmission.Status.CONFIRMED
        submission.confirmed_at = now
    submission.full_clean()
    submission.save()
    webhook_emit(
        "form.submitted",
        {
            "submission_id": submission.pk,
            "form": {"id": form.pk, "slug": form.slug, "name": form.name},
            "contact_id": contact.pk,
            "contact_created": created,
            "email": email,
            "topic": form.topic.name if form.topic else None,
            "double_opt_in": double,
            "status": submission.status,
            **{key: getattr(submission, key) for key in UTM_KEYS if getattr(submission, key)},
        },
    )
    if double:
        enqueue_on_commit(TASK, [submission.pk])
    else:
        _grant(submission, ip_address=source.ip_address, user_agent=source.user_agent)
    return submission


# --- The confirmation ---------------------------------------------------------------------------


def _lift_suppression(submission: FormSubmission) -> bool:
    entry = Suppression.objects.select_for_update().filter(email=submission.email).first()
    if entry is None or entry.reason not in LIFTED_REASONS:
        return False
    detail = {
        "suppression": "removed",
        "email": entry.email,
        "reason": entry.reason,
        "note": entry.note,
        "by": "signup_confirmation",
        "submission": submission.pk,
    }
    target = f"campaigns.suppression:{entry.pk}"
    entry.delete()
    audit(actor=None, action=AuditEvent.Action.CONSENT, target=target, detail=detail)
    return True


@transaction.atomic
def signup_confirm(*, submission: FormSubmission, ip_address: str | None, user_agent: str) -> bool:
    """The visitor clicked the confirmation link: record the consent once (True), or nothing
    when it was already confirmed (False)."""
    submission = (
        FormSubmission.objects.select_for_update(of=("self",))
        .select_related("form", "contact", "topic")
        .get(pk=submission.pk)
    )
    if submission.is_confirmed:
        return False
    if submission.contact.erased_at is not None:
        raise ValidationError(_("Este registro ya no existe."))
    submission.status = FormSubmission.Status.CONFIRMED
    submission.confirmed_at = timezone.now()
    submission.save(update_fields=["status", "confirmed_at"])
    _grant(submission, ip_address=ip_address, user_agent=user_agent)
    if submission.was_suppressed or Suppression.objects.filter(email=submission.email).exists():
        _lift_suppression(submission)
    return True


def _confirmation_message(submission: FormSubmission) -> EmailMessage:
    form = submission.form
    context = {
        "form": form,
        "contact": submission.contact,
        "company": settings.COMPANY,
        "url": confirm_url(submission),
        "days": confirm_token_max_age() // (24 * 3600),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Confirma tu suscripción: %(title)s") % {"title": form.title}
        body = render_to_string("campaigns/signup/confirm_email.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split())[:200],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[submission.email],
    )


def signup_confirmation_send(*, submission_id: int) -> bool:
    """Email the confirmation link once (a second run finds it sent): True when sent."""
    with transaction.atomic():
        submission = (
            FormSubmission.objects.select_for_update(of=("self",))
            .select_related("form", "contact")
            .filter(pk=submission_id)
            .first()
        )
        if (
            submission is None
            or submission.confirmation_sent_at is not None
            or submission.is_confirmed
        ):
            return False
        _confirmation_message(submission).send()
        submission.confirmation_sent_at = timezone.now()
        submission.save(update_fields=["confirmation_sent_at"])
    return True


# --- A person's data rights (for crm.top.privacy) -----------------------------------------------


def submissions_erase(*, contact: Contact) -> int:
    """What the person typed and where from goes; the rows stay (the form's figures). A second
    run finds nothing left to clear and changes nothing (erasure is idempotent)."""
    rows = FormSubmission.objects.filter(contact=contact).filter(
        ~Q(email__endswith=ERASED_EMAIL_DOMAIN)
        | ~Q(values={})
        | ~Q(referrer="")
        | Q(ip_address__isnull=False)
        | ~Q(user_agent="")
        | ~Q(utm_term="")
        | ~Q(utm_content="")
    )
    count = 0
    for submission in rows.only("pk"):
        count += FormSubmission.objects.filter(pk=submission.pk).update(
            email=f"eliminado-{submission.pk}{ERASED_EMAIL_DOMAIN}",
            values={},
            referrer="",
            ip_address=None,
            user_agent="",
            utm_term="",
            utm_content="",
        )
    return count
