"""Bad input never answers 500 (issue 13 §3).

Every route of the URLconf (crm/top/tests/fuzzing.py finds them, their ids, parameters and
forms) gets the bad values of fuzzing.BAD_VALUES in its URL arguments, in the query parameters
its pages and its view read, and in each field of each form its pages show. Every answer must
be below 500, an error page must speak the user's language, and a refused request (a 4xx, the
form shown again with its errors, a redirect with an error message) must write nothing: the
rows of every table are counted after it.

A case is one field (or query parameter, or URL argument) holding one bad value. To stay within
a minute, the fields of a form take each value together first, and apart only where needed
(Fuzzer.fuzz_values): a field that shows the value's error refused it by its own validation, as
it would alone; fields that the view accepts together each took it; the rest get it alone, on
valid-looking values for the others, so it reaches the view's and the services' code.

Each request runs in a savepoint rolled back afterwards (and the client's cookies are restored),
so every case starts from the same rows and session, whatever the one before did. The number of
cases is printed at the end of the run (the root conftest.py).
"""

import copy
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import AccountFactory, mexican_rfc
from campaigns import tokens
from campaigns.models import (
    AutomationDelivery,
    FormSubmission,
    Segment,
    SegmentMember,
    SignupForm,
)
from campaigns.services import automations as automation_services
from campaigns.services import signup as signup_services
from campaigns.tests.factories import (
    AutomationFactory,
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    SignupFormFactory,
    SuppressionFactory,
    TopicFactory,
    TrackingEventFactory,
    sent_campaign,
)
from contacts.imports.models import ImportRun
from contacts.tests.factories import ConsentFactory, ContactFactory, ScoreRuleFactory
from crm.core.api.tokens import token_create
from crm.core.models import User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from crm.core.tests.factories import PASSWORD
from crm.core.tests.mfa import sign_in
from crm.top.tests import fuzzing
from crm.top.tests.fuzzing import BAD_VALUES
from opportunities.models import LineItem, Quote, TierChange
from opportunities.services.activities import calendar_feed_get_or_create
from opportunities.tests.factories import (
    ActivityFactory,
    LeadAssignmentFactory,
    MqlChangeFactory,
    OpportunityFactory,
    ProductFactory,
    RoutingRuleFactory,
)
from support.models import CannedResponse, Survey, SurveyRound
from support.services.comments import attachments_add
from support.services.surveys import survey_token
from support.tests.factories import CommentFactory, SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

# Who asks for a page: the first of these roles that gets it (the records belong to `rep`,
# whom `manager` leads); public pages are asked for without logging in.
ROLE_ORDER = ["rep", "manager", "support", "marketing", "admin_user"]

# Rows a refused request may write, legitimately: they record the refused attempt itself.
# Table -> (the SQL condition of those rows, or None for all of them; why).
LOG_ROWS = {
    "crm.AuditEvent": (
        "action = 'login_failed'",
        "every login is audited, a failed one too (DESIGN.md §5)",
    ),
    "axes.AccessAttempt": (None, "django-axes counts failed logins, for its lockout"),
}

# String arguments that only a message carries (no page links to them): a real value for each.
# Any other string argument gets only bad values.
REAL_STRINGS = {
    ("campaigns_public:open", "token"): lambda w: tokens.make(tokens.OPEN, w.send.pk),
    ("campaigns_public:click", "token"): lambda w: tokens.make(tokens.CLICK, w.send.pk),
    ("campaigns_public:unsubscribe", "token"): lambda w: tokens.make(tokens.UNSUBSCRIBE, w.send.pk),
    ("campaigns_public:preferences", "token"): lambda w: tokens.make(
        tokens.PREFERENCES, w.contact.pk
    ),
    ("support:survey-answer", "token"): lambda w: survey_token(survey=w.survey),
    # The public sign-up form: its address (a slug) is printed on websites; the confirmation
    # link is in its email.
    ("crm:signup-public", "slug"): lambda w: w.rows[SignupForm][0].slug,
    ("crm:signup-thanks", "slug"): lambda w: w.rows[SignupForm][0].slug,
    ("crm:signup-confirm", "token"): lambda w: (
        signup_services.confirm_url(w.rows[FormSubmission][0]).rstrip("/").rsplit("/", 1)[1]
    ),
    ("opportunities:calendar-feed", "token"): lambda w: w.feed.token,
    # The one-click unsubscribe of an automation's message.
    ("campaigns_public:automation-unsubscribe", "token"): lambda w: (
        automation_services.unsubscribe_url(w.rows[AutomationDelivery][0].pk)
        .rstrip("/")
        .rsplit("/", 1)[1]
    ),
}


def valid_values(world) -> dict[str, str]:
    """Valid values a form's page cannot suggest, by field name (for an empty field)."""
    return {
        "tax_id": mexican_rfc(),
        "username": world.rows[User][0].username,
        "password": PASSWORD,
        "old_password": PASSWORD,
        "html_body": "<p>Hola {{ nombre }}, tenemos novedades.</p>",
        "description": "Licencia anual",
        "unit_price": "1500.00",
    }


# Fields not fuzzed: the CSRF token (the test client does not check it; with a bad one
# CsrfViewMiddleware answers its 403 before any view runs).
UNFUZZED_FIELDS = {"csrfmiddlewaretoken"}

# 500s this test found and that are not fixed yet: (route name, field or "*") -> reason. A case
# that matches is counted, not failed; one listed that no longer fails fails the test, so that
# the entry is removed with the fix. Empty: every 500 it found is fixed.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

# The least number of cases a full run tries (10,840 when this was written): far fewer means
# the discovery lost pages or forms.
MIN_CASES = 9500


# --- The rows every page is asked about --------------------------------------------------------


@dataclass
class World:
    rows: dict  # model -> [instances], the first the one to try first
    contact: object
    send: object
    survey: object
    feed: object

    def ids(self, model) -> list[int]:
        if model not in self.rows:
            raise LookupError(f"No {model.__name__} in the fuzz's world: add one in world().")
        return [row.pk for row in self.rows[model]]


