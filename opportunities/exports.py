"""The opportunities and activities lists as CSV or Excel (crm.core.exports)."""

from django.http import QueryDict
from django.utils.translation import gettext as _

from crm.core.exports import ExportSpec, filters_of, in_chunks, register
from crm.core.models import User
from crm.core.permissions import export_scope_q
from crm.core.text import parse_id
from opportunities.forms.pipeline import OpportunityFilterForm
from opportunities.models import Activity
from opportunities.selectors import activities as activity_selectors
from opportunities.selectors import pipeline as selectors

# The customer an activity list is of (opportunities.views.activities), in its precedence.
CUSTOMER_PARAMS = ("opportunity", "contact", "account")


@register("opportunities")
def opportunity_export(*, user: User, params: QueryDict) -> ExportSpec:
    filters = OpportunityFilterForm(params or None).filters()
    qs = (
        selectors.opportunity_list(user=user, filters=filters)
        .filter(export_scope_q(user, "opportunities"))
        .select_related("contact", "pipeline")
    )

    def rows():
        for o in in_chunks(qs):
            yield (
                o.name,
                o.account.name,
                o.contact.full_name if o.contact else "",
                o.pipeline.name,
                o.stage.name,
                o.stage.probability,
                o.amount,
                o.currency,
                o.expected_close_date,
                o.get_forecast_category_display(),
                o.get_lead_source_display(),
                str(o.owner),
                o.closed_at,
                o.won_reason,
                o.lost_reason,
                o.created_at,
            )

    return ExportSpec(
        name="opportunities",
        title=_("oportunidades"),
        headers=[
            _("Oportunidad"),
            _("Cuenta"),
            _("Contacto"),
            _("Embudo"),
            _("Etapa"),
            _("Probabilidad %"),
            _("Importe"),
            _("Moneda"),
            _("Cierre previsto"),
            _("Categoría de previsión"),
            _("Origen"),
            _("Responsable"),
            _("Cerrada el"),
            _("Motivo de ganancia"),
            _("Motivo de pérdida"),
            _("Creada"),
        ],
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )


def activity_filters(params: QueryDict) -> dict:
    """The activity list's filters from its query string, as its view reads them: one
    customer's activities, or else the user's own; and a status."""
    filters: dict = {}
    for name in CUSTOMER_PARAMS:
        if params.get(name):
            filters[name] = parse_id(params[name]) or -1  # no such id: no rows
            break
    else:
        filters["mine"] = True
    if params.get("status") in Activity.Status.values:
        filters["status"] = params["status"]
    return filters


@register("activities")
def activity_export(*, user: User, params: QueryDict) -> ExportSpec:
    filters = activity_filters(params)
    qs = activity_selectors.activity_list(user=user, filters=filters).filter(
        export_scope_q(user, "activities")
    )

    def rows():
        for a in in_chunks(qs):
            yield (
                a.get_kind_display(),
                a.get_status_display(),
                a.subject,
                a.planned_at,
                a.duration_minutes,
                a.done_at,
                a.account.name if a.account else "",
                a.contact.full_name if a.contact else "",
                a.opportunity.name if a.opportunity else "",
                a.place,
                a.outcome,
                a.notes,
                str(a.owner),
            )

    return ExportSpec(
        name="activities",
        title=_("actividades"),
        headers=[
            _("Tipo"),
            _("Estado"),
            _("Asunto"),
            _("Fecha prevista"),
            _("Duración (min)"),
            _("Realizada el"),
            _("Cuenta"),
            _("Contacto"),
            _("Oportunidad"),
            _("Lugar"),
            _("Resultado"),
            _("Notas"),
            _("Responsable"),
        ],
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )
