"""Sign-up forms: marketing's pages (list, editor, results) and the public form at /f/<slug>/.

The public side needs no login and no CSRF cookie (the form is posted from the company's
website too); instead each POST carries a signed token of this form (campaigns.tokens), is
refused past a size, counted per IP and per form (campaigns.ratelimit), and a filled honeypot
is answered with the thank-you page and writes nothing. Its pages are shown in the site's
language (Spanish), whatever the visitor's browser asks. Thin: parse, call
campaigns.services.signup, render.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns import ratelimit
from campaigns.forms.signup import (
    CONSENT,
    HONEYPOT,
    REFERRER,
    TOKEN,
    UTM_KEYS,
    PublicSignupForm,
    SignupFormForm,
)
from campaigns.models import FormSubmission, SignupForm
from campaigns.permissions import can_manage_campaigns
from campaigns.selectors import signup as selectors
from campaigns.services import signup as services
from crm.core.forms_utils import add_service_errors, client_ip, paginate

T = "campaigns/signup/"


def _limits() -> dict:
    """The abuse limits (settings may lower or raise them)."""
    return {
        "max_body": settings.SIGNUP_MAX_BODY_BYTES,
        "per_ip": settings.SIGNUP_RATE_PER_IP,
        "per_ip_window": settings.SIGNUP_RATE_PER_IP_WINDOW,
        "per_form": settings.SIGNUP_RATE_PER_FORM,
        "per_form_window": settings.SIGNUP_RATE_PER_FORM_WINDOW,
    }


# --- Marketing's pages ----------------------------------------------------------------------------


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_campaigns(request.user):
        raise PermissionDenied(_("Solo marketing y los administradores gestionan formularios."))


def _form(pk: int) -> SignupForm:
    try:
        return selectors.signup_form_get(pk=pk)
    except SignupForm.DoesNotExist as exc:
        raise Http404(_("No existe ese formulario.")) from exc


@require_http_methods(["GET"])
def signup_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    page = paginate(request, selectors.signup_form_list())
    return render(request, T + "signup_list.html", {"page_obj": page, "can_manage": True})


def _editor(request: HttpRequest, signup_form: SignupForm | None) -> HttpResponse:
    form = SignupFormForm(request.POST or None, instance=signup_form)
    if request.method == "POST" and form.is_valid():
        try:
            if signup_form is None:
                signup_form = services.signup_form_create(
                    actor=request.user, data=form.service_data()
                )
                messages.success(
                    request, _("Formulario «%(name)s» creado.") % {"name": signup_form.name}
                )
            else:
                signup_form = services.signup_form_update(
                    actor=request.user, form=signup_form, data=form.service_data()
                )
                messages.success(
                    request, _("Formulario «%(name)s» guardado.") % {"name": signup_form.name}
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(signup_form.get_absolute_url())
    return render(
        request,
        T + "signup_form.html",
        {"form": form, "signup_form": signup_form},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def signup_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
def signup_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    return _editor(request, _form(pk))


def embed_snippet(signup_form: SignupForm) -> str:
    """The plain HTML form a website pastes: our address, the fields, a long-lived token and
    the honeypot; no script."""
    form = PublicSignupForm(signup_form=signup_form)
    return render_to_string(
        T + "snippet.html",
        {
            "signup_form": signup_form,
            "form": form,
            "action": services.public_url(signup_form),
            "token": services.form_token(signup_form, embed=True),
            "honeypot": HONEYPOT,
            "consent": CONSENT,
            "token_name": TOKEN,
        },
    ).strip()


@require_http_methods(["GET"])
def signup_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The form's results, its submissions (paged; htmx swaps the table) and how to publish it."""
    _require_manager(request)
    signup_form = _form(pk)
    page = paginate(request, selectors.signup_submission_list(form=signup_form))
    context = {"signup_form": signup_form, "page_obj": page}
    if request.htmx and not request.htmx.boosted:
        return render(request, T + "signup_detail.html#submission-table", context)
    context.update(
        {
            "results": selectors.signup_results(form=signup_form),
            "public_url": services.public_url(signup_form),
            "snippet": embed_snippet(signup_form),
            "embed_days": services.embed_token_max_age() // (24 * 3600),
        }
    )
    return render(request, T + "signup_detail.html", context)


# --- The public side ------------------------------------------------------------------------------


def _public(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    response = render(
        request, T + template, {"company": settings.COMPANY, **context}, status=status
    )
    response["X-Robots-Tag"] = "noindex"
    return response


def _problem(request: HttpRequest, kind: str, *, status: int) -> HttpResponse:
    response = _public(request, "public_problem.html", {"kind": kind}, status=status)
    if status == 429:
        response["Retry-After"] = str(_limits()["per_ip_window"])
    return response


def _site_language(view):
    """The public pages speak the site's language (Spanish): the form's own texts are."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return view(request, *args, **kwargs)

    return wrapper


def _public_form(slug: str) -> SignupForm | None:
    try:
        return selectors.signup_form_public_get(slug=slug)
    except SignupForm.DoesNotExist:
        return None


def _own_page(url: str, request: HttpRequest) -> bool:
    return urlsplit(url).netloc == request.get_host()


def _source(request: HttpRequest) -> services.SubmissionSource:
    """Where the submission came from: the UTM parameters and referrer the page carried over,
    else those of the action's address, else those of the page that posted (the website)."""
    header = request.headers.get("referer", "")[:500]
    posted_from = "" if _own_page(header, request) else header
    referrer = (request.POST.get(REFERRER) or posted_from)[:500]
    from_header = parse_qs(urlsplit(posted_from).query)
    utm = {}
    for key in UTM_KEYS:
        utm[key] = (
            request.POST.get(key) or request.GET.get(key) or (from_header.get(key) or [""])[0]
        )[:200]
    return services.SubmissionSource(
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:300],
        referrer=referrer,
        utm=utm,
    )


def _render_form(request, signup_form: SignupForm, form: PublicSignupForm, *, status=200):
    return _public(
        request,
        "public_form.html",
        {
            "signup_form": signup_form,
            "form": form,
            "token": services.form_token(signup_form),
            "honeypot": form[HONEYPOT],
            "consent": form[CONSENT],
            "hidden": [form[key] for key in (*UTM_KEYS, REFERRER)],
        },
        status=status,
    )


def _carried_over(request: HttpRequest) -> dict:
    """The page's own UTM parameters and referrer, for its hidden inputs."""
    header = request.headers.get("referer", "")[:500]
    initial = {key: request.GET.get(key, "")[:200] for key in UTM_KEYS}
    initial[REFERRER] = "" if _own_page(header, request) else header
    return initial


@login_not_required
@csrf_exempt  # posted from the company's website: guarded by the signed form token instead
@never_cache
@require_http_methods(["GET", "POST"])
@_site_language
def signup_public(request: HttpRequest, slug: str) -> HttpResponse:
    """The form (GET); a submission (POST), answered by the thank-you page, or the form with
    its errors and nothing written."""
    signup_form = _public_form(slug)
    if signup_form is None:
        return _problem(request, "missing", status=404)
    if request.method == "GET":
        form = PublicSignupForm(signup_form=signup_form, initial=_carried_over(request))
        return _render_form(request, signup_form, form)
    limits = _limits()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limits["max_body"]:
        return _problem(request, "too_big", status=413)
    ip = client_ip(request) or "-"
    if not ratelimit.hit(
        f"signup:ip:{signup_form.pk}:{ip}", limit=limits["per_ip"], window=limits["per_ip_window"]
    ) or not ratelimit.hit(
        f"signup:form:{signup_form.pk}",
        limit=limits["per_form"],
        window=limits["per_form_window"],
    ):
        return _problem(request, "throttled", status=429)
    form = PublicSignupForm(request.POST, signup_form=signup_form)
    thanks = reverse("crm:signup-thanks", args=[signup_form.slug])
    if form.is_robot:
        return redirect(thanks)  # the robot learns nothing; nothing is written
    if not services.form_token_valid(signup_form, request.POST.get(TOKEN, "")):
        form.is_valid()
        form.add_error(
            None,
            _(
                "El formulario caducó o no es válido. Revisa tus datos y envíalo de nuevo, "
                "por favor."
            ),
        )
        return _render_form(request, signup_form, form, status=400)
    if not form.is_valid():
        return _render_form(request, signup_form, form, status=422)
    try:
        submission = services.signup_submit(
            form=signup_form, values=form.values(), source=_source(request)
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _render_form(request, signup_form, form, status=422)
    if submission.status == FormSubmission.Status.PENDING:
        thanks += "?confirmar=1"
    return redirect(thanks)


@login_not_required
@never_cache
@require_http_methods(["GET"])
@_site_language
def signup_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    signup_form = _public_form(slug)
    if signup_form is None:
        return _problem(request, "missing", status=404)
    return _public(
        request,
        "public_thanks.html",
        {"signup_form": signup_form, "pending": request.GET.get("confirmar") == "1"},
    )


@login_not_required
@csrf_exempt  # the signed link is the capability (as the one-click unsubscribe)
@never_cache
@require_http_methods(["GET", "POST"])
@_site_language
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a mail scanner that follows the link confirms nothing); POST confirms, once."""
    submission = services.submission_for_token(token)
    if submission is None:
        response = _problem(request, "bad_link", status=400)
        response["Referrer-Policy"] = "no-referrer"
        return response
    changed = None
    if request.method == "POST" and not submission.is_confirmed:
        try:
            changed = services.signup_confirm(
                submission=submission,
                ip_address=client_ip(request),
                user_agent=request.headers.get("user-agent", "")[:300],
            )
        except ValidationError:
            response = _problem(request, "bad_link", status=400)
            response["Referrer-Policy"] = "no-referrer"
            return response
        submission.refresh_from_db(fields=["status", "confirmed_at"])
    response = _public(
        request,
        "public_confirm.html",
        {"submission": submission, "signup_form": submission.form, "changed": changed},
    )
    response["Referrer-Policy"] = "no-referrer"
    return response
