from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import account_by_pk
from contacts import scoring, selectors, services
from contacts.forms import ConsentForm, ContactFilterForm, ContactForm
from contacts.list_rows import render_rows
from contacts.models import Contact
from crm.core.concurrency import StaleEdit, edit_status
from crm.core.forms_utils import client_ip, form_errors_text, owner_and_tags, paginate
from crm.core.panels import panels_for
from crm.core.permissions import can_create_records
from crm.core.roles import can_use
from crm.core.text import digits, parse_id

ACCOUNT_PANEL_LIMIT = 20


@require_http_methods(["GET"])
def contact_list(request: HttpRequest) -> HttpResponse:
    form, filters = ContactFilterForm.for_list(request.GET)
    page = paginate(
        request,
        selectors.contact_filtered(user=request.user, filters=filters),
        rows=selectors.contact_page_rows(user=request.user),
    )
    template = "contacts/contact_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#contact-results"
    return render(
        request,
        template,
        {
            "filter_form": form,
            # Worked out only where the bar is drawn (not in the results an htmx keystroke asks
            # for): the owners' names it holds are a read of the cache.
            "filter_key": partial(ContactFilterForm.fragment_key_of, request.GET),
            "page_obj": page,
            "rows": render_rows(page.object_list, selectable=can_use(request.user, "campaigns")),
            "can_create": can_create_records(request.user),
            "count_url": reverse("contacts:contact-count"),
            "filter_account": account_by_pk(user=request.user, pk=filters["account"])
            if filters.get("account")
            else None,
        },
    )


@require_http_methods(["GET"])
def contact_count(request: HttpRequest) -> HttpResponse:
    """The total of the list with these filters, loaded after the page (see ListPage)."""
    filters = ContactFilterForm.filters_from(request.GET)
    count = selectors.contact_filtered(user=request.user, filters=filters).count()
    return render(request, "partials/list_count.html", {"count": count})


def _get_contact(request: HttpRequest, pk: int) -> Contact:
    try:
        return selectors.contact_detail(user=request.user, pk=pk)
    except Contact.DoesNotExist as exc:
        raise Http404(_("No existe ese contacto.")) from exc


def _editable(request: HttpRequest, pk: int) -> Contact:
    try:
        return selectors.contact_editable(user=request.user).get(pk=pk)
    except Contact.DoesNotExist as exc:
        raise Http404(_("No existe ese contacto o no puedes modificarlo.")) from exc


@require_http_methods(["GET"])
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _get_contact(request, pk)
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "panels": panels_for(contact, user=request.user),
            "consents": selectors.contact_consent_state(contact=contact),
            "consent_form": ConsentForm()
            if contact.can_edit or request.user.is_marketing
            else None,
            "history": selectors.contact_history(contact=contact),
            "score_changes": scoring.contact_score_changes(contact=contact),
            "score_threshold": scoring.mql_threshold(),
            "can_manage_scoring": scoring.can_manage_scoring(request.user),
        },
    )


@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    if not can_create_records(request.user):
        raise PermissionDenied(_("Tu rol no puede crear contactos."))
    initial = {}
    if account_id := parse_id(request.GET.get("account")):
        account = account_by_pk(user=request.user, pk=account_id)
        if account is not None:
            initial = {
                "account": account.pk,
                "country": account.country,
                "city": account.city,
                "region": account.region,
            }
    form = ContactForm(request.POST or None, initial=initial, user=request.user)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        data, owner, tags = owner_and_tags(form)
        candidate = form.instance  # validated: phones already in E.164, email lower-case
        duplicates = list(
            selectors.contact_duplicates(
                email=candidate.email,
                phone_digits=(digits(candidate.phone), digits(candidate.mobile)),
                first_name=candidate.first_name,
                last_name=candidate.last_name,
                account_id=candidate.account_id,
            )
        )
        # The same email cannot be saved twice: that one is an error of the form, not a warning.
        if not duplicates or request.POST.get("confirm_duplicates"):
            try:
                contact = services.contact_create(
                    actor=request.user, data=data, owner=owner, tags=tags
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, _("Contacto «%(name)s» creado.") % {"name": contact.full_name}
                )
                return redirect(contact)
    return render(
        request,
        "contacts/contact_form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def contact_update(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(request, pk)
    form = ContactForm(request.POST or None, instance=contact, user=request.user)
    if request.method == "POST" and form.is_valid():
        data, owner, tags = owner_and_tags(form)
        try:
            contact = services.contact_update(
                actor=request.user,
                contact=contact,
                data=data,
                owner=owner,
                tags=tags,
                version=form.loaded_version,
            )
        except StaleEdit as exc:
            form.show_conflict(exc.conflict)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect(contact)
    return render(
        request,
        "contacts/contact_form.html",
        {"form": form, "contact": contact, "creating": False},
        status=edit_status(request, form),
    )


@require_POST
def contact_archive(request: HttpRequest, pk: int) -> HttpResponse:
    contact = services.contact_archive(actor=request.user, contact=_editable(request, pk))
    messages.success(request, _("Contacto «%(name)s» archivado.") % {"name": contact.full_name})
    return redirect(contact)


@require_POST
def contact_restore(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(request, pk)
    try:
        contact = services.contact_restore(actor=request.user, contact=contact)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(contact)
    messages.success(request, _("Contacto «%(name)s» restaurado.") % {"name": contact.full_name})
    return redirect(contact)


@require_POST
def contact_consent(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _get_contact(request, pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("Revisa los datos del consentimiento: %(errors)s")
            % {"errors": form_errors_text(form)},
        )
        return redirect(contact)
    services.consent_record(
        contact=contact,
        actor=request.user,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        **form.cleaned_data,
    )
    messages.success(request, _("Consentimiento registrado."))
    return redirect(f"{contact.get_absolute_url()}#consent")


@require_http_methods(["GET"])
def account_contacts_panel(request: HttpRequest, account_pk: int) -> HttpResponse:
    """The contacts panel of an account's sheet, loaded by htmx (crm.core.panels)."""
    if parse_id(account_pk) is None:  # past any id (the URL takes any digits)
        raise Http404(_("No existe esa cuenta."))
    contacts = selectors.contacts_of_account(user=request.user, account_id=account_pk)
    shown = list(contacts[: ACCOUNT_PANEL_LIMIT + 1])
    return render(
        request,
        "contacts/account_contacts_panel.html",
        {
            "contacts": shown[:ACCOUNT_PANEL_LIMIT],
            "more": len(shown) > ACCOUNT_PANEL_LIMIT,
            "account_pk": account_pk,
            "can_create": can_create_records(request.user),
        },
    )
