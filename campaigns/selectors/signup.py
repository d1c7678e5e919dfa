"""Reads of sign-up forms: marketing's list with its figures, a form's results, the public form."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from campaigns.models import FormSubmission, SignupForm
from contacts.models import Contact, Lifecycle

CONFIRMED = FormSubmission.Status.CONFIRMED
# The lifecycle steps at or past each stage of the funnel (the contact's current step).
MQL_OR_LATER = [Lifecycle.MQL, Lifecycle.SQL, Lifecycle.CUSTOMER, Lifecycle.INACTIVE]
SQL_OR_LATER = [Lifecycle.SQL, Lifecycle.CUSTOMER, Lifecycle.INACTIVE]
CUSTOMERS = [Lifecycle.CUSTOMER, Lifecycle.INACTIVE]


def signup_form_list() -> QuerySet[SignupForm]:
    """Every form with its submissions and confirmations counted, in one query."""
    return (
        SignupForm.objects.select_related("topic")
        .annotate(
            submission_count=Count("submissions"),
            confirmed_count=Count("submissions", filter=Q(submissions__status=CONFIRMED)),
        )
        .order_by("-active", "name", "id")
    )


def signup_form_get(*, pk: int) -> SignupForm:
    return SignupForm.objects.select_related("topic", "owner", "created_by").get(pk=pk)


def signup_form_public_get(*, slug: str) -> SignupForm:
    """The active form at this address (DoesNotExist otherwise: a retired form is gone)."""
    return SignupForm.objects.select_related("topic").get(slug=slug, active=True)


@dataclass(frozen=True)
class SignupResults:
    submissions: int
    confirmed: int
    pending: int
    contacts: int
    new_contacts: int
    mql: int
    sql: int
    customers: int

    def rate(self, part: int, whole: int | None = None) -> float | None:
        whole = self.contacts if whole is None else whole
        return round(100 * part / whole, 1) if whole else None

    @property
    def confirmation_rate(self) -> float | None:
        return self.rate(self.confirmed, self.submissions)

    @property
    def mql_rate(self) -> float | None:
        return self.rate(self.mql)

    @property
    def sql_rate(self) -> float | None:
        return self.rate(self.sql)

    @property
    def customer_rate(self) -> float | None:
        return self.rate(self.customers)


def signup_results(*, form: SignupForm) -> SignupResults:
    """The form's figures: submissions, confirmations, and how far its contacts went (by their
    current lifecycle: MQL or later, SQL or later, customer) — two queries."""
    totals = FormSubmission.objects.filter(form=form).aggregate(
        submissions=Count("pk"),
        confirmed=Count("pk", filter=Q(status=CONFIRMED)),
        new_contacts=Count("contact", filter=Q(created_contact=True), distinct=True),
    )
    funnel = Contact.objects.filter(form_submissions__form=form).aggregate(
        contacts=Count("pk", distinct=True),
        mql=Count("pk", filter=Q(lifecycle__in=MQL_OR_LATER), distinct=True),
        sql=Count("pk", filter=Q(lifecycle__in=SQL_OR_LATER), distinct=True),
        customers=Count("pk", filter=Q(lifecycle__in=CUSTOMERS), distinct=True),
    )
    return SignupResults(
        submissions=totals["submissions"],
        confirmed=totals["confirmed"],
        pending=totals["submissions"] - totals["confirmed"],
        contacts=funnel["contacts"],
        new_contacts=totals["new_contacts"],
        mql=funnel["mql"],
        sql=funnel["sql"],
        customers=funnel["customers"],
    )


def signup_submission_list(*, form: SignupForm) -> QuerySet[FormSubmission]:
    """The form's submissions, newest first, with their contact."""
    return (
        FormSubmission.objects.filter(form=form)
        .select_related("contact")
        .only(
            "pk",
            "form_id",
            "status",
            "created_at",
            "confirmed_at",
            "email",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "referrer",
            "created_contact",
            "was_suppressed",
            "double_opt_in",
            "contact__id",
            "contact__first_name",
            "contact__last_name",
            "contact__lifecycle",
        )
        .order_by("-created_at", "-id")
    )
