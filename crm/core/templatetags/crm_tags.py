from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from crm.core import formats, text
from crm.core.permissions import can_export

register = template.Library()


@register.simple_tag
def fixed_url(url_name: str) -> str:
    """`{% url %}` for a URL without arguments, reversed once per process (the menu)."""
    return formats.fixed_url(url_name)


# The navbar's menu of sections, by what it depends on (see nav_menu).
_MENUS: dict[tuple, str] = {}
_MENUS_KEPT = 1000  # role × page × language combinations: a few hundred in practice


def _kept(store: dict, limit: int, key: tuple, draw) -> str:
    """The markup kept in `store` for `key`, drawn (`draw()`) and kept the first time: up to
    `limit` of them, then they start again. While DEBUG is on it is drawn each time, so that
    an edited template shows at once ({% nav_menu %}, {% kept_fragment %})."""
    markup = store.get(key)
    if markup is None:
        markup = draw()
        if not settings.DEBUG:
            if len(store) >= limit:
                store.clear()
            store[key] = markup
    return markup


@register.simple_tag(takes_context=True)
def nav_menu(context) -> str:
    """The navbar's sections (partials/nav_menu.html), rendered once per process for each set
    of what that template reads: the sections the user may use (`nav`), the app and URL name
    of the page it marks active, the language and the URL prefix. It reads no record and no
    token, so the same key always gives the same HTML; every page draws it (some 50 links).
    While DEBUG is on it is drawn each time, so that an edited template shows at once."""
    nav = context.get("nav") or {}
    match = getattr(context.get("request"), "resolver_match", None)
    names = {
        "app_name": getattr(match, "app_name", ""),
        "url_name": getattr(match, "url_name", ""),
    }
    key = (tuple(sorted(nav.items())), tuple(names.values()), formats.url_context())
    return _kept(
        _MENUS,
        _MENUS_KEPT,
        key,
        lambda: render_to_string("partials/nav_menu.html", {"nav": nav, "match": names}),
    )


_FRAGMENTS: dict[tuple, str] = {}
_FRAGMENTS_KEPT = 500  # each a few kB: a list's filter bar for one set of filters


@register.tag
def kept_fragment(parser, token):
    """`{% kept_fragment "name" key %}…{% endkept_fragment %}`: the markup between, drawn once
    per process for each `key` and language (with the script prefix and URLconf: the key of
    `{% nav_menu %}`), then given as it was. The key must hold everything the markup is drawn
    from (a list's filter bar: ListFilterForm.fragment_key); nothing is ever stale, as a change
    of any of it is another key. Kept as `{% nav_menu %}` is (`_kept`)."""
    bits = token.split_contents()
    if len(bits) != 3:
        raise template.TemplateSyntaxError(f"{bits[0]} necesita un nombre y una clave")
    nodelist = parser.parse(("endkept_fragment",))
    parser.delete_first_token()
    return KeptFragmentNode(
        nodelist, parser.compile_filter(bits[1]), parser.compile_filter(bits[2])
    )


class KeptFragmentNode(template.Node):
    def __init__(self, nodelist, name, key):
        self.nodelist, self.name, self.key = nodelist, name, key

    def render(self, context) -> str:
        given = self.key.resolve(context)
        if given in (None, ""):  # no key (a context without it): drawn each time, never kept
            return self.nodelist.render(context)
        key = (self.name.resolve(context), given, formats.url_context())
        return _kept(_FRAGMENTS, _FRAGMENTS_KEPT, key, lambda: self.nodelist.render(context))


@register.simple_tag(takes_context=True)
def query_replace(context, **changes) -> str:
    """The current query string with some parameters replaced (pagination, sorting)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label: str) -> str:
    """A column header that sorts the list by `key`, and by `-key` when already sorted by it."""
    request = context["request"]
    current = request.GET.get("sort", "")
    query = request.GET.copy()
    query.pop("page", None)
    query["sort"] = f"-{key}" if current == key else key
    arrow = ""
    if current == key:
        arrow = " ▲"
    elif current == f"-{key}":
        arrow = " ▼"
    url = f"?{query.urlencode()}"
    return format_html(
        '<a href="{}" hx-get="{}" class="link-body-emphasis text-decoration-none">{}{}</a>',
        url,
        url,
        label,
        arrow,
    )


@register.inclusion_tag("partials/export_menu.html", takes_context=True)
def export_menu(context, name: str, url_name: str, up: bool = True) -> dict:
    """The "Exportar" menu of a list: its export URL with the list's current query string
    (without the page: the export has every page), for those who may export it."""
    request = context["request"]
    query = request.GET.copy()
    for key in ("page", "formato"):
        query.pop(key, None)
    links = []
    if can_export(request.user, name):
        base = reverse(url_name)
        for fmt, label in (("csv", "CSV"), ("xlsx", "Excel")):
            query["formato"] = fmt
            links.append({"url": f"{base}?{query.urlencode()}", "label": label, "format": fmt})
    return {"links": links, "up": up}


TIER_COLOURS = {"A": "success", "B": "primary", "C": "warning", "D": "secondary"}


@register.simple_tag
def tier_badge(tier: str) -> str:
    if not tier:
        return ""
    return format_html(
        '<span class="badge text-bg-{} tier-badge" title="{}">{}</span>',
        TIER_COLOURS.get(tier, "secondary"),
        _("Clasificación"),
        tier,
    )


@register.simple_tag
def dotted(*parts) -> str:
    """The non-empty parts joined by " · " (no stray separators when a value is missing)."""
    return " · ".join(str(part) for part in parts if part not in (None, ""))


@register.filter
def bar_percent(value) -> int:
    """A bar's length as a whole percentage from 0 to 100, for the bar-w-N / bar-h-N classes
    of static/css/crm.css (no style attribute: the Content-Security-Policy refuses them).

    Past 100 (a quota beaten) the bar is full; a share too small to round to 1 still shows."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if number != number or number <= 0:  # NaN, nothing, or less than nothing
        return 0
    return max(1, min(100, round(number)))


@register.filter
def web_link(value) -> str:
    """The address if a browser may follow it as a link (http or https), else "".

    The forms refuse `javascript:` and `data:` (Django's URLField takes http, https, ftp and
    ftps), but a value written by an import or an older version is never rendered as such a
    link: the page shows it as text instead."""
    return value if text.is_web_url(value) else ""
