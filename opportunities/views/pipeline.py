"""Pages of the pipeline: the board, the list, the deal's sheet and form, lines and products."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import account_by_pk
from contacts.models import Contact
from crm.core.concurrency import StaleEdit, edit_status
from crm.core.forms_utils import form_errors_text, paginate, safe_next
from crm.core.text import parse_id
from opportunities.forms.pipeline import (
    BoardFilterForm,
    LineItemForm,
    MoveForm,
    OpportunityFilterForm,
    OpportunityForm,
    ProductFilterForm,
    ProductForm,
    QuoteForm,
)
from opportunities.models import LineItem, Opportunity, Pipeline, Product
from opportunities.money import Rates, company_currency
from opportunities.permissions import can_sell
from opportunities.selectors import pipeline as selectors
from opportunities.services import pipeline as services
from opportunities.services.quotes import quote_default_terms
from opportunities.views.board_cards import CardLabels, render_cards
from opportunities.views.list_rows import render_rows


def _require_seller(request: HttpRequest) -> None:
    if not can_sell(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a las oportunidades."))


def _require_admin(request: HttpRequest) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied(_("Solo un administrador gestiona el catálogo de productos."))


def _visible(request: HttpRequest, pk: int) -> Opportunity:
    try:
        return selectors.opportunity_detail(user=request.user, pk=pk)
    except Opportunity.DoesNotExist as exc:
        raise Http404(_("No existe esa oportunidad.")) from exc


def _editable(request: HttpRequest, pk: int) -> Opportunity:
    try:
        return selectors.opportunity_editable(user=request.user).get(pk=pk)
    except Opportunity.DoesNotExist as exc:
        raise Http404(_("No existe esa oportunidad o no puedes modificarla.")) from exc


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# The board --------------------------------------------------------------------------------


def _board_pipeline(form: BoardFilterForm) -> Pipeline:
    pipeline_id = form.data.get("pipeline") if form.is_bound else None
    try:
        return selectors.pipeline_get(int(pipeline_id) if pipeline_id else None)
    except (Pipeline.DoesNotExist, ValueError) as exc:
        raise Http404(_("No existe ese embudo.")) from exc


def _list_query(filters: dict, **extra) -> str:
    """The filtered list behind a column's «ver más», with the board's filters."""
    query = {k: getattr(v, "pk", v) for k, v in filters.items() if k != "pipeline"}
    query.update(extra)
    return urlencode({k: str(v) for k, v in query.items()})


def _card_context(board: selectors.Board, cards: list[selectors.Card], *, show_owner: bool) -> dict:
    """What every card of the board shares, made once, and each card's HTML (board_cards)."""
    labels = CardLabels.translated()
    render_cards(cards, currency=board.currency, show_owner=show_owner, labels=labels)
    return {"board_url": reverse("opportunities:board"), "card_labels": labels}


