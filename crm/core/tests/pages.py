"""What a test reads back from a page: the values of its form, as a browser would post them."""

import re
from html.parser import HTMLParser


class _FormValues(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value") or "on"
            elif kind not in ("submit", "button", "file"):
                self.values[name] = attrs.get("value") or ""
        elif tag == "select" and name and "disabled" not in attrs:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name and "disabled" not in attrs:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            # Django writes a newline after <textarea>, which browsers drop.
            text = self.values[self._textarea] + data
            self.values[self._textarea] = text.removeprefix("\n")


def form_values(html: str) -> dict[str, str]:
    """The fields of the page's form(s) and their values, as the page shows them."""
    parser = _FormValues()
    parser.feed(html)
    return parser.values


def rows_naming(html: str, *names: str) -> dict[str, str]:
    """The table row (`<tr>` to the next) of a list page in which each of `names` shows."""
    return {name: row for row in html.split("<tr>") for name in names if name in row}


def loaded_version(client, url: str) -> str:
    """The version an edit page carries (crm.core.concurrency): what its form posts back."""
    return form_values(client.get(url).text)["version"]


def markup_text(html: str, *, text_edges: bool = False) -> str:
    """Markup with a template's indentation away, to compare with markup made in Python: each
    run of whitespace one space, and none next to a tag. With `text_edges`, only none between
    two tags: a space between a tag and text (after an icon, around a "·") still counts."""
    if text_edges:
        html = re.sub(r">\s+<", "><", html)
    else:
        html = re.sub(r">\s+", ">", re.sub(r"\s+<", "<", html))
    return re.sub(r"\s+", " ", html).strip()


def in_order(queryset, records: list) -> list:
    """The rows of `queryset` (models or named tuples) for `records`, in their order: a list's
    rows as its selector reads them, beside the models a replaced template read."""
    found = {row.pk: row for row in queryset.filter(pk__in=[record.pk for record in records])}
    return [found[record.pk] for record in records]
