"""A campaign's content: merge fields, sanitised HTML, the mail layout, the text part, the links.

- Merge fields ({{ nombre|default:"cliente" }}) are rendered by a Django template engine whose
  only built-ins are a few text filters (campaigns.templatetags.merge): no tags, no includes, no
  attribute access (the context is a dict of plain strings). `merge_errors` rejects anything
  else before a campaign can be saved or sent.
- The body marketing writes is sanitised with nh3 (Ammonia) on save; the responsive layout
  (templates/campaigns/email/message.html) adds the company's logo, postal address and the
  unsubscribe links, and its CSS is inlined once per campaign with css-inline.
- `compile_message` does the per-campaign work once (layout, inlining, link rewriting, template
  parsing); `CompiledMessage.render` does the per-recipient work (one template render per part).
"""

import functools
import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import css_inline
import nh3
from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, TextNode, VariableNode
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The merge fields a campaign may use, with what they hold (shown in the editor's help).
MERGE_FIELDS: dict[str, str] = {
    "nombre": gettext_lazy("Nombre del contacto"),
    "apellidos": gettext_lazy("Apellidos"),
    "nombre_completo": gettext_lazy("Nombre y apellidos"),
    "correo": gettext_lazy("Correo electrónico"),
    "puesto": gettext_lazy("Puesto"),
    "empresa": gettext_lazy("Nombre de su empresa (cuenta)"),
    "ciudad": gettext_lazy("Ciudad"),
    "vendedor": gettext_lazy("Nombre de su vendedor"),
    "correo_vendedor": gettext_lazy("Correo de su vendedor"),
}
MERGE_FILTERS = ("default", "upper", "lower", "title", "capfirst")
# Per-recipient values the layout uses (never typed by marketing).
LINK_FIELDS = ("url_baja", "url_preferencias", "token_apertura", "token_clic")

ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"nav", "details", "summary", "map", "area"}) | {
    "font",
    "center",
}
ALLOWED_ATTRIBUTES = {
    "*": {"style", "align", "class", "dir", "lang", "title"},
    "a": {"href", "title", "target"},
    "img": {"src", "alt", "width", "height", "style"},
    "table": {"width", "cellpadding", "cellspacing", "border", "bgcolor", "role"},
    "td": {"width", "valign", "colspan", "rowspan", "bgcolor"},
    "th": {"width", "valign", "colspan", "rowspan", "bgcolor"},
    "font": {"color", "face", "size"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}

_HREF = re.compile(r'href="([^"]*)"')


@functools.cache
def merge_engine() -> Engine:
    """A template engine that knows the merge filters and nothing else (no tags at all)."""
    engine = Engine(autoescape=True, debug=False)
    engine.template_builtins = engine.get_template_builtins(["campaigns.templatetags.merge"])
    engine.template_libraries = {}
    return engine


def merge_errors(source: str) -> list[str]:
    """What is wrong with the merge fields of a subject, preheader or body, in Spanish."""
    try:
        template = merge_engine().from_string(source)
    except TemplateSyntaxError as exc:
        message = str(exc)
        if "Invalid block tag" in message or "{%" in source:
            return [_("Solo se permiten campos como {{ nombre }}; no se permiten etiquetas {% %}.")]
        return [_("Un campo de combinación está mal escrito: %(error)s") % {"error": message}]
    errors = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            if "{%" in node.s or "{#" in node.s:
                errors.append(_("No se permiten etiquetas {% %} ni comentarios {# #}."))
            if "{{" in node.s or "}}" in node.s:
                errors.append(_("Un campo de combinación no está cerrado: escribe {{ nombre }}."))
            continue
        if not isinstance(node, VariableNode):
            errors.append(_("Solo se permiten campos como {{ nombre }}."))
            continue
        errors.extend(_expression_errors(node.filter_expression))
    return list(dict.fromkeys(errors))


def _expression_errors(expression: FilterExpression) -> list[str]:
    var = expression.var
    name = getattr(var, "var", None)
    if not isinstance(name, str) or getattr(var, "lookups", None) is None:
        return [_("Un campo de combinación debe ser un nombre, no un texto.")]
    if name not in MERGE_FIELDS:
        return [
            _("El campo «%(name)s» no existe. Campos disponibles: %(fields)s.")
            % {"name": name, "fields": ", ".join(MERGE_FIELDS)}
        ]
    return []


def merge_fields_used(source: str) -> set[str]:
    """The merge fields a text uses without a default (missing data would leave a gap)."""
    try:
        template = merge_engine().from_string(source)
    except TemplateSyntaxError:
        return set()
    used = set()
    for node in template.nodelist:
        if isinstance(node, VariableNode):
            names = [f.__name__ for f, _args in node.filter_expression.filters]
            if "default" not in names:
                used.add(node.filter_expression.var.var)
    return used


def sanitize_html(source: str) -> str:
    """The body as marketing wrote it, with scripts, handlers and unsafe URLs removed."""
    return nh3.clean(
        source or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def extract_links(body_html: str) -> list[str]:
    """The http(s) links of a (sanitised) body, in order, once each: the ones tracked."""
    links = []
    for raw in _HREF.findall(body_html):
        url = html.unescape(raw).strip()
        if url.lower().startswith(("http://", "https://")) and url not in links:
            links.append(url)
    return links


def link_errors(body_html: str) -> list[str]:
    errors = []
    for raw in _HREF.findall(body_html):
        if "{{" in raw or "{%" in raw:
            errors.append(
                _("Los enlaces no pueden llevar campos de combinación: %(url)s") % {"url": raw}
            )
        elif len(html.unescape(raw)) > 2000:
            errors.append(_("Un enlace pasa de 2000 caracteres."))
    return errors


class _TextExtractor(HTMLParser):
    BLOCKS = {
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "ul",
        "ol",
        "blockquote",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag == "img" and (alt := dict(attrs).get("alt")):
            self.parts.append(alt)

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.href is not None:
            text = "".join(self.link_text).strip()
            href = self.href
            if href and not href.startswith("mailto:") and href != text:
                self.parts.append(f" ({href})" if text else href)
            self.href = None
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data)
        self.parts.append(text)
        if self.href is not None:
            self.link_text.append(text)


def html_to_text(body_html: str) -> str:
    """A readable plain-text part: paragraphs, list items, and each link's address."""
    parser = _TextExtractor()
    parser.feed(body_html or "")
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def merge_data(contact) -> dict[str, str]:
    """The merge values of one contact (its account and owner loaded by the caller)."""
    owner = contact.owner if contact.owner_id else None
    return {
        "nombre": contact.first_name,
        "apellidos": contact.last_name,
        "nombre_completo": contact.full_name,
        "correo": contact.email,
        "puesto": contact.job_title,
        "empresa": contact.account.name if contact.account_id else "",
        "ciudad": contact.city,
        "vendedor": owner.get_full_name() if owner else "",
        "correo_vendedor": owner.email if owner else "",
    }


def sender(campaign) -> str:
    from email.utils import formataddr

    return formataddr(
        (
            campaign.from_name or settings.CAMPAIGN_FROM_NAME,
            campaign.from_email or settings.CAMPAIGN_FROM_EMAIL,
        )
    )


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


class _MergeTemplate:
    """A parsed merge template rendered straight from its nodes, as `Template.render` would.

    A merge template is only text and {{ field|filters }} (merge_errors refuses the rest), so
    rendering it needs none of `Template.render`'s machinery (render-context stack, template
    binding, debug annotation): that machinery, three templates per recipient, cost more than
    the output itself. A bare field holding a plain string — nearly every field of the layout:
    the links' tokens, the name — is written directly (escaped in HTML, as
    `render_value_in_context` does for a str); any other node (filters, a missing or non-string
    value) is rendered by Django's own node with the template bound, so the output is the same.
    """

    def __init__(self, template):
        self.template = template
        self.parts: list = []
        for node in template.nodelist:
            if isinstance(node, TextNode):
                self.parts.append(node.s)
                continue
            name = None
            if isinstance(node, VariableNode):
                expression = node.filter_expression
                var = expression.var
                if (
                    not expression.filters
                    and isinstance(getattr(var, "var", None), str)
                    and getattr(var, "lookups", None) == (var.var,)
                    and not getattr(var, "translate", False)
                ):
                    name = var.var
            self.parts.append((name, node))

    def render(self, values: dict[str, str], *, autoescape: bool) -> str:
        context = None
        out = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
                continue
            name, node = part
            if name is not None:
                value = values.get(name)
                if type(value) is str:  # a SafeString (str subclass) goes to the node below
                    out.append(escape(value) if autoescape else value)
                    continue
            if context is None:
                context = Context(values, autoescape=autoescape)
                context.template = self.template  # what Template.render binds (string_if_invalid)
            out.append(node.render(context))
        return "".join(out)


class CompiledMessage:
    """A campaign's message, prepared once, rendered for each recipient."""

    def __init__(self, *, subjects: dict[str, str], html_source: str, text_source: str):
        engine = merge_engine()
        self._subjects = {k: _MergeTemplate(engine.from_string(v)) for k, v in subjects.items()}
        self._html = _MergeTemplate(engine.from_string(html_source))
        self._text = _MergeTemplate(engine.from_string(text_source))

    def render(self, values: dict[str, str], *, variant: str = "a") -> RenderedMessage:
        subject = self._subjects.get(variant) or self._subjects["a"]
        return RenderedMessage(
            subject=" ".join(subject.render(values, autoescape=False).split()),
            html=self._html.render(values, autoescape=True),
            text=self._text.render(values, autoescape=False),
        )


def _layout(campaign, body_html: str, *, tracking: bool) -> str:
    """The responsive layout around the body, its CSS inlined (per campaign, not per message)."""
    company = settings.COMPANY
    logo = static(company["logo"]) if company.get("logo") else ""
    if logo and not logo.startswith(("http://", "https://")):
        logo = f"{settings.SITE_URL.rstrip('/')}/{logo.lstrip('/')}"
    # The preheader keeps its merge fields (quotes and all) for the merge engine: only the
    # characters that make markup are escaped here.
    preheader = (campaign.preheader or "").replace("&", "&amp;").replace("<", "&lt;")
    page = render_to_string(
        "campaigns/email/message.html",
        {
            "campaign": campaign,
            "body": mark_safe(body_html),  # sanitised by sanitize_html when saved
            "preheader": mark_safe(preheader.replace(">", "&gt;")),
            "company": company,
            "logo_url": logo,
            "tracking": tracking,
            "site_url": settings.SITE_URL.rstrip("/"),
        },
    )
    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)
    return inliner.inline(page)


def _rewrite_links(page: str, links: dict[str, int]) -> str:
    """Each stored link's href becomes the recipient's tracking redirect for that link."""
    base = settings.SITE_URL.rstrip("/")

    def replace(match: re.Match) -> str:
        url = html.unescape(match.group(1)).strip()
        link_id = links.get(url)
        if link_id is None:
            return match.group(0)
        return f'href="{base}/m/c/{{{{ token_clic }}}}/{link_id}/"'

    return _HREF.sub(replace, page)


def _text_source(campaign) -> str:
    # One message per line: a catalogue entry with a line break in it is harder to translate.
    footer = "\n".join(
        (
            _("%(company)s te envía este correo porque te suscribiste a «%(topic)s».")
            % {"topic": campaign.topic.name, "company": settings.COMPANY["name"]},
            _("Darme de baja: %(url)s") % {"url": "{{ url_baja }}"},
            _("Tus preferencias: %(url)s") % {"url": "{{ url_preferencias }}"},
        )
    )
    address = settings.COMPANY.get("address") or ""
    return f"{campaign.text_body.strip()}\n\n--\n{footer}\n{address}".strip() + "\n"


def compile_message(campaign, *, tracking: bool = True) -> CompiledMessage:
    """Prepare the campaign's message: tracking rewrites its stored links and adds the pixel."""
    body = campaign.html_body
    page = _layout(campaign, body, tracking=tracking)
    if tracking:
        links = {link.url: link.pk for link in campaign.links.all()}
        page = _rewrite_links(page, links)
    subjects = {"a": campaign.subject}
    if campaign.subject_b:
        subjects["b"] = campaign.subject_b
    return CompiledMessage(subjects=subjects, html_source=page, text_source=_text_source(campaign))


def content_errors(campaign) -> dict[str, list[str]]:
    """Every problem of the content, by field, before it may be saved or sent."""
    errors: dict[str, list[str]] = {}
    for field in ("subject", "subject_b", "preheader", "html_body", "text_body"):
        value = getattr(campaign, field) or ""
        if found := merge_errors(value):
            errors[field] = found
    if found := link_errors(campaign.html_body or ""):
        errors.setdefault("html_body", []).extend(found)
    if not (campaign.html_body or "").strip():
        errors.setdefault("html_body", []).append(_("El contenido del correo está vacío."))
    return errors
