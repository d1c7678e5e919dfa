"""The rows of the contact list, as HTML made in Python (as the board's cards are:
opportunities/views/board_cards.py).

The contact list is the page asked for most, and live filtering redraws its rows on every
keystroke. Through the template engine its 25 rows cost about a third of the page's time (some
25 variable lookups, tags and filters per row, each escaped and localized on its own). Here each
row is one `html_format` call (crm.core.formats: every value escaped) over the labels, badges
and links translated or reversed once per request. `contacts/contact_list.html` keeps the table
around the rows; the markup of a row is the one the tests and crm.css know: keep them in step.
"""

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from contacts.models import Contact, Lifecycle
from crm.core.formats import html_format, kept_pk_url_maker
from crm.core.models import User
from crm.core.text import format_phone

ROW = (
    "<tr>{select}"
    '<td data-label="{contact_label}">'
    '<a class="fw-semibold" href="{url}">{name}</a>{archived}'
    '<div class="small text-body-secondary text-break">{email}{job}</div>{tags}'
    "</td>"
    '<td data-label="{account_label}">{account}</td>'
    '<td data-label="{stage_label}">{stage}</td>'
    '<td data-label="{score_label}">{score}</td>'
    '<td data-label="{phone_label}" class="text-nowrap">{phone}</td>'
    '<td data-label="{consent_label}">{consent}</td>'
    '<td data-label="{owner_label}" class="d-phone-none">{owner}</td>'
    "</tr>"
)
# The box that puts the row on a static list of campaigns (form="contact-selection").
SELECT = (
    '<td data-label="{label}"><input type="checkbox" class="form-check-input" name="contacts"'
    ' value="{pk}" form="contact-selection" aria-label="{aria}"></td>'
)
ARCHIVED = ' <span class="badge text-bg-light border">{label}</span>'
JOB = " · {job}"
TAG = '<span class="badge rounded-pill text-bg-light border tag">{name}</span>'
LINK = '<a href="{url}">{text}</a>'
CONSENT = {
    "grant": '<span class="badge rounded-pill bg-success-subtle text-success-emphasis'
    ' border border-success-subtle">{label}</span>',
    "withdraw": '<span class="badge rounded-pill bg-danger-subtle text-danger-emphasis'
    ' border border-danger-subtle">{label}</span>',
    None: '<span class="badge rounded-pill text-bg-light border">{label}</span>',
}
NONE = mark_safe("—")  # noqa: S308 - a constant


@dataclass(frozen=True)
class RowLabels:
    """What every row shares, translated and escaped once per request."""

    contact: SafeString
    account: SafeString
    stage: SafeString
    score: SafeString
    phone: SafeString
    consent: SafeString
    owner: SafeString
    select: SafeString
    select_one: str  # "Seleccionar a %(name)s"
    archived: SafeString
    stages: dict[str, str]
    consents: dict[str | None, SafeString]

    @classmethod
    def translated(cls) -> "RowLabels":
        return cls(
            contact=escape(_("Contacto")),
            account=escape(_("Cuenta")),
            stage=escape(_("Etapa")),
            score=escape(_("Puntos")),
            phone=escape(_("Teléfono")),
            consent=escape(_("Consentimiento")),
            owner=escape(_("Responsable")),
            select=escape(_("Seleccionar")),
            select_one=_("Seleccionar a %(name)s"),
            archived=html_format(ARCHIVED, label=_("Archivado")),
            stages={value: str(name) for value, name in Lifecycle.choices},
            consents={
                "grant": html_format(CONSENT["grant"], label=_("Sí")),
                "withdraw": html_format(CONSENT["withdraw"], label=_("Retirado")),
                None: html_format(CONSENT[None], label=_("Sin registro")),
            },
        )


def _phone(row) -> SafeString:
    if row.mobile:
        return html_format(LINK, url=f"tel:{row.mobile}", text=format_phone(row.mobile))
    if row.phone:
        return html_format(LINK, url=f"tel:{row.phone}", text=format_phone(row.phone))
    return NONE


def render_rows(rows: list, *, selectable: bool) -> list[SafeString]:
    """The `<tr>` of each row of a page of the list: the named tuples of `contact_list_rows`
    (its columns, `tag_names` and `email_consent`). `selectable`: with the box that adds the
    contact to a static list (whoever may use campaigns)."""
    labels = RowLabels.translated()
    contact_url = kept_pk_url_maker("contacts:contact-detail")
    account_url = kept_pk_url_maker("accounts:account-detail")
    made = []
    for row in rows:
        name = Contact.name_of(row.first_name, row.last_name)
        made.append(
            html_format(
                ROW,
                select=html_format(
                    SELECT,
                    label=labels.select,
                    pk=row.pk,
                    aria=labels.select_one % {"name": name},
                )
                if selectable
                else "",
                contact_label=labels.contact,
                url=contact_url(row.pk),
                name=name,
                archived=labels.archived if row.archived_at is not None else "",
                email=row.email or "",
                job=html_format(JOB, job=row.job_title) if row.job_title else "",
                tags=mark_safe(  # noqa: S308 - each part escaped by html_format
                    "".join(html_format(TAG, name=tag) for tag in row.tag_names or ())
                ),
                account_label=labels.account,
                account=html_format(LINK, url=account_url(row.account_id), text=row.account__name)
                if row.account_id is not None
                else NONE,
                stage_label=labels.stage,
                stage=labels.stages.get(row.lifecycle, row.lifecycle),
                score_label=labels.score,
                score=row.lead_score,
                phone_label=labels.phone,
                phone=_phone(row),
                consent_label=labels.consent,
                consent=labels.consents.get(row.email_consent, labels.consents[None]),
                owner_label=labels.owner,
                owner=User.name_of(
                    row.owner__first_name, row.owner__last_name, row.owner__username
                ),
            )
        )
    return made
