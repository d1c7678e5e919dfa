"""The contacts list as CSV or Excel (crm.core.exports): its filters, its order, all its pages."""

from django.http import QueryDict
from django.utils.translation import gettext as _

from contacts import selectors
from contacts.forms import ContactFilterForm
from contacts.models import Consent
from crm.core.exports import ExportSpec, filters_of, in_chunks, register
from crm.core.models import User
from crm.core.permissions import export_scope_q


@register("contacts")
def contact_export(*, user: User, params: QueryDict) -> ExportSpec:
    filters = ContactFilterForm(params or None).filters()
    qs = selectors.contact_list(user=user, filters=filters).filter(export_scope_q(user, "contacts"))
    consent = {value: str(label) for value, label in Consent.Action.choices}
    no_record = _("Sin registro")

    def rows():
        for c in in_chunks(qs):
            yield (
                c.first_name,
                c.last_name,
                c.job_title,
                c.account.name if c.account else "",
                c.email,
                c.phone_display,
                c.mobile_display,
                c.get_lifecycle_display(),
                c.get_lead_source_display(),
                c.lead_score,
                consent.get(c.email_consent, no_record),
                c.birthday,
                c.city,
                c.region,
                c.get_country_display(),
                str(c.owner),
                ", ".join(item.tag.name for item in c.tag_items),
                c.last_contacted_at,
                c.created_at,
                c.archived_at,
            )

    return ExportSpec(
        name="contacts",
        title=_("contactos"),
        headers=[
            _("Nombre"),
            _("Apellidos"),
            _("Puesto"),
            _("Cuenta"),
            _("Correo electrónico"),
            _("Teléfono"),
            _("Móvil"),
            _("Etapa"),
            _("Origen"),
            _("Puntuación"),
            _("Consentimiento (correo)"),
            _("Cumpleaños"),
            _("Ciudad"),
            _("Estado o provincia"),
            _("País"),
            _("Responsable"),
            _("Etiquetas"),
            _("Último contacto"),
            _("Creado"),
            _("Archivado"),
        ],
        rows=rows(),
        count=qs.count,
        filters=filters_of(params),
    )
