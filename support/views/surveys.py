"""Survey pages: the customer's answer (public, by signed link), NPS rounds, and the
satisfaction panel of a contact's sheet. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from contacts.models import Contact
from crm.core.forms_utils import paginate
from support.forms.surveys import (
    NpsRoundForm,
    SegmentForm,
    SurveyAnswerForm,
    filters_json,
    filters_querystring,
)
from support.models import Survey, SurveyRound
from support.selectors import surveys as selectors
from support.services import surveys as services

RESPONSE_GROUPS = {
    "promoter": gettext_lazy("Promotores"),
    "passive": gettext_lazy("Pasivos"),
    "detractor": gettext_lazy("Detractores"),
}


# --- The customer's answer (no login) --------------------------------------------------------


def _link_problem(request: HttpRequest, *, expired: bool) -> HttpResponse:
    return render(
        request,
        "support/surveys/link_problem.html",
        {"expired": expired, "company": settings.COMPANY},
        status=410 if expired else 400,
    )


def _thanks(request: HttpRequest, survey: Survey, *, already: bool) -> HttpResponse:
    return render(
        request,
        "support/surveys/answer_done.html",
        {"survey": survey, "already": already, "company": settings.COMPANY},
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the question with the email's score preselected (mail scanners that open
    links record nothing); POST records the first answer only."""
    try:
        survey_id, preselected = services.survey_token_read(token)
    except services.SurveyLinkError as exc:
        return _link_problem(request, expired=exc.expired)
    survey = selectors.survey_for_answer(survey_id=survey_id)
    if survey is None:
        return _link_problem(request, expired=False)
    if survey.answered_at is not None:
        return _thanks(request, survey, already=True)
    form = SurveyAnswerForm(
        request.POST if request.method == "POST" else None,
        kind=survey.kind,
        initial={"score": preselected},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_answer(
                survey=survey,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
            )
        except services.AlreadyAnswered:
            return _thanks(request, survey, already=True)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _thanks(request, survey, already=False)
    response = render(
        request,
        "support/surveys/answer.html",
        {"survey": survey, "form": form, "company": settings.COMPANY},
        status=422 if form.errors else 200,
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- NPS rounds -------------------------------------------------------------------------------


def _require_nps(request: HttpRequest) -> None:
    if not services.can_run_nps(request.user):
        raise PermissionDenied(_("Tu rol no tiene acceso a las encuestas NPS."))


@require_http_methods(["GET"])
def nps_round_list(request: HttpRequest) -> HttpResponse:
    _require_nps(request)
    page = paginate(request, selectors.nps_round_list(user=request.user))
    return render(
        request,
        "support/surveys/nps_round_list.html",
        {"page_obj": page, "rows": selectors.nps_round_stats(list(page))},
    )


def _segment(data) -> tuple[SegmentForm, dict]:
    form = SegmentForm(data or None)
    return form, filters_json(form.filters())


@require_http_methods(["GET", "POST"])
def nps_round_create(request: HttpRequest) -> HttpResponse:
    """The segment (the contact list's filters), the recipients it reaches, and Send."""
    _require_nps(request)
    data = request.POST if request.method == "POST" else request.GET
    segment_form, filters = _segment(data)
    form = NpsRoundForm(
        request.POST if request.method == "POST" else None,
        initial={"name": request.GET.get("name", "")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            survey_round = services.nps_round_create(
                actor=request.user, name=form.cleaned_data["name"], filters=filters
            )
        except ValidationError as exc:
            # Send pressed twice: the first round is on its way; show it, change nothing.
            if getattr(exc, "code", None) == "duplicate":
                messages.info(request, exc.messages[0])
                return redirect("support:nps-round-list")
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Encuesta «%(name)s» creada: se enviará a %(count)s contactos.")
                % {"name": survey_round.name, "count": survey_round.recipients},
            )
            return redirect("support:nps-round-detail", pk=survey_round.pk)
    return render(
        request,
        "support/surveys/nps_round_form.html",
        {
            "form": form,
            "filter_form": segment_form,
            "recipients": selectors.nps_recipients(user=request.user, filters=filters).count(),
            "contacts_query": filters_querystring(filters),
        },
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET"])
def nps_round_preview(request: HttpRequest) -> HttpResponse:
    """The number of recipients of the segment as the filters change (htmx)."""
    _require_nps(request)
    _form, filters = _segment(request.GET)
    return render(
        request,
        "support/surveys/nps_round_form.html#recipients",
        {
            "recipients": selectors.nps_recipients(user=request.user, filters=filters).count(),
            "contacts_query": filters_querystring(filters),
        },
    )


@require_http_methods(["GET"])
def nps_round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_nps(request)
    try:
        survey_round, stats = selectors.nps_round_detail(user=request.user, pk=pk)
    except SurveyRound.DoesNotExist as exc:
        raise Http404(_("No existe esa encuesta.")) from exc
    group = request.GET.get("group", "")
    group = group if group in RESPONSE_GROUPS else ""
    page = paginate(request, selectors.nps_round_responses(survey_round=survey_round, group=group))
    template = "support/surveys/nps_round_detail.html"
    if request.htmx and not request.htmx.boosted:
        template += "#responses"
    return render(
        request,
        template,
        {
            "round": survey_round,
            "stats": stats,
            "page_obj": page,
            "group": group,
            "response_groups": [("", _("Todas")), *RESPONSE_GROUPS.items()],
            "contacts_query": filters_querystring(survey_round.filters),
            "count_url": reverse("support:nps-round-count", args=[survey_round.pk]),
        },
    )


@require_http_methods(["GET"])
def nps_round_count(request: HttpRequest, pk: int) -> HttpResponse:
    """The total of the responses list with its filter, loaded after the page (ListPage)."""
    _require_nps(request)
    try:
        survey_round = selectors.nps_round_get(user=request.user, pk=pk)
    except SurveyRound.DoesNotExist as exc:
        raise Http404(_("No existe esa encuesta.")) from exc
    group = request.GET.get("group", "")
    count = selectors.nps_round_responses(
        survey_round=survey_round, group=group if group in RESPONSE_GROUPS else ""
    ).count()
    return render(request, "partials/list_count.html", {"count": count})


# --- The panel of the contact's sheet -----------------------------------------------------------


@require_http_methods(["GET"])
def contact_satisfaction_panel(request: HttpRequest, contact_pk: int) -> HttpResponse:
    """The satisfaction panel of a contact's sheet, loaded by htmx (crm.core.panels)."""
    try:
        data = selectors.contact_satisfaction_panel(user=request.user, contact_id=contact_pk)
    except Contact.DoesNotExist as exc:
        raise Http404(_("No existe ese contacto.")) from exc
    if request.htmx:
        return render(request, "support/surveys/contact_panel.html", data)
    # Without JavaScript the sheet's "Ver todo" opens the panel as a page of its own.
    return render(request, "support/surveys/contact_panel_page.html", data)