@pytest.fixture
def world(settings, tmp_path, rep, support, marketing):
    settings.MEDIA_ROOT = tmp_path
    # The public sign-up form is posted thousands of times from one address: its rate limits
    # (campaigns/tests/test_signup_abuse.py) would answer 429 to most of the cases.
    settings.SIGNUP_RATE_PER_IP = settings.SIGNUP_RATE_PER_FORM = 10**9
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep, account=account)
    ConsentFactory(contact=contact)
    opportunity = OpportunityFactory(owner=rep, account=account, contact=contact)
    product = ProductFactory()
    line = LineItem.objects.create(
        opportunity=opportunity, product=product, description="Licencia", unit_price=100
    )
    quote = Quote.objects.create(
        opportunity=opportunity,
        number="COT-2026-0001",
        version=1,
        created_by=rep,
        valid_until=timezone.localdate() + timedelta(days=30),
        currency="MXN",
        subtotal=Decimal("100"),
        tax_total=Decimal("16"),
        total=Decimal("116"),
    )
    quote.pdf.save("cotizacion.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"))
    activity = ActivityFactory(owner=rep, account=account, contact=contact)
    ticket = TicketFactory(account=account, contact=contact, created_by=support)
    comment = CommentFactory(ticket=ticket, author=support)
    (attachment,) = attachments_add(
        actor=support,
        ticket=ticket,
        files=[SimpleUploadedFile("nota.txt", b"Pedido incompleto.\n", "text/plain")],
    )
    survey = SurveyFactory(ticket=ticket)
    survey_round = SurveyRound.objects.create(name="Ronda", created_by=support, recipients=1)
    Survey.objects.create(kind=Survey.Kind.NPS, round=survey_round, contact=contact)
    tier_change = TierChange.objects.create(
        account=account, from_tier="C", to_tier="B", revenue=Decimal("1000")
    )
    canned = CannedResponse.objects.create(title="Saludo", body="Hola, gracias por escribir.")
    feed = calendar_feed_get_or_create(user=rep)
    topic = TopicFactory(name="Novedades")
    segment = SegmentFactory(created_by=marketing)
    static = SegmentFactory(created_by=marketing, kind=Segment.Kind.STATIC, definition={})
    SegmentMember.objects.create(segment=static, contact=contact, added_by=marketing)
    sent = sent_campaign(created_by=marketing, segment=segment, topic=topic)
    send = SendFactory(campaign=sent, contact=contact)
    TrackingEventFactory(send=send)
    draft = CampaignFactory(created_by=marketing, segment=segment, topic=topic)
    signup_form = SignupFormFactory(owner=rep, created_by=marketing, topic=topic)
    score_rule = ScoreRuleFactory(created_by=marketing)
    submission = FormSubmission.objects.create(
        form=signup_form, contact=contact, email=contact.email, consent_version="v1"
    )
    import_run = ImportRun.objects.create(
        created_by=rep, file_name="clientes.csv", kind="csv", status=ImportRun.Status.DONE
    )
    import_run.rejected_file.save("rechazadas.csv", ContentFile(b"Fila,Motivo\n3,correo\n"))
    api_token, _key = token_create(user=rep, name="Tienda", scopes=["contacts:read"], days=30)
    endpoint = WebhookEndpoint.objects.create(
        url="https://tienda.ejemplo.mx/webhooks", events=["contact.created"], created_by=rep
    )
    automation = AutomationFactory(created_by=marketing, topic=topic)
    automation_delivery = AutomationDelivery.objects.create(
        automation=automation,
        step=automation.steps.first(),
        contact=contact,
        occurrence="2026",
        email=contact.email,
        due_at=timezone.now(),
    )
    routing_rule = RoutingRuleFactory(rep=rep)
    lead = LeadAssignmentFactory(
        rep=rep, contact=contact, score_change=MqlChangeFactory(contact=contact), task=activity
    )
    event = WebhookEvent.objects.create(type="contact.created", payload={"contact_id": 1})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event)
    rows = defaultdict(list)
    for row in (
        rep,
        account,
        contact,
        opportunity,
        product,
        line,
        quote,
        activity,
        ticket,
        comment,
        attachment,
        survey,
        survey_round,
        tier_change,
        canned,
        feed,
        topic,
        segment,
        static,
        draft,  # before the sent one: its editor and scheduling take it
        sent,
        send,
        SuppressionFactory(),
        signup_form,
        submission,
        score_rule,
        routing_rule,
        lead,
        automation,
        automation_delivery,
        import_run,
        api_token,
        endpoint,
        event,
        delivery,
        *sent.links.all(),
    ):
        rows[type(row)].append(row)
    return World(rows=dict(rows), contact=contact, send=send, survey=survey, feed=feed)


# --- The fuzzer ---------------------------------------------------------------------------------


class FastClient(Client):
    """The test client without its record of every template rendered with a copy of its
    context (a tenth of the fuzz's time), which nothing here reads. Exceptions are caught by
    fuzzing.ExceptionCatcher instead."""

    def request(self, **request):
        response = self.handler(self._base_environ(**request))
        response.client = self
        response.request = request
        if response.cookies:
            self.cookies.update(response.cookies)
        return response


@dataclass
class Failure:
    route: str
    method: str
    url: str
    field: str
    value: str
    status: int
    error: str

    def line(self) -> str:
        return (
            f"{self.route}: {self.method} {self.url[:120]} [{self.field} = {self.value}] "
            f"→ {self.status}: {self.error}"
        )


@dataclass
class Target:
    """A route answered by GET: as whom, with which arguments and query, and whether only to
    htmx (a fragment that redirects a plain request to its page)."""

    route: fuzzing.Route
    role: str | None  # None: anonymous
    kwargs: dict
    path: str
    query: dict
    htmx: bool = False


