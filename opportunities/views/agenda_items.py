"""The agenda's activity items, as HTML made in Python (as the board's cards and the contact
list's rows are: opportunities/views/board_cards.py, contacts/list_rows.py).

The agenda shows up to some fifty items, and through the template engine (an include of a
partial per item, with its own kind-icon partial, some 30 variable lookups, tags and filters)
they cost about half of the page's time. Here each item is one `html_format` call
(crm.core.formats: every value escaped) over the labels, icons and links translated or
reversed once per request. `activities/agenda.html` keeps the lists around the items, and "Hecha"
answers its item from here too; the markup (`activity-<pk>`, `.complete-slot`, the hx-*
attributes) is the one crm.css, the tests and the browser journeys know: keep them in step
(opportunities/tests/data/agenda_item_reference.html is the partial these items replaced).
"""

from collections.abc import Callable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from crm.core.formats import (
    clock_time,
    html_format,
    kept_pk_url_maker,
    weekday_date_formatter,
)
from opportunities.models import Activity, ActivityKind

ITEM = (
    '<li class="list-group-item agenda-item" id="activity-{pk}">'
    '<div class="d-flex align-items-start gap-2">'
    '<div class="agenda-time{with_date} text-nowrap small fw-semibold pt-1 flex-shrink-0">'
    "{day}{time}</div>"
    '<div class="flex-grow-1 min-w-0">'
    '<a class="fw-semibold text-decoration-none{done_link}" href="{url}">{icon} {title}</a>'
    '<div class="small text-body-secondary text-break">{contact}{account}{place}</div>'
    "{outcome}"
    "</div>"
    '<div class="flex-shrink-0">{action}</div>'
    "</div>"
    '<div class="complete-slot"></div>'
    "</li>"
)
DAY = '<span class="d-block text-body-secondary fw-normal">{day}</span> '
LINK = '<a class="link-secondary link-underline-opacity-25" href="{url}">{text}</a>'
PLACE = ' · <i class="bi bi-pin-map" aria-hidden="true"></i> {place}'
OUTCOME = (
    '<div class="small text-break">'
    '<i class="bi bi-check2 text-success" aria-hidden="true"></i> {outcome}</div>'
)
COMPLETE = (
    '<a class="btn btn-sm btn-outline-success" href="{url}" hx-get="{url}"'
    ' hx-target="#activity-{pk} .complete-slot" hx-swap="innerHTML">'
    '<i class="bi bi-check-lg" aria-hidden="true"></i> {label}</a>'
)
DONE = (
    '<span class="badge bg-success-subtle text-success-emphasis">'
    '<i class="bi bi-check-circle-fill" aria-hidden="true"></i> {label}</span>'
)
# parts.html#kind-icon, which the activity's page, its lines and the week still use.
ICONS = {
    ActivityKind.VISIT: "bi-geo-alt",
    ActivityKind.CALL: "bi-telephone",
    ActivityKind.MEETING: "bi-people",
    ActivityKind.WHATSAPP: "bi-whatsapp",
    ActivityKind.EMAIL: "bi-envelope",
}
ICON = '<i class="bi {icon}" aria-hidden="true"></i>'
OTHER_ICON = mark_safe(ICON.format(icon="bi-check2-square"))  # noqa: S308 - a constant
ICON_HTML = {
    kind: mark_safe(ICON.format(icon=icon))  # noqa: S308 - constants
    for kind, icon in ICONS.items()
}
CONTACT_SEPARATOR = mark_safe(" · ")  # noqa: S308 - a constant
OUTCOME_CHARS = 160  # as the `truncatechars:160` the partial had


def agenda_item_maker() -> Callable[..., SafeString]:
    """What makes the `<li>` of an agenda item, made once per request: `make(activity,
    show_date=...)` for the activities the agenda reads (selectors.agenda: the contact and
    account loaded) or the one "Hecha" answers; `show_date` puts the day above the hour."""
    activity_url = kept_pk_url_maker("opportunities:activity-detail")
    complete_url = kept_pk_url_maker("opportunities:activity-complete")
    contact_url = kept_pk_url_maker("contacts:contact-detail")
    account_url = kept_pk_url_maker("accounts:account-detail")
    day_text = weekday_date_formatter()
    kinds = {value: str(label) for value, label in ActivityKind.choices}
    done = escape(_("Hecha"))
    done_badge = html_format(DONE, label=done)

    def make(activity: Activity, *, show_date: bool) -> SafeString:
        pk = activity.pk
        when = activity.when
        status = activity.status
        contact = (
            html_format(LINK, url=contact_url(activity.contact_id), text=activity.contact.full_name)
            if activity.contact_id
            else ""
        )
        if activity.account_id:
            account = html_format(
                LINK, url=account_url(activity.account_id), text=activity.account.name
            )
            if contact:
                account = CONTACT_SEPARATOR + account
        else:
            account = ""
        if status == Activity.Status.PLANNED:
            action = html_format(COMPLETE, url=complete_url(pk), pk=pk, label=done)
        elif status == Activity.Status.DONE:
            action = done_badge
        else:
            action = ""
        return html_format(
            ITEM,
            pk=pk,
            with_date=" with-date" if show_date else "",
            day=html_format(DAY, day=day_text(when)) if show_date else "",
            time=clock_time(when),
            done_link=" link-success" if status == Activity.Status.DONE else "",
            url=activity_url(pk),
            icon=ICON_HTML.get(activity.kind, OTHER_ICON),
            title=activity.subject or kinds.get(activity.kind, activity.kind),
            contact=contact,
            account=account,
            place=html_format(PLACE, place=activity.place) if activity.place else "",
            outcome=html_format(OUTCOME, outcome=Truncator(activity.outcome).chars(OUTCOME_CHARS))
            if status == Activity.Status.DONE and activity.outcome
            else "",
            action=action,
        )

    return make
