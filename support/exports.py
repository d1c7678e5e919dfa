"""The tickets list as CSV or Excel (crm.core.exports): its queue, filters and order."""

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.exports import ExportSpec, filters_of, in_chunks, register
from crm.core.models import User
from crm.core.permissions import export_scope_q
from support.forms.tickets import ticket_list_state
from support.selectors import tickets as selectors


@register("tickets")
def ticket_export(*, user: User, params: QueryDict) -> ExportSpec:
    _form, filters, queue = ticket_list_state(params)
    qs = (
        selectors.ticket_list(user=user, queue=queue, filters=filters, now=timezone.now())
        .filter(export_scope_q(user, "tickets", owner_field="account__owner"))
        .select_related("created_by")
    )

    def rows():
        for t in in_chunks(qs):
            yield (
                t.number,
                t.subject,
                t.account.name,
                t.contact.full_name if t.contact else "",
                t.get_category_display(),
                t.get_channel_display(),
                t.get_priority_display(),
                t.get_status_display(),
                str(t.assignee) if t.assignee else "",
                str(t.created_by),
                t.created_at,
                t.first_response_at,
                t.resolution_due,
                t.resolution_breached,
                t.resolved_at,
                t.closed_at,
            )

    return ExportSpec(
        name="tickets",
        title=_("incidencias"),
        headers=[
            _("Número"),
            _("Asunto"),
            _("Cuenta"),
            _("Contacto"),
            _("Categoría"),
            _("Canal"),
            _("Prioridad"),
            _("Estado"),
            _("Asignada a"),
            _("Abierta por"),
            _("Creada"),
            _("Primera respuesta"),
            _("Vence la resolución"),
            _("Resolución vencida"),
            _("Resuelta el"),
            _("Cerrada el"),
        ],
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )
