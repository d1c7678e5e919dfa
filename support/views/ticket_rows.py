"""The rows of the ticket queues, as HTML made in Python (as the contact list's rows are:
contacts/list_rows.py).

Every queue (open, mine, overdue, due soon, a search, a customer's) is a page of 25 tickets,
and live filtering redraws them on every keystroke. Through the template engine the rows cost
7–11 ms of a page whose budget is 30 (some 30 variable lookups, tags and filters per row, each
escaped on its own). Here each row is one `html_format` call (crm.core.formats: every value
escaped) over the labels and badges translated once per request, the link and dates made by the
per-request formatters. `support/tickets/ticket_list.html` keeps the table around the rows; the
markup of a row is the one the tests, crm.css and the "mark all" box know: keep them in step
(the badges are those of `support/tickets/parts.html`).
"""

import datetime
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from contacts.models import Contact
from crm.core.formats import datetime_formatter, html_format, kept_pk_url_maker
from crm.core.models import User
from support.models import Priority, Ticket
from support.selectors import sla
from support.selectors.tickets import next_due

ROW = (
    '<tr class="{state}">{select}'
    '<td><a class="fw-semibold text-break" href="{url}">{subject}</a>'
    '<div class="small text-body-secondary">{number} · {account}{contact}</div></td>'
    '<td data-label="{priority_label}">{priority}</td>'
    '<td data-label="{status_label}">{status}</td>'
    '<td data-label="{sla_label}">{sla}</td>'
    '<td data-label="{assignee_label}">{assignee}</td>'
    '<td data-label="{created_label}" class="text-nowrap small">{created}</td>'
    "</tr>"
)
# The box that puts the row in the bulk assignment (whoever works tickets).
SELECT = (
    '<td class="text-center row-select"><input class="form-check-input" type="checkbox"'
    ' name="tickets" value="{pk}" aria-label="{aria}"></td>'
)
CONTACT = " · {name}"
ROW_STATE = {sla.BREACHED: "table-danger", sla.SOON: "table-warning", sla.OK: ""}
SLA_BADGE = {
    sla.BREACHED: '<span class="badge text-bg-danger"><i class="bi bi-alarm"></i> {label}</span>',
    sla.SOON: '<span class="badge text-bg-warning">'
    '<i class="bi bi-hourglass-split"></i> {label}</span>',
}
DUE = '<span class="small text-body-secondary text-nowrap d-inline-block">{due}</span>'
PAUSED = '<span class="small text-body-secondary"><i class="bi bi-pause-circle"></i> {label}</span>'
UNASSIGNED = '<span class="text-body-secondary">{label}</span>'
# support/tickets/parts.html#priority-badge and #status-badge.
PRIORITY_BADGE = '<span class="badge {css}" title="{title}">{label}</span>'
PRIORITY_CSS = {
    Priority.URGENT: "text-bg-danger",
    Priority.HIGH: "text-bg-warning",
    Priority.MEDIUM: "text-bg-info",
    Priority.LOW: "text-bg-light border",
}
STATUS_BADGE = '<span class="badge {css}">{label}</span>'
STATUS_CSS = {
    Ticket.Status.NEW: "text-bg-primary",
    Ticket.Status.OPEN: "bg-info-subtle text-info-emphasis border border-info-subtle",
    Ticket.Status.WAITING: "bg-warning-subtle text-warning-emphasis border border-warning-subtle",
    Ticket.Status.RESOLVED: "text-bg-success",
    Ticket.Status.CLOSED: "text-bg-secondary",
}


@dataclass(frozen=True)
class RowLabels:
    """What every row shares, translated and escaped once per request."""

    priority: SafeString
    status: SafeString
    sla: SafeString
    assignee: SafeString
    created: SafeString
    select_one: str  # "Marcar %(number)s"
    sla_badges: dict[str, SafeString]
    paused: SafeString
    unassigned: SafeString
    priorities: dict[str, SafeString]
    statuses: dict[str, SafeString]

    @classmethod
    def translated(cls) -> "RowLabels":
        priority = _("Prioridad")
        return cls(
            priority=escape(priority),
            status=escape(_("Estado")),
            sla=escape(_("SLA")),
            assignee=escape(_("Asignada a")),
            created=escape(_("Abierta")),
            select_one=_("Marcar %(number)s"),
            sla_badges={
                sla.BREACHED: html_format(SLA_BADGE[sla.BREACHED], label=_("Vencido")),
                sla.SOON: html_format(SLA_BADGE[sla.SOON], label=_("Vence pronto")),
            },
            paused=html_format(PAUSED, label=_("SLA en pausa")),
            unassigned=html_format(UNASSIGNED, label=_("Sin asignar")),
            priorities={
                value: html_format(
                    PRIORITY_BADGE,
                    css=PRIORITY_CSS.get(value, PRIORITY_CSS[Priority.LOW]),
                    title=priority,
                    label=name,
                )
                for value, name in Priority.choices
            },
            statuses={
                value: html_format(
                    STATUS_BADGE,
                    css=STATUS_CSS.get(value, STATUS_CSS[Ticket.Status.CLOSED]),
                    label=name,
                )
                for value, name in Ticket.Status.choices
            },
        )


def _sla(row, state: str, labels: RowLabels, when) -> SafeString:
    """The row's SLA badge, then its next due time or, waiting for the customer, "paused"."""
    due = next_due(row)
    parts = [labels.sla_badges[state]] if state in labels.sla_badges else []
    if due is not None:
        parts.append(html_format(DUE, due=when(due)))
    elif row.status == Ticket.Status.WAITING:
        parts.append(labels.paused)
    return mark_safe(" ".join(parts))  # noqa: S308 - each part escaped by html_format


def render_rows(rows: list, *, now: datetime.datetime, selectable: bool) -> list[SafeString]:
    """The `<tr>` of each row of a page of a queue: the named tuples of `ticket_rows`, their
    SLA read at `now`, their dates in the active time zone. `selectable`: with the box of the
    bulk assignment (whoever works tickets)."""
    labels = RowLabels.translated()
    ticket_url = kept_pk_url_maker("support:ticket-detail")
    when = datetime_formatter()
    made = []
    for row in rows:
        state = sla.sla_flag(row, now)
        made.append(
            html_format(
                ROW,
                state=ROW_STATE[state],
                select=html_format(
                    SELECT, pk=row.pk, aria=labels.select_one % {"number": row.number}
                )
                if selectable
                else "",
                url=ticket_url(row.pk),
                subject=row.subject,
                number=row.number,
                account=row.account__name,
                contact=html_format(
                    CONTACT,
                    name=Contact.name_of(row.contact__first_name, row.contact__last_name),
                )
                if row.contact_id is not None
                else "",
                priority_label=labels.priority,
                priority=labels.priorities.get(row.priority, row.priority),
                status_label=labels.status,
                status=labels.statuses.get(row.status, row.status),
                sla_label=labels.sla,
                sla=_sla(row, state, labels, when),
                assignee_label=labels.assignee,
                assignee=User.name_of(
                    row.assignee__first_name, row.assignee__last_name, row.assignee__username
                )
                if row.assignee_id is not None
                else labels.unassigned,
                created_label=labels.created,
                created=when(row.created_at),
            )
        )
    return made
