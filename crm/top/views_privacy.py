"""A contact's data rights, for administrators: what we hold, its download, and its erasure."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Contact
from crm.core.forms_utils import add_service_errors, client_ip
from crm.top.privacy import (
    person_data,
    person_erase,
    person_export_audit,
    person_get,
    person_pdf,
    privacy_summary,
)

TEMPLATE = "top/privacy/privacy_contact.html"
# What the administrator types to confirm: a word, since an erased or address-less contact
# has no email to type.
CONFIRM_WORD = "BORRAR"


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motivo y referencia de la solicitud"),
        help_text=gettext_lazy(
            "Por ejemplo, el folio o la fecha de la solicitud. No escribas datos de la persona."
        ),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.CharField(label="", max_length=20)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = _("Escribe %(word)s para confirmar") % {"word": CONFIRM_WORD}
        self.fields["confirm"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value.upper() != CONFIRM_WORD:
            raise ValidationError(
                _("Escribe %(word)s para confirmar la supresión.") % {"word": CONFIRM_WORD}
            )
        return value


def _require_admin(request: HttpRequest) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied(_("Solo un administrador ejerce los derechos sobre los datos."))


def _contact(pk: int) -> Contact:
    try:
        return person_get(pk)
    except Contact.DoesNotExist as exc:
        raise Http404(_("No existe ese contacto.")) from exc


def _page(request: HttpRequest, contact: Contact, form: EraseForm, status: int = 200):
    data = person_data(contact)
    return render(
        request,
        TEMPLATE,
        {
            "contact": contact,
            "summary": privacy_summary(data),
            "tags": data["tags"],
            "form": form,
            "confirm_word": CONFIRM_WORD,
        },
        status=status,
    )


@require_GET
def privacy_contact(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    return _page(request, _contact(pk), EraseForm())


@require_GET
def privacy_contact_json(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    contact = _contact(pk)
    body = json.dumps(person_data(contact), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="datos-personales-{contact.pk}.json"'
    person_export_audit(actor=request.user, contact=contact, kind="json", ip=client_ip(request))
    return response


@require_GET
def privacy_contact_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    contact = _contact(pk)
    response = HttpResponse(person_pdf(contact), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="datos-personales-{contact.pk}.pdf"'
    person_export_audit(actor=request.user, contact=contact, kind="pdf", ip=client_ip(request))
    return response


@require_POST
def privacy_contact_erase(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    contact = _contact(pk)
    form = EraseForm(request.POST)
    if form.is_valid():
        try:
            result = person_erase(
                actor=request.user, contact=contact, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not result.changed:
                messages.info(
                    request,
                    _("Los datos de esta persona ya estaban eliminados: no se ha cambiado nada."),
                )
            else:
                messages.success(
                    request,
                    _(
                        "Datos personales eliminados. Se conservan el registro de "
                        "consentimientos, la auditoría y las cifras de venta."
                    ),
                )
            return redirect("crm:privacy-contact", pk=contact.pk)
    return _page(request, contact, form, status=422)
