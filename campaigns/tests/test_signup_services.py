"""Sign-up forms' services: matching by email, what is filled, consent by double or single
opt-in, the confirmation once, and a suppressed address (campaigns.services.signup)."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns import eligibility, tokens
from campaigns.models import FormSubmission, SignupForm, Suppression
from campaigns.services import signup as services
from campaigns.tests.factories import SignupFormFactory, SuppressionFactory, TopicFactory
from contacts.models import Consent, ConsentLatest, Contact, LeadSource, Lifecycle
from contacts.tests.factories import ContactFactory
from crm.celery import app
from crm.core.models import AuditEvent

pytestmark = pytest.mark.django_db

SOURCE = services.SubmissionSource(
    ip_address="203.0.113.7",
    user_agent="Mozilla/5.0 (iPhone) Safari",
    referrer="https://www.ejemplo.com.mx/blog?utm_source=x",
    utm={"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "primavera"},
)


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def form(rep, marketing):
    return SignupFormFactory(owner=rep, created_by=marketing, topic=TopicFactory(name="Ofertas"))


def submit(form, capture, **values):
    values.setdefault("email", "lucia.fernandez@ejemplo.mx")
    values.setdefault("first_name", "Lucía")
    with capture(execute=True):
        return services.signup_submit(form=form, values=values, source=SOURCE)


def confirm_link(mail) -> str:
    return re.search(r"https?://\S+/f/confirmar/(\S+)/", mail.body).group(1)


def test_a_new_address_creates_a_subscriber_assigned_to_the_forms_owner(
    form, rep, eager, mailoutbox, django_capture_on_commit_callbacks
):
    submission = submit(
        form, django_capture_on_commit_callbacks, last_name="Fernández", phone="55 1234 5678"
    )
    contact = Contact.objects.get(email="lucia.fernandez@ejemplo.mx")
    assert contact.owner == rep
    assert contact.lifecycle == Lifecycle.SUBSCRIBER
    assert contact.lead_source == LeadSource.WEB
    assert contact.phone == "+525512345678"
    assert contact.history.first().history_change_reason.startswith("Formulario web")
    assert submission.contact == contact and submission.created_contact
    assert (submission.utm_source, submission.utm_medium, submission.utm_campaign) == (
        "google",
        "cpc",
        "primavera",
    )
    assert submission.ip_address == "203.0.113.7"
    assert submission.referrer.startswith("https://www.ejemplo.com.mx/blog")
    assert submission.values["last_name"] == "Fernández"
    # Double opt-in: nothing consented yet, one email asking to confirm.
    assert submission.status == FormSubmission.Status.PENDING
    assert not Consent.objects.filter(contact=contact).exists()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["lucia.fernandez@ejemplo.mx"]
    assert "/f/confirmar/" in mailoutbox[0].body


def test_the_email_matches_whatever_its_case_and_never_duplicates(
    form, rep, eager, django_capture_on_commit_callbacks
):
    existing = ContactFactory(owner=rep, email="lucia.fernandez@ejemplo.mx", first_name="Lucía")
    submit(form, django_capture_on_commit_callbacks, email="  LUCIA.Fernandez@Ejemplo.MX ")
    submit(form, django_capture_on_commit_callbacks, email="lucia.fernandez@ejemplo.mx")
    assert Contact.objects.filter(email__iexact="lucia.fernandez@ejemplo.mx").count() == 1
    assert set(FormSubmission.objects.values_list("contact", flat=True)) == {existing.pk}
    assert not FormSubmission.objects.filter(created_contact=True).exists()


def test_an_existing_contact_gets_only_its_empty_fields_filled(
    form, rep, eager, django_capture_on_commit_callbacks
):
    contact = ContactFactory(
        owner=rep,
        email="lucia.fernandez@ejemplo.mx",
        first_name="Lucía",
        last_name="",
        phone="+525511112222",
        city="",
        lifecycle=Lifecycle.SQL,
        lead_source=LeadSource.REFERRAL,
    )
    submit(
        form,
        django_capture_on_commit_callbacks,
        first_name="Lucy",
        last_name="Fernández",
        phone="+52 55 9999 0000",
        city="Puebla",
    )
    contact.refresh_from_db()
    assert contact.first_name == "Lucía"  # what the rep typed stays
    assert contact.phone == "+525511112222"
    assert contact.last_name == "Fernández"  # empty: filled
    assert contact.city == "Puebla"
    assert contact.lifecycle == Lifecycle.SQL  # never moved back to subscriber
    assert contact.lead_source == LeadSource.REFERRAL


def test_the_company_links_one_matching_account_and_never_creates_one(
    form, rep, eager, django_capture_on_commit_callbacks
):
    account = AccountFactory(owner=rep, name="Abarrotes La Esperanza")
    submit(form, django_capture_on_commit_callbacks, company="abarrotes la esperanza")
    submit(
        form,
        django_capture_on_commit_callbacks,
        email="otra@ejemplo.mx",
        company="Empresa Que No Existe",
    )
    assert Contact.objects.get(email="lucia.fernandez@ejemplo.mx").account == account
    other = Contact.objects.get(email="otra@ejemplo.mx")
    assert other.account is None
    assert other.form_submissions.get().values["company"] == "Empresa Que No Existe"


def test_double_opt_in_records_consent_at_the_click_with_its_ip_and_agent(
    form, eager, mailoutbox, django_capture_on_commit_callbacks
):
    submission = submit(form, django_capture_on_commit_callbacks)
    found = services.submission_for_token(confirm_link(mailoutbox[0]))
    assert found == submission
    assert services.signup_confirm(
        submission=found, ip_address="198.51.100.9", user_agent="Android Chrome"
    )
    entries = list(Consent.objects.filter(contact=submission.contact).order_by("id"))
    assert [(e.topic, e.action) for e in entries] == [
        (None, Consent.Action.GRANT),
        (form.topic, Consent.Action.GRANT),
    ]
    for entry in entries:
        assert entry.source == Consent.Source.FORM
        assert entry.text_version == "ofertas-2026-01"
        assert entry.ip_address == "198.51.100.9"
        assert entry.user_agent == "Android Chrome"
        assert entry.recorded_by is None
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.CONFIRMED
    assert submission.confirmed_at is not None
    assert eligibility.eligible_contact_ids([submission.contact_id], form.topic_id) == {
        submission.contact_id
    }


def test_confirming_twice_records_the_consent_once(form, eager, django_capture_on_commit_callbacks):
    submission = submit(form, django_capture_on_commit_callbacks)
    assert services.signup_confirm(submission=submission, ip_address=None, user_agent="")
    assert not services.signup_confirm(submission=submission, ip_address=None, user_agent="")
    assert Consent.objects.filter(contact=submission.contact).count() == 2  # channel + topic


def test_the_confirmation_email_is_sent_once(form, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False):
        submission = services.signup_submit(
            form=form, values={"email": "ana@ejemplo.mx", "first_name": "Ana"}, source=SOURCE
        )
    assert services.signup_confirmation_send(submission_id=submission.pk)
    assert not services.signup_confirmation_send(submission_id=submission.pk)
    assert len(mailoutbox) == 1
    assert "Confirma tu suscripción" in mailoutbox[0].subject


def test_single_opt_in_records_consent_at_once_with_the_submissions_ip(
    form, eager, mailoutbox, django_capture_on_commit_callbacks
):
    form.double_opt_in = False
    form.save()
    submission = submit(form, django_capture_on_commit_callbacks)
    assert submission.status == FormSubmission.Status.CONFIRMED
    assert mailoutbox == []
    channel = Consent.objects.get(contact=submission.contact, topic=None)
    assert channel.ip_address == "203.0.113.7"
    assert channel.user_agent == SOURCE.user_agent
    assert channel.text_version == "ofertas-2026-01"
    assert ConsentLatest.objects.filter(contact=submission.contact, action="grant").count() == 2


def test_a_suppressed_address_needs_the_click_even_on_a_single_opt_in_form(
    form, eager, mailoutbox, django_capture_on_commit_callbacks
):
    form.double_opt_in = False
    form.save()
    SuppressionFactory(email="lucia.fernandez@ejemplo.mx", reason=Suppression.Reason.COMPLAINT)
    submission = submit(
        form, django_capture_on_commit_callbacks, email="Lucia.Fernandez@ejemplo.mx"
    )
    assert submission.double_opt_in and submission.was_suppressed
    assert submission.status == FormSubmission.Status.PENDING
    assert not Consent.objects.exists()
    assert Suppression.objects.filter(email="lucia.fernandez@ejemplo.mx").exists()
    assert len(mailoutbox) == 1
    # The click is the new consent: the complaint's suppression is lifted, audited.
    services.signup_confirm(submission=submission, ip_address="198.51.100.9", user_agent="x")
    assert not Suppression.objects.filter(email="lucia.fernandez@ejemplo.mx").exists()
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CONSENT, detail__by="signup_confirmation"
    ).exists()
    assert eligibility.eligible_contact_ids([submission.contact_id], None) == {
        submission.contact_id
    }


def test_a_suppression_added_by_hand_stays_after_the_click(
    form, eager, django_capture_on_commit_callbacks
):
    SuppressionFactory(email="lucia.fernandez@ejemplo.mx", reason=Suppression.Reason.MANUAL)
    submission = submit(form, django_capture_on_commit_callbacks)
    services.signup_confirm(submission=submission, ip_address=None, user_agent="")
    assert Suppression.objects.filter(email="lucia.fernandez@ejemplo.mx").exists()
    assert Consent.objects.filter(contact=submission.contact).count() == 2
    assert eligibility.eligible_contact_ids([submission.contact_id], None) == set()


def test_the_consent_is_for_the_text_shown_even_if_the_form_changed_since(
    form, eager, django_capture_on_commit_callbacks
):
    submission = submit(form, django_capture_on_commit_callbacks)
    form.consent_version = "ofertas-2026-02"
    form.save()
    services.signup_confirm(submission=submission, ip_address=None, user_agent="")
    assert set(Consent.objects.values_list("text_version", flat=True)) == {"ofertas-2026-01"}


def test_a_failed_submission_writes_nothing(form, django_capture_on_commit_callbacks):
    before = (Contact.objects.count(), FormSubmission.objects.count(), Consent.objects.count())
    with pytest.raises(ValidationError):
        submit(form, django_capture_on_commit_callbacks, phone="no es un teléfono")
    assert (
        Contact.objects.count(),
        FormSubmission.objects.count(),
        Consent.objects.count(),
    ) == before


def test_an_inactive_form_takes_nothing(form, django_capture_on_commit_callbacks):
    form.active = False
    form.save()
    with pytest.raises(ValidationError):
        submit(form, django_capture_on_commit_callbacks)
    assert not Contact.objects.exists()


def test_tokens_are_bound_to_their_form_and_expire(form, settings):
    other = SignupFormFactory()
    token = services.form_token(form)
    assert services.form_token_valid(form, token)
    assert not services.form_token_valid(other, token)
    assert not services.form_token_valid(form, token + "x")
    assert not services.form_token_valid(form, tokens.make(tokens.UNSUBSCRIBE, form.pk))
    settings.SIGNUP_PAGE_TOKEN_MAX_AGE = -1
    assert not services.form_token_valid(form, token)
    assert services.form_token_valid(form, services.form_token(form, embed=True))


def test_an_expired_confirmation_link_finds_nothing(
    form, settings, django_capture_on_commit_callbacks
):
    submission = submit(form, django_capture_on_commit_callbacks)
    token = tokens.make_timed(tokens.SIGNUP_CONFIRM, submission.pk)
    assert services.submission_for_token(token) == submission
    settings.SIGNUP_CONFIRM_MAX_AGE = -1
    assert services.submission_for_token(token) is None
    assert (
        services.submission_for_token(tokens.make_timed(tokens.SIGNUP_PAGE, submission.pk)) is None
    )


# --- Marketing's forms ------------------------------------------------------------------------


def _data(rep, **changes):
    data = {
        "name": "Boletín de ofertas",
        "slug": "ofertas",
        "title": "Ofertas cada mes",
        "fields": [{"name": "email", "required": True, "label": "Tu correo"}],
        "consent_text": "Acepto recibir ofertas.",
        "consent_version": "v1",
        "double_opt_in": True,
        "owner": rep,
        "active": True,
    }
    return {**data, **changes}


def test_marketing_creates_a_form_and_it_is_audited(marketing, rep):
    form = services.signup_form_create(actor=marketing, data=_data(rep))
    assert form.created_by == marketing
    assert AuditEvent.objects.filter(action="create", target=f"campaigns.signupform:{form.pk}")


@pytest.mark.parametrize(
    "fields",
    [
        [{"name": "first_name", "required": True}],  # no email
        [{"name": "email"}, {"name": "password"}],  # not in the allow-list
        [{"name": "email"}, {"name": "email"}],  # twice
        "email",
    ],
)
def test_a_form_asks_only_allowed_fields_and_always_the_email(marketing, rep, fields):
    with pytest.raises(ValidationError):
        services.signup_form_create(actor=marketing, data=_data(rep, fields=fields))
    assert not SignupForm.objects.exists()


def test_the_email_is_always_required(marketing, rep):
    form = services.signup_form_create(
        actor=marketing, data=_data(rep, fields=[{"name": "email", "required": False}])
    )
    assert form.fields == [{"name": "email", "required": True, "label": ""}]


def test_slugs_are_unique_and_some_are_reserved(marketing, rep):
    services.signup_form_create(actor=marketing, data=_data(rep))
    with pytest.raises(ValidationError):
        services.signup_form_create(actor=marketing, data=_data(rep, name="Otro"))
    with pytest.raises(ValidationError):
        services.signup_form_create(actor=marketing, data=_data(rep, slug="confirmar"))
    assert SignupForm.objects.count() == 1


@pytest.mark.parametrize("role", ["rep", "manager", "support"])
def test_only_marketing_and_administrators_manage_forms(request, role, rep):
    with pytest.raises(PermissionDenied):
        services.signup_form_create(actor=request.getfixturevalue(role), data=_data(rep))


def test_the_erasure_helper_forgets_what_the_person_typed(form, django_capture_on_commit_callbacks):
    submission = submit(form, django_capture_on_commit_callbacks)
    assert services.submissions_erase(contact=submission.contact) == 1
    submission.refresh_from_db()
    assert submission.values == {} and submission.ip_address is None
    assert "lucia" not in submission.email


def test_a_confirmation_is_not_recorded_for_an_erased_person(
    form, django_capture_on_commit_callbacks
):
    submission = submit(form, django_capture_on_commit_callbacks)
    Contact.objects.filter(pk=submission.contact_id).update(erased_at=timezone.now())
    with pytest.raises(ValidationError):
        services.signup_confirm(submission=submission, ip_address=None, user_agent="")
    assert not Consent.objects.exists()


def test_submissions_keep_their_time_order(form, django_capture_on_commit_callbacks):
    first = submit(form, django_capture_on_commit_callbacks)
    FormSubmission.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1))
    second = submit(form, django_capture_on_commit_callbacks)
    assert list(FormSubmission.objects.all()) == [second, first]


def test_a_submission_tells_the_webhooks_subscribed_to_form_submitted(
    form, marketing, django_capture_on_commit_callbacks, monkeypatch
):
    from crm.core import webhooks
    from crm.core.models import WebhookEndpoint, WebhookEvent

    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["93.184.215.14"])
    WebhookEndpoint.objects.create(
        url="https://erp.ejemplo.mx/hooks", events=["form.submitted"], created_by=marketing
    )
    submission = submit(form, django_capture_on_commit_callbacks)

    event = WebhookEvent.objects.get(type="form.submitted")
    assert event.payload["submission_id"] == submission.pk
    assert event.payload["contact_id"] == submission.contact_id
    assert event.payload["form"] == {"id": form.pk, "slug": form.slug, "name": form.name}
    assert (event.payload["email"], event.payload["utm_source"]) == (
        "lucia.fernandez@ejemplo.mx",
        "google",
    )
    assert event.payload["double_opt_in"] is True and event.payload["status"] == "pendiente"


def test_erasing_twice_changes_the_submissions_once(form, django_capture_on_commit_callbacks):
    submission = submit(form, django_capture_on_commit_callbacks)
    assert services.submissions_erase(contact=submission.contact) == 1
    assert services.submissions_erase(contact=submission.contact) == 0
