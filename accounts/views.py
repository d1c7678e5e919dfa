from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import AccountFilterForm, AccountForm
from accounts.models import Account
from crm.core.concurrency import StaleEdit, edit_status
from crm.core.forms_utils import owner_and_tags, paginate
from crm.core.panels import panels_for
from crm.core.permissions import can_create_records
from crm.core.text import digits


@require_http_methods(["GET"])
def account_list(request: HttpRequest) -> HttpResponse:
    form = AccountFilterForm(request.GET or None)
    page = paginate(
        request,
        selectors.account_list(user=request.user, filters=form.filters()),
        rows=selectors.account_list_rows(user=request.user),
    )
    template = "accounts/account_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#account-results"
    return render(
        request,
        template,
        {
            "filter_form": form,
            "page_obj": page,
            "can_create": can_create_records(request.user),
            "count_url": reverse("accounts:account-count"),
        },
    )


@require_http_methods(["GET"])
def account_count(request: HttpRequest) -> HttpResponse:
    """The total of the list with these filters, loaded after the page (see ListPage)."""
    form = AccountFilterForm(request.GET or None)
    count = selectors.account_list(user=request.user, filters=form.filters()).count()
    return render(request, "partials/list_count.html", {"count": count})


def _get_account(request: HttpRequest, pk: int) -> Account:
    try:
        return selectors.account_detail(user=request.user, pk=pk)
    except Account.DoesNotExist as exc:
        raise Http404(_("No existe esa cuenta.")) from exc


@require_http_methods(["GET"])
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _get_account(request, pk)
    return render(
        request,
        "accounts/account_detail.html",
        {
            "account": account,
            "panels": panels_for(account, user=request.user),
            "history": selectors.account_history(account=account),
        },
    )


@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    if not can_create_records(request.user):
        raise PermissionDenied(_("Tu rol no puede crear cuentas."))
    form = AccountForm(request.POST or None, user=request.user)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        data, owner, tags = owner_and_tags(form)
        candidate = form.instance  # validated: tax id compact, phone in E.164
        duplicates = list(
            selectors.account_duplicates(
                tax_id=candidate.tax_id,
                email=candidate.email,
                phone_digits=digits(candidate.phone),
            )
        )
        if not duplicates or request.POST.get("confirm_duplicates"):
            try:
                account = services.account_create(
                    actor=request.user, data=data, owner=owner, tags=tags
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Cuenta «%(name)s» creada.") % {"name": account.name})
                return redirect(account)
    return render(
        request,
        "accounts/account_form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def account_update(request: HttpRequest, pk: int) -> HttpResponse:
    account = _editable(request, pk)
    form = AccountForm(request.POST or None, instance=account, user=request.user)
    if request.method == "POST" and form.is_valid():
        data, owner, tags = owner_and_tags(form)
        try:
            account = services.account_update(
                actor=request.user,
                account=account,
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
            return redirect(account)
    return render(
        request,
        "accounts/account_form.html",
        {"form": form, "account": account, "creating": False},
        status=edit_status(request, form),
    )


def _editable(request: HttpRequest, pk: int) -> Account:
    try:
        return selectors.account_editable(user=request.user).get(pk=pk)
    except Account.DoesNotExist as exc:
        raise Http404(_("No existe esa cuenta o no puedes modificarla.")) from exc


@require_POST
def account_archive(request: HttpRequest, pk: int) -> HttpResponse:
    account = services.account_archive(actor=request.user, account=_editable(request, pk))
    messages.success(request, _("Cuenta «%(name)s» archivada.") % {"name": account.name})
    return redirect(account)


@require_POST
def account_restore(request: HttpRequest, pk: int) -> HttpResponse:
    account = _editable(request, pk)
    try:
        account = services.account_restore(actor=request.user, account=account)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(account)
    messages.success(request, _("Cuenta «%(name)s» restaurada.") % {"name": account.name})
    return redirect(account)


@require_http_methods(["GET"])
def account_picker(request: HttpRequest) -> HttpResponse:
    """Suggestions for the account picker of other forms (crm.core.widgets.RecordPicker)."""
    query = next((v for k, v in request.GET.items() if k == "q" or k.endswith("__search")), "")
    accounts = selectors.account_list(user=request.user, filters={"q": query})[:10] if query else []
    return render(request, "accounts/account_picker.html", {"accounts": accounts, "query": query})