@require_http_methods(["GET"])
def board(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    form = BoardFilterForm(request.GET or None, user=request.user)
    pipeline = _board_pipeline(form)
    filters = form.filters()
    data = selectors.board(user=request.user, pipeline=pipeline, filters=filters)
    for column in data.columns:
        column.list_query = _list_query(filters, stage=column.stage.pk)
    template = "opportunities/pipeline/board.html"
    if request.htmx and not request.htmx.boosted:
        template += "#board"
    return render(
        request,
        template,
        {
            "board": data,
            "filter_form": form,
            "pipelines": list(selectors.pipeline_choices()),
            "can_create": True,
            "today": timezone.localdate(),
            "show_owner": form.show_owner,
            **_card_context(
                data,
                [card for column in data.columns for card in column.cards],
                show_owner=form.show_owner,
            ),
        },
    )


def _move_response(
    request: HttpRequest, opportunity: Opportunity, *, error: str = "", status: int = 200
) -> HttpResponse:
    """The moved card, the board's totals and the message, swapped in by htmx."""
    form = BoardFilterForm(request.POST, user=request.user)
    filters = form.filters()
    opportunity = selectors.opportunity_list(user=request.user).get(pk=opportunity.pk)
    card = selectors.Card.of(opportunity)
    selectors.with_company_amounts([card])
    data = selectors.board(
        user=request.user,
        pipeline=opportunity.pipeline,
        filters=filters,
        with_cards=False,
    )
    cards = _card_context(data, [card], show_owner=form.show_owner)
    return render(
        request,
        "opportunities/pipeline/move_result.html",
        {
            "card": card,
            "board": data,
            "error": error,
            "moved_to": opportunity.stage if not error else None,
            "today": timezone.localdate(),
            "show_owner": form.show_owner,
            **cards,
        },
        status=status,
    )


@require_POST
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One stage move, from the board (htmx: drag and drop or the select) or the sheet."""
    opportunity = _editable(request, pk)
    form = MoveForm(request.POST)
    error = ""
    if not form.is_valid():
        error = _("Elige una etapa válida.")
    else:
        try:
            opportunity = services.opportunity_move(
                actor=request.user,
                opportunity=opportunity,
                stage=form.cleaned_data["stage"],
                lost_reason=form.cleaned_data["lost_reason"],
                won_reason=form.cleaned_data["won_reason"],
            )
        except ValidationError as exc:
            error = _error_text(exc)
        except PermissionDenied as exc:
            error = str(exc) or _("No puedes mover esta oportunidad.")
    if request.htmx:
        return _move_response(request, opportunity, error=error, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("«%(name)s» pasa a %(stage)s.")
            % {"name": opportunity.name, "stage": opportunity.stage.name},
        )
    return redirect(safe_next(request, opportunity.get_absolute_url()))


# The list ---------------------------------------------------------------------------------


@require_http_methods(["GET"])
def opportunity_list(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    form = OpportunityFilterForm(request.GET or None)
    filters = form.filters()
    page = paginate(
        request,
        selectors.opportunity_list(user=request.user, filters=filters),
        rows=selectors.opportunity_list_rows(user=request.user),
    )
    template = "opportunities/pipeline/opportunity_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#opportunity-results"
    return render(
        request,
        template,
        {
            "filter_form": form,
            "page_obj": page,
            "rows": render_rows(page.object_list, currency=company_currency(), rates=Rates()),
            "count_url": reverse("opportunities:opportunity-count"),
            "filter_account": account_by_pk(user=request.user, pk=filters["account"])
            if filters.get("account")
            else None,
        },
    )


@require_http_methods(["GET"])
def opportunity_count(request: HttpRequest) -> HttpResponse:
    """The total of the list with these filters, loaded after the page (see ListPage)."""
    _require_seller(request)
    form = OpportunityFilterForm(request.GET or None)
    count = selectors.opportunity_list(user=request.user, filters=form.filters()).count()
    return render(request, "partials/list_count.html", {"count": count})


# The deal's sheet -------------------------------------------------------------------------


def _lines_context(opportunity: Opportunity, *, form=None, editing=None) -> dict:
    summary = selectors.summarize_lines(selectors.line_items_of(opportunity=opportunity))
    return {
        "opportunity": opportunity,
        "summary": summary,
        "line_form": form or LineItemForm(),
        "editing": editing,
    }


@require_http_methods(["GET"])
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _visible(request, pk)
    selectors.with_company_amounts([opportunity])
    editing = None
    if line_id := parse_id(request.GET.get("edit_line")):
        line = opportunity.line_items.filter(pk=line_id).first()
        editing = (line.pk, LineItemForm(instance=line, prefix=f"line-{line.pk}")) if line else None
    return render(
        request,
        "opportunities/pipeline/opportunity_detail.html",
        {
            **_lines_context(opportunity, editing=editing),
            "history": selectors.stage_history(opportunity=opportunity),
            "stages": selectors.stages_of(opportunity.pipeline_id),
            "quotes": selectors.quotes_of(opportunity=opportunity),
            "quote_form": QuoteForm(initial=_quote_initial()),
            "company_currency": company_currency(),
        },
    )


def _quote_initial() -> dict:
    return {
        "valid_until": timezone.localdate() + timedelta(days=30),
        "terms": quote_default_terms(),
    }


def _form_parts(form: OpportunityForm) -> dict:
    data = dict(form.cleaned_data)
    return {
        "account": data.pop("account"),
        "contact": data.pop("contact", None),
        "owner": data.pop("owner", None),
        "stage": data.pop("stage", None),
        "data": data,
    }


@require_http_methods(["GET", "POST"])
def opportunity_create(request: HttpRequest) -> HttpResponse:
    _require_seller(request)
    initial = {}
    if account_id := parse_id(request.GET.get("account")):
        account = account_by_pk(user=request.user, pk=account_id)
        if account is not None and account.archived_at is None:
            initial = {"account": account.pk, "name": ""}
    form = OpportunityForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        parts = _form_parts(form)
        try:
            opportunity = services.opportunity_create(actor=request.user, **parts)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Oportunidad «%(name)s» creada.") % {"name": opportunity.name}
            )
            return redirect(opportunity)
    return render(
        request,
        "opportunities/pipeline/opportunity_form.html",
        {"form": form, "creating": True},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def opportunity_update(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable(request, pk)
    form = OpportunityForm(request.POST or None, instance=opportunity, user=request.user)
    if request.method == "POST" and form.is_valid():
        parts = _form_parts(form)
        parts.pop("stage")
        try:
            opportunity = services.opportunity_update(
                actor=request.user, opportunity=opportunity, version=form.loaded_version, **parts
            )
        except StaleEdit as exc:
            form.show_conflict(exc.conflict)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect(opportunity)
    return render(
        request,
        "opportunities/pipeline/opportunity_form.html",
        {"form": form, "opportunity": opportunity, "creating": False},
        status=edit_status(request, form),
    )


@require_http_methods(["GET"])
def opportunity_contact_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the contact select for the account just chosen in the form."""
    _require_seller(request)
    account_id = parse_id(request.GET.get("account"))
    contacts = (
        Contact.objects.filter(account_id=account_id, archived_at__isnull=True)
        .only("id", "first_name", "last_name")
        .order_by("last_name", "first_name")[:200]
        if account_id
        else []
    )
    return render(request, "opportunities/pipeline/contact_options.html", {"contacts": contacts})


@require_http_methods(["GET"])
def account_opportunities_panel(request: HttpRequest, account_pk: int) -> HttpResponse:
    """The opportunities panel of an account's sheet, loaded by htmx (crm.core.panels)."""
    _require_seller(request)
    if parse_id(account_pk) is None:  # past any id (the URL takes any digits)
        raise Http404(_("No existe esa cuenta."))
    rows = selectors.account_opportunities(user=request.user, account_id=account_pk)
    return render(
        request,
        "opportunities/pipeline/account_opportunities_panel.html",
        {
            "opportunities": rows[: selectors.ACCOUNT_PANEL_LIMIT],
            "more": len(rows) > selectors.ACCOUNT_PANEL_LIMIT,
            "account_pk": account_pk,
            "company_currency": company_currency(),
        },
    )


# Line items (htmx, with plain-POST fallbacks) ---------------------------------------------


def _lines_response(
    request: HttpRequest, opportunity: Opportunity, *, status: int = 200, **kwargs
) -> HttpResponse:
    opportunity = selectors.opportunity_detail(user=request.user, pk=opportunity.pk)
    selectors.with_company_amounts([opportunity])
    return render(
        request,
        "opportunities/pipeline/lines.html",
        {**_lines_context(opportunity, **kwargs), "company_currency": company_currency()},
        status=status,
    )


def _line(request: HttpRequest, pk: int) -> LineItem:
    try:
        return selectors.line_item_editable(user=request.user, pk=pk)
    except LineItem.DoesNotExist as exc:
        raise Http404(_("No existe esa línea o no puedes modificarla.")) from exc


def _lines_url(opportunity: Opportunity) -> str:
    return f"{opportunity.get_absolute_url()}#lines"


@require_http_methods(["GET"])
def line_items(request: HttpRequest, pk: int) -> HttpResponse:
    """The lines block, as it is (e.g. to cancel an edit)."""
    opportunity = _visible(request, pk)
    if not request.htmx:
        return redirect(_lines_url(opportunity))
    return _lines_response(request, opportunity)


@require_POST
def line_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable(request, pk)
    form = LineItemForm(request.POST)
    if form.is_valid():
        try:
            services.line_item_add(
                actor=request.user, opportunity=opportunity, data=form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if request.htmx:
                return _lines_response(request, opportunity)
            messages.success(request, _("Línea añadida."))
            return redirect(_lines_url(opportunity))
    if request.htmx:
        return _lines_response(request, opportunity, form=form, status=422)
    messages.error(
        request, _("No se pudo añadir la línea: %(errors)s") % {"errors": form_errors_text(form)}
    )
    return redirect(_lines_url(opportunity))


@require_http_methods(["GET", "POST"])
def line_item_update(request: HttpRequest, pk: int) -> HttpResponse:
    line = _line(request, pk)
    opportunity = line.opportunity
    prefix = f"line-{line.pk}"
    if request.method == "GET":
        if not request.htmx:
            return redirect(f"{opportunity.get_absolute_url()}?edit_line={line.pk}#lines")
        form = LineItemForm(instance=line, prefix=prefix)
        return _lines_response(request, opportunity, editing=(line.pk, form))
    form = LineItemForm(request.POST, instance=line, prefix=prefix)
    if form.is_valid():
        try:
            services.line_item_update(actor=request.user, line=line, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if request.htmx:
                return _lines_response(request, opportunity)
            messages.success(request, _("Línea guardada."))
            return redirect(_lines_url(opportunity))
    if request.htmx:
        return _lines_response(request, opportunity, editing=(line.pk, form), status=422)
    messages.error(
        request, _("No se pudo guardar la línea: %(errors)s") % {"errors": form_errors_text(form)}
    )
    return redirect(_lines_url(opportunity))


@require_POST
def line_item_remove(request: HttpRequest, pk: int) -> HttpResponse:
    line = _line(request, pk)
    opportunity = services.line_item_remove(actor=request.user, line=line)
    if request.htmx:
        return _lines_response(request, opportunity)
    messages.success(request, _("Línea eliminada."))
    return redirect(_lines_url(opportunity))


# Products (administrators) ----------------------------------------------------------------


@require_http_methods(["GET"])
def product_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = ProductFilterForm(request.GET or None)
    page = paginate(request, selectors.product_list(filters=form.filters()))
    return render(
        request,
        "opportunities/pipeline/product_list.html",
        {
            "filter_form": form,
            "page_obj": page,
            "count_url": reverse("opportunities:product-count"),
        },
    )


@require_http_methods(["GET"])
def product_count(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = ProductFilterForm(request.GET or None)
    count = selectors.product_list(filters=form.filters()).count()
    return render(request, "partials/list_count.html", {"count": count})


@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Producto «%(name)s» creado.") % {"name": product.name})
            return redirect("opportunities:product-list")
    return render(
        request,
        "opportunities/pipeline/product_form.html",
        {"form": form, "creating": True},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def product_update(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    try:
        product = Product.objects.get(pk=pk)
    except Product.DoesNotExist as exc:
        raise Http404(_("No existe ese producto.")) from exc
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_update(
                actor=request.user, product=product, data=form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect("opportunities:product-list")
    return render(
        request,
        "opportunities/pipeline/product_form.html",
        {"form": form, "product": product, "creating": False},
        status=200 if request.method == "GET" or not form.errors else 422,
    )