class Fuzzer:
    def __init__(self, world: World, users: dict):
        self.world = world
        self.users = users
        self.catcher = fuzzing.ExceptionCatcher()
        self.failures: list[Failure] = []
        self.known: list[Failure] = []
        self.known_seen: set[tuple[str, str]] = set()
        self.cases = 0
        self.requests = 0
        self.phase = "discovery"
        self.phases: Counter = Counter()
        self.statuses: Counter = Counter()
        self.clients: dict[str | None, Client] = {}
        for role in [None, *ROLE_ORDER]:  # logged in before the rows are counted
            client = FastClient()
            if role is not None:
                sign_in(client, users[role])
            self.clients[role] = client
        self.labels, self.count_sql = fuzzing.row_counts_sql(
            {label: where for label, (where, _why) in LOG_ROWS.items()}
        )
        self.before = fuzzing.row_counts(self.labels, self.count_sql)

    # One request, judged.
    def send(
        self,
        *,
        route: str,
        role: str | None,
        method: str,
        path: str,
        data=None,
        htmx: bool = False,
        field: str = "",
        label: str = "",
        cases: int = 1,
        record: bool = True,
    ):
        """Send one request in a savepoint and judge its answer. `record=False`: a problem is
        left in `self.problem` for the caller (a request of several cases at once)."""
        client = self.clients[role]
        cookies = copy.deepcopy(client.cookies)
        headers = {"HX-Request": "true"} if htmx else None
        with transaction.atomic():
            call = client.post if method == "POST" else client.get
            response = call(path, fuzzing.files(data or {}), headers=headers)
            problem = ""
            if response.status_code >= 500:
                problem = self.catcher.take() or "500 without an exception"
            elif fuzzing.untranslated(response):
                problem = "Django's English error page, not a translated one"
            elif fuzzing.refused(response):
                try:
                    after = fuzzing.row_counts(self.labels, self.count_sql)
                except DatabaseError as exc:
                    problem = f"the transaction was left broken: {exc}"
                else:
                    written = {k: after[k] - v for k, v in self.before.items() if after[k] != v}
                    if written:
                        problem = f"refused, yet wrote rows: {written}"
            transaction.set_rollback(True)
        client.cookies = cookies
        self.catcher.exc = None
        self.requests += 1
        self.phases[self.phase] += 1
        self.cases += cases
        self.statuses[response.status_code // 100 * 100] += 1
        self.problem = None
        if problem:
            failure = Failure(
                route, method, path, field, label, response.status_code, problem.splitlines()[0]
            )
            if record:
                self.record(failure)
            else:
                self.problem = failure
        return response

    def record(self, failure: Failure) -> None:
        key = next(
            (
                k
                for k in ((failure.route, failure.field), (failure.route, "*"))
                if k in KNOWN_FAILURES
            ),
            None,
        )
        if key:
            self.known.append(failure)
            self.known_seen.add(key)
        else:
            self.failures.append(failure)

    # Discovery: who reaches each route, with which arguments, and what its pages show.
    def candidates(self, route: fuzzing.Route) -> list[dict]:
        """Argument sets to try for the route: the ones its links carry, then real rows."""
        found = list(self.links[route.name])
        choices: list[list[str]] = []
        for kwarg, converter in route.converters.items():
            if converter == "int":
                choices.append([str(pk) for pk in self.world.ids(fuzzing.arg_model(route, kwarg))])
            elif (route.name, kwarg) in REAL_STRINGS:
                choices.append([REAL_STRINGS[route.name, kwarg](self.world)])
            else:
                choices.append(["abc"])
        for combination in itertools.product(*choices):
            kwargs = dict(zip(route.converters, combination, strict=True))
            if kwargs not in found:
                found.append(kwargs)
        return found

    def roles(self, route: fuzzing.Route) -> list[str | None]:
        return [None] if route.public else ROLE_ORDER

    def probe(self, route, kwargs: dict, query: dict, roles) -> tuple[Target | None, str | None]:
        """GET the page as each role until one gets it (a fragment that sends a plain request
        to its page is asked again as htmx); the target and the page's HTML."""
        path = fuzzing.reverse_path(route, kwargs)
        for role in roles:
            for htmx in (False, True):
                response = self.send(
                    route=route.name,
                    role=role,
                    method="GET",
                    path=path,
                    data=query,
                    htmx=htmx,
                    cases=0,
                )
                if response.status_code == 405:
                    return None, None
                if 200 <= response.status_code < 300:
                    html = None
                    if "html" in response.get("Content-Type", ""):
                        html = response.content.decode("utf-8", "replace")
                    return Target(route, role, kwargs, path, query, htmx), html
                if not 300 <= response.status_code < 400:
                    break
        return None, None

    def discover(self, routes: list[fuzzing.Route]) -> None:
        """Reach every route by GET (a role, real arguments); read the forms and links of every
        page seen, and follow the links that carry a query (a modal's form, a drill-down)."""
        self.by_name = {route.name: route for route in routes}
        self.targets: dict[str, Target] = {}
        self.links: dict[str, list[dict]] = defaultdict(list)
        self.get_params: dict[str, set[str]] = defaultdict(set)
        # (route, field names) -> (route, role, action, form, htmx)
        self.post_forms: dict[tuple, tuple] = {}
        tried: set[str] = set()
        followed: set[tuple] = set()
        pending = list(routes)
        while pending:
            pages = []
            for route in pending:
                for kwargs in self.candidates(route):
                    path = fuzzing.reverse_path(route, kwargs)
                    if path in tried:
                        continue
                    tried.add(path)
                    target, html = self.probe(route, kwargs, {}, self.roles(route))
                    if target:
                        self.targets[route.name] = target
                        pages.append((target, html))
                        break
            while pages:
                target, html = pages.pop()
                if html is None:
                    continue
                for name, kwargs, query in self.read_page(target, html):
                    key = (name, frozenset(query))
                    if not query or key in followed:
                        continue
                    followed.add(key)
                    route = self.by_name[name]
                    roles = [target.role] if not route.public else [None]
                    query = {k: v[0] for k, v in query.items()}
                    found, page = self.probe(route, kwargs, query, roles)
                    if found:
                        self.targets.setdefault(name, found)
                        pages.append((found, page))
            pending = [
                route
                for route in routes
                if route.name not in self.targets
                and any(fuzzing.reverse_path(route, k) not in tried for k in self.candidates(route))
            ]

    def read_page(self, target: Target, html: str) -> list[tuple]:
        """Note the page's links (their route's arguments and query parameters) and forms;
        the links, as (route name, arguments, query)."""
        page = fuzzing.parse_page(target.path, html)
        links = []
        for url in page.links:
            found = fuzzing.resolve_url(url, target.path)
            if not found or found[0] not in self.by_name:  # not ours, or skipped
                continue
            name, kwargs, _path, query = found
            if kwargs and kwargs not in self.links[name]:
                self.links[name].append(kwargs)
            self.get_params[name] |= set(query)
            links.append((name, kwargs, query))
        for form in page.forms:
            found = fuzzing.resolve_url(form.action, target.path)
            if not found or found[0] not in self.by_name:
                continue
            name, kwargs, action_path, query = found
            if kwargs and kwargs not in self.links[name]:
                self.links[name].append(kwargs)
            names = {f.name for f in form.fields}
            if form.method == "get":
                self.get_params[name] |= names | set(query)
            else:
                action = action_path
                if query:
                    action += "?" + "&".join(f"{k}={v[0]}" for k, v in query.items())
                key = (name, tuple(sorted(names)))
                self.post_forms.setdefault(key, (name, target.role, action, form, target.htmx))
        return links

    # The cases.
    def fuzz_paths(self, routes: list[fuzzing.Route], post_roles: dict) -> None:
        """Each URL argument replaced by ids that do not exist and by bad strings."""
        for route in routes:
            target = self.targets.get(route.name)
            if target:
                base, role, method = target.kwargs, target.role, "GET"
                query, htmx = target.query, target.htmx
            else:
                base, role, method = self.candidates(route)[0], post_roles.get(route.name), "POST"
                query, htmx = None, False
            for kwarg, converter in route.converters.items():
                for label, value in fuzzing.path_values(converter):
                    self.send(
                        route=route.name,
                        role=role,
                        method=method,
                        path=fuzzing.reverse_path(route, {**base, kwarg: value}),
                        data=query,
                        htmx=htmx,
                        field=f"<{kwarg}>",
                        label=label,
                    )

    def fuzz_queries(self) -> None:
        """Each bad value in every query parameter of the page (on top of the query the page
        was reached with): the page answering it went through them all, dropping what it does
        not take. A page that refuses the whole query gets them apart (fuzz_values)."""
        for name, target in self.targets.items():
            params = sorted(self.get_params[name] | fuzzing.declared(target.route.callback).get)
            self.params += len(params)
            self.fuzz_values(
                route=name,
                role=target.role,
                method="GET",
                path=target.path,
                base=target.query,
                kinds=dict.fromkeys(params, "text"),
                htmx=target.htmx,
                went_through=lambda response: response.status_code < 400,
            )

    def post_plans(self, routes: list[fuzzing.Route]) -> tuple[list, dict]:
        """The forms to post: each seen on a page (as the role that saw it), with the fields
        the view's own source reads too; a route no page posts to gets the fields its source
        reads, as the first role it does not refuse outright."""
        plans = []
        forms = defaultdict(list)
        for name, role, action, form, htmx in self.post_forms.values():
            forms[name].append((role, action, form, htmx))
        for name, seen in forms.items():
            # The fullest form of the route (the editor, not its buttons that post a part of
            # it), with the fields the others add.
            seen.sort(key=lambda s: -len(s[2].fields))
            role, action, _form, htmx = seen[0]
            fields = defaultdict(list)
            for _role, _action, form, _htmx in seen:
                names = set(fields)
                for item in form.fields:
                    if item.name not in names:
                        fields[item.name].append(item)
            for extra in sorted(fuzzing.declared(self.by_name[name].callback).post - set(fields)):
                fields[extra].append(fuzzing.FormField(extra, "absent"))
            plans.append((name, role, action, dict(fields), htmx))
        post_roles = {name: role for name, role, *_rest in plans}
        posted = set(post_roles)
        for route in routes:
            if route.name in posted or route.name in self.targets:
                continue
            path = fuzzing.reverse_path(route, self.candidates(route)[0])
            roles = self.roles(route)
            role = roles[0]
            for candidate in roles:
                response = self.send(
                    route=route.name, role=candidate, method="POST", path=path, cases=0
                )
                if response.status_code not in (403, 404):
                    role = candidate
                    break
            post_roles[route.name] = role
            declared = fuzzing.declared(route.callback).post
            fields = {n: [fuzzing.FormField(n, "absent")] for n in sorted(declared)}
            plans.append((route.name, role, path, fields, False))
        return plans, post_roles

    def fuzz_form(self, name: str, role, action: str, fields: dict, htmx: bool) -> None:
        """The form with valid-looking values, then each bad value in its fields (fuzz_values):
        it went through if it was accepted (no error shown, no error message)."""
        rows = self.world.rows
        valid = valid_values(self.world)
        base = {k: fuzzing.base_value(items, rows, valid) for k, items in fields.items()}
        base = {k: v for k, v in base.items() if v is not None}
        # The role that saw the page first, else one that may post it.
        posters = [role, *(r for r in ROLE_ORDER if r != role)] if role is not None else [None]
        for poster in posters:
            response = self.send(
                route=name, role=poster, method="POST", path=action, data=base, htmx=htmx, cases=0
            )
            if response.status_code != 403:
                break
        role = poster
        if response.status_code in (403, 405):
            return  # no role may post it here, or scripts send this form elsewhere
        self.forms += 1
        self.bases[response.status_code] += 1
        kinds = {n: items[0].kind for n, items in fields.items() if n not in UNFUZZED_FIELDS}
        self.fields += len(kinds)
        self.fuzz_values(
            route=name,
            role=role,
            method="POST",
            path=action,
            base=base,
            kinds=kinds,
            htmx=htmx,
            went_through=fuzzing.accepted,
        )

    def fuzz_values(
        self, *, route, role, method, path, base: dict, kinds: dict, htmx, went_through
    ) -> None:
        """Each bad value in every field (or parameter) at once, on `base` for the rest.

        If the view went through, each field took the value. The fields that show the value's
        error refused it by their own validation, as they would alone. The others get it
        together again; if the view still refuses them without saying which field, the ones
        that refused an earlier value alone (a hidden id, a choice answered by a message) get
        it alone and the rest together once more; whatever is still refused gets the value
        field by field. A failure seen only with several fields bad is reported as such."""
        names = list(kinds)
        suspects: set[str] = set()
        for label, value in BAD_VALUES if names else []:
            bad = {n: fuzzing.as_sent(value, kinds[n], base.get(n)) for n in names}
            failed = len(self.failures) + len(self.known)
            together = None
            pending, alone = list(names), []
            while len(pending) > 1:
                every = "(every parameter)" if method == "GET" else "(every field)"
                response = self.send(
                    route=route,
                    role=role,
                    method=method,
                    path=path,
                    data={**base, **{n: bad[n] for n in pending}},
                    htmx=htmx,
                    field=every if pending == names else "(the fields that took it)",
                    label=label,
                    cases=0,
                    record=False,
                )
                together = together or self.problem
                if not self.problem and went_through(response):
                    self.cases += len(pending)
                    pending = []
                    break
                shown = fuzzing.invalid_fields(response) & set(pending)
                if shown:
                    self.cases += len(shown)  # refused by their own validation
                    pending = [n for n in pending if n not in shown]
                    continue
                loners = [n for n in pending if n in suspects]
                if not loners or len(loners) == len(pending):
                    break
                alone += loners
                pending = [n for n in pending if n not in suspects]
            for field_name in alone + pending:
                response = self.send(
                    route=route,
                    role=role,
                    method=method,
                    path=path,
                    data={**base, field_name: bad[field_name]},
                    htmx=htmx,
                    field=field_name,
                    label=label,
                )
                if not went_through(response):
                    suspects.add(field_name)
            if together and len(self.failures) + len(self.known) == failed:
                self.record(together)  # fails only with several fields bad

    def run(self) -> None:
        self.routes, self.skipped = fuzzing.routes()
        self.params = self.forms = self.fields = 0
        self.bases: Counter = Counter()
        self.discover(self.routes)
        plans, post_roles = self.post_plans(self.routes)
        self.phase = "URL arguments"
        self.fuzz_paths(self.routes, post_roles)
        self.phase = "queries"
        self.fuzz_queries()
        self.phase = "forms"
        for plan in plans:
            self.fuzz_form(*plan)

    def summary(self) -> str:
        return (
            f"{self.cases} cases in {self.requests} requests over {len(self.routes)} URLs "
            f"({len(self.targets)} answering GET; {len(self.skipped)} skipped), "
            f"{self.params} query parameters, {self.forms} forms with {self.fields} fields "
            f"(answers to their valid-looking values: {dict(sorted(self.bases.items()))}); "
            f"requests by phase {dict(self.phases)}; answers "
            f"{dict(sorted(self.statuses.items()))}; {len(self.known)} known failures"
        )


def test_bad_input_never_answers_500_nor_writes_when_refused(
    world, rep, manager, support, marketing, admin_user, record_property
):
    users = {
        "rep": rep,
        "manager": manager,
        "support": support,
        "marketing": marketing,
        "admin_user": admin_user,
    }
    started = time.monotonic()
    fuzz = Fuzzer(world, users)
    with fuzzing.quiet_logs(), fuzz.catcher:
        fuzz.run()
    # Shown at the end of the run by the root conftest.py (also under xdist).
    record_property("fuzz", f"{fuzz.summary()}; {time.monotonic() - started:.0f} s")
    gone = set(KNOWN_FAILURES) - fuzz.known_seen
    assert not fuzz.failures, f"{len(fuzz.failures)} cases failed:\n" + "\n".join(
        f.line() for f in fuzz.failures
    )
    assert not gone, f"Known failures that no longer fail (remove them): {sorted(gone)}"
    assert fuzz.cases >= MIN_CASES, fuzz.summary()
