"""The machinery of the fuzz test (test_fuzz.py): find every page, its forms and parameters, and
send each of them bad input.

Nothing here names a page. The routes come from the URLconf; a route's ids come from real rows,
found by what the URL says it names (`account_pk`, `cuentas/<int:pk>/`); its query parameters
from the GET forms and links of the rendered pages and from the view's own source (the filter
forms it binds to `request.GET`, the names it reads); its POST fields from the forms of the
rendered pages (and the forms the view binds to `request.POST`). A new page is fuzzed without
anyone adding it here.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import json
import logging
import re
import sys
import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import got_request_exception
from django.db import connection, models
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils import translation

from crm.core.text import fold

# The bad values of issue 13 §3, by a short name for the failure report. LIST stands for "the
# same key twice" (a list where the view expects one value): sent as [a valid value, "zzz"].
LIST = object()
BAD_VALUES: list[tuple[str, object]] = [
    ("100,000 chars", "x" * 100_000),
    ("NUL byte", "a\x00b"),
    ("Feb 30", "2026-02-30"),
    ("31/31/2026", "31/31/2026"),
    ("0000-00-00", "0000-00-00"),
    ("1e309", "1e309"),
    ("NaN", "NaN"),
    ("-1", "-1"),
    ("40 nines", "9" * 40),
    ("1,5.3", "1,5.3"),
    ("negative amount", "-1500.75"),
    ("unknown choice", "opcion-que-no-existe"),
    ("non-numeric id", "abc"),
    ("superscript digit", "²"),  # str.isdigit() says yes, int() says no
    ("1; DROP TABLE", "1; DROP TABLE crm_user"),
    ("emoji", "😀" * 50),
    ("SQL-ish", "' OR 1=1 --"),
    ("HTML", "<script>alert(1)</script>"),
    ("same key twice", LIST),
]

# Ids in a URL: one that does not exist, and one past every integer column (the int converter
# accepts any run of digits).
MISSING_IDS = ["987654321", "9" * 40]

# Routes not fuzzed, each with its reason. Matched against the route's name or its pattern.
SKIPPED_NAMESPACES = {
    "admin": "Django's admin: its forms are Django's own (tested upstream); not the CRM's pages",
}
SKIPPED_PREFIXES = {
    "i18n/": "Django's set_language: it only stores a language and redirects, whatever it gets",
    settings.STATIC_URL.lstrip("/"): "static files (served by WhiteNoise, not by a view)",
    "api/": "the REST API takes JSON, not forms: crm/top/tests/test_api.py sends it bad input",
}

# Words of a path that name a model differently from its verbose name (`/boletines/<pk>/`).
PATH_WORDS = {
    "boletines": "contacts.Topic",
    "supresiones": "campaigns.Suppression",
    "importar": "contacts.ImportRun",
    "formularios": "campaigns.SignupForm",
    "puntuacion": "contacts.ScoreRule",
}

PROJECT_APPS = ("crm", "accounts", "contacts", "opportunities", "campaigns", "support")
ERROR_MARKERS = re.compile(r'is-invalid|invalid-feedback|class="errorlist|alert-danger')


# --- Routes ------------------------------------------------------------------------------------


@dataclass
class Route:
    name: str  # "accounts:account-detail"
    route: str  # "cuentas/<int:pk>/", the whole path
    callback: object
    converters: dict[str, str]  # kwarg -> converter name ("int", "str", "slug")
    is_regex: bool = False

    @property
    def public(self) -> bool:
        """Reachable without logging in (LoginRequiredMiddleware lets it through)."""
        return getattr(self.callback, "login_required", True) is False

    def path(self, kwargs: dict[str, str]) -> str:
        """The path with these raw argument values, percent-encoded (any value, even one the
        converter refuses: `reverse()` would not build those)."""
        path = self.route
        for name, value in kwargs.items():
            path = re.sub(rf"<(?:\w+:)?{name}>", quote(str(value), safe=""), path)
        return "/" + path


def routes() -> tuple[list[Route], list[tuple[str, str]]]:
    """Every route of the URLconf, and the ones skipped with their reason."""
    found: list[Route] = []
    skipped: list[tuple[str, str]] = []

    def walk(resolver, prefix: str, namespace: str, converters: dict) -> None:
        for entry in resolver.url_patterns:
            pattern = entry.pattern
            text = prefix + str(pattern)
            conv = {**converters, **getattr(pattern, "converters", {})}
            if isinstance(entry, URLResolver):
                ns = ":".join(filter(None, [namespace, entry.namespace]))
                reason = SKIPPED_NAMESPACES.get(entry.namespace) or next(
                    (why for start, why in SKIPPED_PREFIXES.items() if text.startswith(start)),
                    None,
                )
                if reason:
                    skipped.append((text, reason))
                    continue
                walk(entry, text, ns, conv)
            elif isinstance(entry, URLPattern):
                reason = next(
                    (why for start, why in SKIPPED_PREFIXES.items() if text.startswith(start)),
                    None,
                )
                name = ":".join(filter(None, [namespace, entry.name])) or text
                if reason:
                    skipped.append((name, reason))
                    continue
                found.append(
                    Route(
                        name=name,
                        route=text,
                        callback=entry.callback,
                        converters={
                            k: type(c).__name__.removesuffix("Converter").lower()
                            for k, c in conv.items()
                        },
                        is_regex=not isinstance(pattern, RoutePattern),
                    )
                )

    walk(get_resolver(), "", "", {})
    return found, skipped


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).lower()).strip("-")


def _project_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label in PROJECT_APPS and not m.__name__.startswith("Historical")
    ]


def arg_model(route: Route, kwarg: str) -> type[models.Model]:
    """The model a URL argument names: `account_pk` by its name, `pk` by the path's word before
    it (`cuentas/<int:pk>/` → the model whose verbose name is «cuentas»)."""
    candidates = _project_models()
    word = kwarg.removesuffix("_pk").removesuffix("_id")
    if word != "pk":
        exact = [m for m in candidates if m._meta.model_name == word]
        ending = [m for m in candidates if m._meta.model_name.endswith(word)]
        if len(ending) > 1:  # `delivery`: the one of the route's own app (crm.WebhookDelivery)
            ending = [m for m in ending if m._meta.app_label == route.name.partition(":")[0]]
        found = exact or (ending if len(ending) == 1 else [])
        if found:
            return found[0]
    else:
        before = route.route.split(f"<int:{kwarg}>")[0].rstrip("/").split("/")[-1]
        before = before.removeprefix("de-")
        if before in PATH_WORDS:
            return apps.get_model(PATH_WORDS[before])
        with translation.override("es"):
            names = {
                m: {_slug(str(m._meta.verbose_name)), _slug(str(m._meta.verbose_name_plural))}
                for m in candidates
            }
        exact = [m for m, slugs in names.items() if before in slugs]
        ending = [m for m, slugs in names.items() if any(s.endswith("-" + before) for s in slugs)]
        found = exact or (ending if len(ending) == 1 else [])
        if found:
            return found[0]
    raise LookupError(
        f"{route.name} ({route.route}): which model does «{kwarg}» name? "
        "Name the URL's argument after it (`account_pk`) or add the path's word to PATH_WORDS."
    )


# --- What a view reads, from its source -------------------------------------------------------


@dataclass
class Declared:
    get: set[str] = field(default_factory=set)
    post: set[str] = field(default_factory=set)


def _is_project_code(obj) -> bool:
    path = Path(inspect.getsourcefile(obj) or "")
    return path.is_relative_to(settings.BASE_DIR) and ".venv" not in path.parts


def _form_fields(form_class) -> set[str]:
    return set(form_class.base_fields)


def declared(callback) -> Declared:
    """The parameters and forms the view's source reads (and the helpers of its module it
    passes the request or its data to): `XForm(request.GET)`, `request.GET.get("x")`,
    `"x" in request.GET`, `paginate(request, …)` (reads `page`)."""
    view = getattr(callback, "view_class", None) or inspect.unwrap(callback)
    found = Declared()
    if not _is_project_code(view):
        return found
    module = sys.modules[view.__module__]
    seen: set[str] = set()

    def scan(source: str, method: str | None) -> None:
        for verb in ("GET", "POST"):
            target = found.get if verb == "GET" else found.post
            reads = (
                rf'request\.{verb}(?:\.get|\.getlist)?\(?\[?\s*"(\w+)"'
                rf'|"(\w+)" (?:not )?in request\.{verb}'
            )
            for match in re.finditer(reads, source):
                target.add(match.group(1) or match.group(2))
        for match in re.finditer(
            r"\b([A-Z]\w*Form)\(\s*(?:data=)?(request\.(GET|POST)|\w+)", source
        ):
            form_class = getattr(module, match.group(1), None)
            if not (isinstance(form_class, type) and issubclass(form_class, forms.BaseForm)):
                continue
            verb = match.group(3) or method
            if verb == "GET":
                found.get |= _form_fields(form_class)
            elif verb == "POST":
                found.post |= _form_fields(form_class)
        if "paginate(request" in source:
            found.get.add("page")
        for match in re.finditer(r"\b(_\w+)\(\s*(request(?:\.(GET|POST))?)\b", source):
            helper = getattr(module, match.group(1), None)
            if inspect.isfunction(helper) and match.group(1) not in seen:
                seen.add(match.group(1))
                scan(inspect.getsource(helper), match.group(3) or method)

    scan(inspect.getsource(view), None)
    return found


# --- What a page shows: its forms and links ----------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # text, email, date, number, select, checkbox, radio, hidden, file, textarea, …
    value: str = ""
    options: list[str] = field(default_factory=list)
    checked: bool = False
    required: bool = False


@dataclass
class HtmlForm:
    method: str
    action: str
    fields: list[FormField] = field(default_factory=list)
    form_id: str = ""


class PageParser(HTMLParser):
    """The forms of a page (also htmx ones: `hx-post` on a form or a button), and its links."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[HtmlForm] = []
        self.links: list[str] = []
        self._form: HtmlForm | None = None
        self._by_id: dict[str, HtmlForm] = {}
        self._orphans: list[tuple[str, FormField]] = []  # inputs with form="id"
        self._select: FormField | None = None
        self._textarea: FormField | None = None
        self._option_value: str | None = None
        self._option_selected = False

    def _add(self, item: FormField, attrs: dict) -> None:
        if attrs.get("form"):
            self._orphans.append((attrs["form"], item))
        elif self._form is not None:
            self._form.fields.append(item)

    def handle_starttag(self, tag, attrs_list):
        attrs = {k: v or "" for k, v in attrs_list}
        for attr in ("href", "hx-get", "src"):
            if attrs.get(attr):
                self.links.append(attrs[attr])
        if tag == "form":
            method = "post" if attrs.get("hx-post") else "get" if attrs.get("hx-get") else ""
            method = method or attrs.get("method", "get").lower()
            action = attrs.get("hx-post") or attrs.get("hx-get") or attrs.get("action") or ""
            self._form = HtmlForm(method=method, action=action or self.page_url)
            self._form.form_id = attrs.get("id", "")
            self.forms.append(self._form)
            if self._form.form_id:
                self._by_id[self._form.form_id] = self._form
            return
        if attrs.get("hx-post") and tag != "form":
            # A button that posts by itself (htmx), with its hx-vals and its own name/value.
            button = HtmlForm(method="post", action=attrs["hx-post"])
            try:
                extra = json.loads(attrs.get("hx-vals") or "{}")
            except ValueError:
                extra = {}
            for name, value in extra.items() if isinstance(extra, dict) else ():
                button.fields.append(FormField(name, "hidden", str(value)))
            if attrs.get("name"):
                button.fields.append(FormField(attrs["name"], "hidden", attrs.get("value", "")))
            self.forms.append(button)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                if self._form is not None and attrs.get("value"):
                    self._add(FormField(name, "submit", attrs["value"]), attrs)
                return
            item = FormField(name, kind, attrs.get("value", ""), checked="checked" in attrs)
            item.required = "required" in attrs
            self._add(item, attrs)
        elif tag == "button" and name and attrs.get("type", "submit") == "submit":
            self._add(FormField(name, "submit", attrs.get("value", "")), attrs)
        elif tag == "select" and name:
            self._select = FormField(name, "select", required="required" in attrs)
            self._add(self._select, attrs)
        elif tag == "option" and self._select is not None:
            self._option_value = attrs.get("value")
            self._option_selected = "selected" in attrs
            if self._option_value is not None:
                self._close_option()
        elif tag == "textarea" and name:
            self._textarea = FormField(name, "textarea", required="required" in attrs)
            self._add(self._textarea, attrs)

    def _close_option(self, text: str = "") -> None:
        value = self._option_value if self._option_value is not None else text.strip()
        self._select.options.append(value)
        if self._option_selected:
            self._select.value = value
        self._option_value = None
        self._option_selected = False

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:  # a named one (not a read-only text)
            # A browser drops the newline that follows <textarea>.
            self._textarea.value = self._textarea.value.removeprefix("\n")
            self._textarea = None

    def close(self):
        super().close()
        for form_id, item in self._orphans:
            if form_id in self._by_id:
                self._by_id[form_id].fields.append(item)


def parse_page(url: str, text: str) -> PageParser:
    parser = PageParser(url)
    parser.feed(text)
    parser.close()
    return parser


def resolve_url(url: str, base: str) -> tuple[str, dict, str, dict[str, list[str]]] | None:
    """(route name, arguments, path, query) of a link of the page at `base`, or None when it
    is not one of ours."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc != "testserver"):
        return None
    path = parts.path or urlsplit(base).path
    if "{" in path or "%7B" in path:  # a template placeholder filled by JavaScript
        return None
    try:
        match = resolve(unquote(path))
    except Resolver404:
        return None
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    kwargs = {k: str(v) for k, v in match.kwargs.items()}
    return match.view_name, kwargs, path, query


# --- Sending a case and judging the answer ----------------------------------------------------


class ExceptionCatcher:
    """The exception behind a 500 (the test client, told not to raise it, would drop it)."""

    def __init__(self):
        self.exc: BaseException | None = None

    def __call__(self, sender, request=None, **kwargs):
        self.exc = sys.exc_info()[1]

    def __enter__(self):
        got_request_exception.connect(self)
        return self

    def __exit__(self, *exc):
        got_request_exception.disconnect(self)

    def take(self) -> str:
        """The exception's last line and the innermost line of the project that raised it."""
        exc, self.exc = self.exc, None
        if exc is None:
            return ""
        last = traceback.format_exception_only(exc)[-1].strip()
        where = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            path = Path(frame.filename)
            if path.is_relative_to(settings.BASE_DIR) and ".venv" not in path.parts:
                where = f"{path.relative_to(settings.BASE_DIR)}:{frame.lineno} {frame.name}"
        return f"{last} (at {where})" if where else last


def row_counts_sql(log_rows: dict[str, str | None]) -> tuple[list[str], str]:
    """One query that counts the rows of every table, but the rows that log a refused attempt
    (`log_rows`: table label -> the SQL condition of those rows, None for all of them)."""
    labels, parts = [], []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if meta.label in log_rows and log_rows[meta.label] is None:
            continue
        where = f" WHERE NOT ({log_rows[meta.label]})" if meta.label in log_rows else ""
        labels.append(meta.label)
        parts.append(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(meta.db_table)}{where})")
    return labels, "SELECT " + ", ".join(parts)


def row_counts(labels: list[str], sql: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(labels, cursor.fetchone(), strict=True))


def refused(response) -> bool:
    """A 4xx, a 200 that shows the form again with its errors, or a redirect that carries an
    error message (a view that answers a bad form on the page it came from)."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        return bool(ERROR_MARKERS.search(response.content.decode("utf-8", "replace")))
    if 300 <= response.status_code < 400:
        return any(m.level >= messages.ERROR for m in flashed(response))
    return False


def flashed(response) -> list:
    """The messages the response leaves for the next page (in the messages cookie)."""
    cookie = response.cookies.get(CookieStorage.cookie_name)
    if cookie is None or not cookie.value:
        return []
    return CookieStorage(HttpRequest())._decode(cookie.value) or []


INVALID_INPUT = re.compile(r"<(?:input|select|textarea)\b[^>]*>")
NAME = re.compile(r'\bname="([^"]+)"')
MARKED = re.compile(r'aria-invalid="true"|class="[^"]*\bis-invalid\b')


def invalid_fields(response) -> set[str]:
    """The fields a re-rendered form shows with their error (Django marks them aria-invalid;
    crispy, is-invalid)."""
    if response.status_code not in (200, 422) or "html" not in response.get("Content-Type", ""):
        return set()
    found = set()
    for tag in INVALID_INPUT.findall(response.content.decode("utf-8", "replace")):
        if MARKED.search(tag) and (name := NAME.search(tag)):
            found.add(html.unescape(name.group(1)))
    return found


def accepted(response) -> bool:
    """The view went through: a 2xx or 3xx that refused nothing."""
    return response.status_code < 400 and not refused(response)


# Django's own error pages, in English: a person must get ours, in their language.
ENGLISH_ERROR_PAGES = re.compile(
    rb"<h1>(Not Found|Bad Request \(400\)|403 Forbidden|Server Error \(500\))</h1>"
)


def untranslated(response) -> bool:
    return bool(
        "html" in response.get("Content-Type", "") and ENGLISH_ERROR_PAGES.search(response.content)
    )


def reverse_path(route: Route, kwargs: dict[str, str]) -> str:
    if route.is_regex:  # a regular expression (django-anymail's): Django builds its path
        return reverse(route.name, kwargs=kwargs)
    return route.path(kwargs)


def path_values(converter: str) -> list[tuple[str, str]]:
    """Bad values for a URL argument: ids that do not exist for `int` (the converter lets only
    digits through), and every bad string for the converters that take text."""
    if converter == "int":
        return [("missing id", MISSING_IDS[0]), ("40 nines", MISSING_IDS[1])]
    return [(label, value) for label, value in BAD_VALUES if value is not LIST]


# --- Valid-looking values for a form -----------------------------------------------------------


@dataclass(frozen=True)
class BadFile:
    """An upload whose content is a bad value (a list: two uploads)."""

    content: object


GOOD_FILE = BadFile("correo,nombre\nana.lopez@ejemplo.com.mx,Ana López\n")


def as_sent(value, kind: str = "text", current=None):
    """A bad value as a field of this kind is sent: in a file, the upload's content; the same
    key twice, as [the field's own value, "zzz"]."""
    if kind == "file":
        return BadFile(["a", "zzz"] if value is LIST else value)
    if value is LIST:
        return [current if isinstance(current, str) and current else "1", "zzz"]
    return value


def _upload(content) -> SimpleUploadedFile:
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    return SimpleUploadedFile("datos.csv", data, content_type="text/csv")


def files(data: dict) -> dict:
    """The data with its BadFile markers as fresh uploads (an upload is read once)."""
    ready = {}
    for key, value in data.items():
        if isinstance(value, BadFile):
            content = value.content
            ready[key] = (
                [_upload(c) for c in content] if isinstance(content, list) else _upload(content)
            )
        else:
            ready[key] = value
    return ready


def _model_id(name: str, rows: dict) -> str | None:
    word = name.split("-")[-1].removesuffix("_id").removesuffix("_pk")
    for model, instances in rows.items():
        if model._meta.model_name == word:
            return str(instances[0].pk)
    return None


def _by_kind(item: FormField, rows: dict) -> str:
    name, kind = item.name.lower(), item.kind
    today = date.today()
    if kind == "email" or "email" in name or "correo" in name:
        return "ana.lopez@ejemplo.com.mx"
    if kind == "datetime-local":
        return f"{today + timedelta(days=7)}T10:00"
    if kind == "date" or "date" in name or name.endswith("_at") or "fecha" in name:
        return str(today + timedelta(days=7))
    if kind == "time":
        return "10:00"
    if kind == "month":
        return f"{today:%Y-%m}"
    if kind == "number" or kind == "range":
        return "1"
    if kind == "tel" or "phone" in name or "mobile" in name:
        return "+52 55 1234 5678"
    if kind == "url" or "website" in name or name.endswith("url"):
        return "https://www.ejemplo.com.mx"
    if kind == "color":
        return "#336699"
    if kind == "password":
        return "Una-contraseña-larga-2026"
    model_id = _model_id(item.name, rows)
    if model_id:
        return model_id
    if kind == "textarea":
        return "Texto de prueba."
    return "Prueba"


def base_value(items: list[FormField], rows: dict, valid: dict[str, str]):
    """What a browser sends for the field named by `items` (a radio or checkbox group has
    several), with a valid-looking value where a required one is empty; None to leave it out.
    `valid`: values by field name that only a person knows (a real RFC, a password)."""
    first = items[0]
    if first.kind == "absent":  # read by the view's source, on no page: an id if it names one
        return _model_id(first.name, rows)
    if first.kind == "file":
        return GOOD_FILE
    if first.kind == "submit":
        return first.value
    if first.kind == "checkbox":
        checked = [i.value or "on" for i in items if i.checked]
        return checked or None
    if first.kind == "radio":
        checked = [i.value for i in items if i.checked]
        return (checked or [first.value])[0]
    if first.kind == "select":
        value = first.value or (first.options[0] if first.options else "")
        if not value and first.required:
            value = next((o for o in first.options if o), "")
        return value
    if first.value:
        return first.value
    if first.name in valid:
        return valid[first.name]
    if first.kind == "hidden":
        return _model_id(first.name, rows) or ""
    return _by_kind(first, rows) if first.required else ""


@contextlib.contextmanager
def quiet_logs():
    """Thousands of refused requests log a warning each (and a 500 its traceback, which the
    failure report already shows): silenced while the fuzz runs."""
    names = ["django.request", "django.security", "crm.audit", "campaigns", "support"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
