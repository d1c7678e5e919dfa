"""The pages a recipient reaches from a message, without logging in (campaigns.urls.public).

Each names its recipient by a signed token (campaigns.tokens); a bad, forged or other-purpose
token changes nothing: the pixel still answers its GIF, a click answers 404, unsubscribe and
preferences a friendly 400 page. Thin: read the token, call campaigns.services.tracking.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns import links, tokens
from campaigns.forms.suppression import PreferencesForm
from campaigns.models import CampaignLink
from campaigns.services import tracking as services
from crm.core.forms_utils import client_ip

logger = logging.getLogger(__name__)

# A transparent 1×1 GIF (43 bytes).
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _agent(request: HttpRequest) -> str:
    return request.headers.get("user-agent", "")[:300]


def _private(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _link_problem(request: HttpRequest, *, status: int) -> HttpResponse:
    return _private(
        render(
            request,
            "campaigns/public/link_problem.html",
            {"company": settings.COMPANY, "status": status},
            status=status,
        )
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """Always the GIF, whatever happens: a broken image would show in the person's message.

    A bad token records nothing; a database error is logged, not shown.
    """
    if request.method == "GET":
        send = services.send_for_token(purpose=tokens.OPEN, token=token)
        if send is not None:
            try:
                services.record_open(
                    send=send, ip_address=client_ip(request), user_agent=_agent(request)
                )
            except DatabaseError:
                logger.exception("Could not record the open of send %s", send.pk)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Content-Length"] = str(len(PIXEL))
    return _private(response)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str, link_id: int) -> HttpResponse:
    """Redirect to the stored link of this send's campaign, and only there (no open redirect).

    HEAD (link checkers) redirects too, without counting.
    """
    send = services.send_for_token(purpose=tokens.CLICK, token=token)
    if send is None:
        return _link_problem(request, status=404)
    try:
        if request.method == "GET":
            link = services.record_click(
                send=send,
                link_id=link_id,
                ip_address=client_ip(request),
                user_agent=_agent(request),
            )
        else:
            link = CampaignLink.objects.get(pk=link_id, campaign_id=send.campaign_id)
    except CampaignLink.DoesNotExist:
        return _link_problem(request, status=404)
    if not link.url.lower().startswith(("http://", "https://")):
        return _link_problem(request, status=404)
    return _private(HttpResponseRedirect(link.url))


@login_not_required
@csrf_exempt  # RFC 8058: the mail client POSTs with no cookie and no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a scanner following the link unsubscribes no one); POST unsubscribes.

    The one-click POST of RFC 8058 (body "List-Unsubscribe=One-Click") leaves the campaign's
    topic; the page's second button ("alcance=todos") leaves all email. Always 200 on a good
    token, and idempotent. The token is the capability: no cookie, no session.
    """
    send = services.send_for_token(purpose=tokens.UNSUBSCRIBE, token=token)
    if send is None:
        return _link_problem(request, status=400)
    context = {
        "company": settings.COMPANY,
        "send": send,
        "topic": send.campaign.topic,
        "preferences_url": links.preferences_url(send.contact_id),
    }
    if request.method == "POST":
        everything = request.POST.get("alcance") == "todos"
        changed = services.unsubscribe(
            send=send,
            everything=everything,
            ip_address=client_ip(request),
            user_agent=_agent(request),
        )
        context.update({"everything": everything, "changed": changed})
        return _private(render(request, "campaigns/public/unsubscribe_done.html", context))
    context["state"] = services.unsubscribe_state(send=send)
    return _private(render(request, "campaigns/public/unsubscribe.html", context))


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The preference centre: which boletines to receive, or none (CSRF-protected form)."""
    contact = services.contact_for_token(token=token)
    if contact is None:
        return _link_problem(request, status=400)
    topics = list(services.preference_topics())
    saved = None
    if request.method == "POST":
        form = PreferencesForm(request.POST, topics=topics)
        if form.is_valid():
            saved = services.preferences_update(
                contact=contact,
                topic_ids=set(form.cleaned_data["topics"]),
                nothing=form.cleaned_data["nothing"],
                ip_address=client_ip(request),
                user_agent=_agent(request),
            )
    state = services.preference_state(contact=contact)
    if saved is not None or request.method == "GET":
        form = PreferencesForm(
            topics=topics,
            initial={
                "topics": [choice.topic.pk for choice in state.topics if choice.subscribed],
                "nothing": state.nothing,
            },
        )
    return _private(
        render(
            request,
            "campaigns/public/preferences.html",
            {
                "company": settings.COMPANY,
                "contact": contact,
                "form": form,
                "state": state,
                "saved": saved,
            },
            status=422 if form.errors else 200,
        )
    )


def webhook_secret_required(view):
    """Refuse the ESP webhooks while ANYMAIL["WEBHOOK_SECRET"] is empty.

    Without a secret anymail only warns and accepts any POST, and a forged "complained" event
    would suppress an address and withdraw its consent: better no tracking than that.
    """

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET"):
            logger.warning("ESP webhook refused: ANYMAIL_WEBHOOK_SECRET is not set")
            return HttpResponseForbidden("ANYMAIL_WEBHOOK_SECRET is not set")
        return view(request, *args, **kwargs)

    return guarded
