"""The campaign results list (every sent campaign and its figures) as CSV or Excel.

Figures as the overview page shows them: the stored totals of each campaign (a campaign never
computed yet shows zeros, as on the page before its first view), rates over delivered mail;
revenue and ROI only for those who see amounts.
"""

from itertools import islice

from django.http import QueryDict
from django.utils.translation import gettext as _

from campaigns.permissions import can_see_campaign_amounts
from campaigns.selectors import analyses
from crm.core.exports import ExportSpec, filters_of, in_chunks, register
from crm.core.models import User

BATCH = 500  # campaigns decorated per query (conversions and revenue)


@register("campaign_results")
def campaign_results_export(*, user: User, params: QueryDict) -> ExportSpec:
    with_amounts = can_see_campaign_amounts(user)
    qs = analyses.sent_campaigns()

    def rows():
        campaigns = in_chunks(qs)
        while batch := list(islice(campaigns, BATCH)):
            for c in analyses.decorate_campaigns(batch, with_amounts=with_amounts):
                row = (
                    c.name,
                    str(c.topic),
                    c.get_status_display(),
                    c.first_sent,
                    c.sent_total,
                    c.delivered_total,
                    c.open_rate,
                    c.click_rate,
                    c.conversions,
                )
                if with_amounts:
                    row += (c.revenue, c.roi)
                yield row

    headers = [
        _("Campaña"),
        _("Tema"),
        _("Estado"),
        _("Enviada"),
        _("Enviados"),
        _("Entregados"),
        _("Apertura %"),
        _("Clic %"),
        _("Conversiones"),
    ]
    if with_amounts:
        headers += [_("Ingresos"), _("ROI %")]
    return ExportSpec(
        name="campaign_results",
        title=_("resultados-campanas"),
        headers=headers,
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )
