"""The accounts list as CSV or Excel (crm.core.exports): its filters, its order, all its pages."""

from django.http import QueryDict
from django.utils.translation import gettext as _

from accounts import selectors
from accounts.forms import AccountFilterForm
from crm.core.exports import ExportSpec, filters_of, in_chunks, register
from crm.core.models import User
from crm.core.permissions import export_scope_q


@register("accounts")
def account_export(*, user: User, params: QueryDict) -> ExportSpec:
    filters = AccountFilterForm(params or None).filters()
    qs = selectors.account_list(user=user, filters=filters).filter(export_scope_q(user, "accounts"))

    def rows():
        for a in in_chunks(qs):
            yield (
                a.name,
                a.legal_name,
                a.tax_id,
                a.get_industry_display(),
                a.get_size_display(),
                a.get_relationship_display(),
                a.get_status_display(),
                a.tier,
                a.phone_display,
                a.email,
                a.website,
                a.street,
                a.city,
                a.region,
                a.postal_code,
                a.get_country_display(),
                str(a.owner) if a.owner else "",
                ", ".join(item.tag.name for item in a.tag_items),
                a.last_contacted_at,
                a.created_at,
                a.archived_at,
            )

    return ExportSpec(
        name="accounts",
        title=_("cuentas"),
        headers=[
            _("Cuenta"),
            _("Razón social"),
            _("Identificador fiscal"),
            _("Sector"),
            _("Tamaño"),
            _("Relación"),
            _("Situación"),
            _("Clasificación"),
            _("Teléfono"),
            _("Correo electrónico"),
            _("Sitio web"),
            _("Calle y número"),
            _("Ciudad"),
            _("Estado o provincia"),
            _("Código postal"),
            _("País"),
            _("Responsable"),
            _("Etiquetas"),
            _("Último contacto"),
            _("Creada"),
            _("Archivada"),
        ],
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )
