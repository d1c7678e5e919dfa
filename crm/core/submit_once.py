"""Every form is saved once, however many times it is sent (issue 13 §2).

A double tap on a phone, a request the browser resends after a timeout, the back button and
"Enviar" again: each sends the same form twice, and each must leave one contact, one activity,
one email. Every POST form of the application carries a one-time token (`{% submit_once %}`,
next to `{% csrf_token %}`), and `SubmitOnceMiddleware` runs the request in one transaction
that first records the token (`SubmittedForm`, unique):

- the first submission inserts it, runs the view, and keeps the row with where the view sent
  the user (its redirect) when it succeeded, or deletes it when it did not (a form with errors,
  a 4xx), so that the corrected form can be sent again; a 5xx rolls the whole request back;
- a second submission of the same token waits on the unique index until the first commits
  (PostgreSQL; SQLite takes its write lock at BEGIN), then finds the row and is answered with
  the first one's result: the same redirect with a note that it was already saved, or, from
  htmx, "204, swap nothing", since the first answer already changed the page. Nothing runs twice.

Only signed-in users' requests are guarded (the public pages' forms, unsubscribe and surveys,
are idempotent by their own keys). After an htmx form is answered, crm.js gives it a new token,
because such a form stays on the page to be used again. An htmx request that only redraws part
of a form (the segment builder's rows, its live count) saves nothing and sends no token
(`hx-params="not _once"`), so that it neither uses up the form's token nor waits for another.
"""

import re
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.models import SubmittedForm

FIELD = "_once"
TOKEN_RE = re.compile(r"[0-9a-f]{32}")
KEEP = timedelta(days=1)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_token() -> str:
    return secrets.token_hex(16)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _succeeded(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether the view saved what the form asked: a redirect, or an htmx answer under 400,
    without an error message.

    A full page answered 200 to a POST is the form again with its errors (post/redirect/get),
    and a view may refuse by going back with an error message: then the token is released, so
    that the corrected form may be sent."""
    if response.status_code >= 400:
        return False
    if response.status_code < 300 and not getattr(request, "htmx", False):
        return False
    # The messages this request added (Django's storage keeps them there until the response).
    queued = getattr(getattr(request, "_messages", None), "_queued_messages", ())
    return not any(message.level >= messages.ERROR for message in queued)


def _location(response: HttpResponse) -> str:
    for header in ("Location", "HX-Redirect", "HX-Location"):
        if response.has_header(header):
            return response[header][:2000]
    return ""


def _replay(request: HttpRequest, prior: SubmittedForm) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Reswap"] = "none"
        return response
    messages.info(request, _("Este formulario ya se había enviado: no se ha guardado dos veces."))
    return HttpResponseSeeOther(prior.location or request.get_full_path())


class SubmitOnceMiddleware:
    """Run a signed-in user's form POST that carries a token at most once (module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = self._token(request)
        if token is None:
            return self.get_response(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = SubmittedForm.objects.create(
                        token=token, user=request.user, path=request.path[:300]
                    )
            except IntegrityError:
                prior = SubmittedForm.objects.filter(token=token, user=request.user).first()
                if prior is None:  # someone else's token: not this user's form
                    return HttpResponse(status=400)
                return _replay(request, prior)
            response = self.get_response(request)
            if response.status_code >= 500:
                # The view failed half-way (Django turned its exception into this page): undo
                # what it wrote with the token, as ATOMIC_REQUESTS would.
                transaction.set_rollback(True)
            elif _succeeded(request, response):
                location = _location(response)
                if location:
                    SubmittedForm.objects.filter(pk=record.pk).update(location=location)
            else:
                SubmittedForm.objects.filter(pk=record.pk).delete()
            return response

    @staticmethod
    def _token(request: HttpRequest) -> str | None:
        if request.method != "POST" or not request.user.is_authenticated:
            return None
        if request.content_type not in FORM_TYPES:
            return None
        token = request.POST.get(FIELD, "")
        return token if TOKEN_RE.fullmatch(token) else None


def submitted_forms_clear(*, now=None) -> int:
    """Forget the tokens of forms sent more than a day ago (a nightly beat job)."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _ = SubmittedForm.objects.filter(created_at__lt=cutoff).delete()
    return deleted
