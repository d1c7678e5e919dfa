"""Formatting and links for pages that repeat a row hundreds of times (the board, the agenda).

The template filters `floatformat:"0g"` and `"2g"`, `date:"d M"` and `time:"H:i"`, and
`{% url %}`, look the locale's formats up and parse their arguments on every call; a board of
120 cards spent more time in them than in the rest of its cards. These build a formatter once
per request, for the active language and time zone, that gives the same text (the tests compare
them with the filters).
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape as _escape

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat, timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import get_format
from django.utils.numberformat import format as number_format
from django.utils.safestring import SafeString
from django.utils.translation import get_language

# A number no record has, marking the id in a reversed URL (see pk_url_maker).
_PK_MARK = 987654321


def grouped_integer_formatter() -> Callable[[object], str]:
    """Like `floatformat:"0g"`: rounded half up to a whole number, thousands grouped."""
    separator = get_format("THOUSAND_SEPARATOR")
    grouping = get_format("NUMBER_GROUPING")
    simple = grouping == 3 and separator

    def fmt(value) -> str:
        if value is None or value == "":
            return ""
        number = int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if simple:
            return f"{number:,}".replace(",", separator)
        return number_format(number, ".", 0, grouping, separator, force_grouping=True)

    return fmt


def grouped_decimal_formatter(places: int = 2) -> Callable[[object], str]:
    """Like `floatformat:"2g"` (`places` decimals): rounded half up, thousands grouped, the
    active language's decimal separator, never "-0,00"."""
    separator = get_format("THOUSAND_SEPARATOR")
    decimal_separator = get_format("DECIMAL_SEPARATOR")
    grouping = get_format("NUMBER_GROUPING")
    simple = grouping == 3 and separator
    exponent = Decimal(1).scaleb(-places)

    def fmt(value) -> str:
        if value is None or value == "":
            return ""
        number = Decimal(value if isinstance(value, Decimal | int) else str(value))
        number = number.quantize(exponent, rounding=ROUND_HALF_UP)
        if not number:
            number = abs(number)
        if not simple:
            return number_format(
                number, decimal_separator, places, grouping, separator, force_grouping=True
            )
        whole, _point, fraction = f"{abs(number):f}".partition(".")
        grouped = f"{int(whole):,}".replace(",", separator)
        sign = "-" if number < 0 else ""
        return f"{sign}{grouped}{decimal_separator}{fraction}" if places else f"{sign}{grouped}"

    return fmt


def short_date_formatter() -> Callable[[date | None], str]:
    """Like `date:"d M"`: "05 Nov" (the month's short name in the active language)."""
    months = {number: str(name).title() for number, name in MONTHS_3.items()}

    def fmt(value: date | None) -> str:
        if value is None:
            return ""
        return f"{value.day:02d} {months[value.month]}"

    return fmt


def weekday_date_formatter() -> Callable[[datetime], str]:
    """Like `date:"D j M"` on an aware datetime: "lun 5 Nov", in the current time zone."""
    months = {number: str(name).title() for number, name in MONTHS_3.items()}
    weekdays = {number: str(name) for number, name in WEEKDAYS_ABBR.items()}

    def fmt(value: datetime | None) -> str:
        if value is None:
            return ""
        local = timezone.localtime(value)
        return f"{weekdays[local.weekday()]} {local.day} {months[local.month]}"

    return fmt


def clock_time(value: datetime | None) -> str:
    """Like `time:"H:i"` on an aware datetime, in the current time zone."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local.hour:02d}:{local.minute:02d}"


# The format characters of Django's `date` filter that plain arithmetic renders; a locale's
# format with any other (e.g. English "P": "2:30 p.m.") is rendered by Django's own dateformat.
_FAST_PARTS: dict[str, Callable[[datetime], str]] = {
    "d": lambda v: f"{v.day:02d}",
    "j": lambda v: str(v.day),
    "m": lambda v: f"{v.month:02d}",
    "n": lambda v: str(v.month),
    "Y": lambda v: f"{v.year:04d}",
    "y": lambda v: f"{v.year % 100:02d}",
    "H": lambda v: f"{v.hour:02d}",
    "G": lambda v: str(v.hour),
    "i": lambda v: f"{v.minute:02d}",
    "s": lambda v: f"{v.second:02d}",
}
_FORMAT_CHARS = set("aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ")


def datetime_formatter(format_name: str = "SHORT_DATETIME_FORMAT") -> Callable[[object], str]:
    """Like `date:"SHORT_DATETIME_FORMAT"` (or any named format) on many values in a page.

    The active language's format is parsed once; a datetime is shown in the current time zone,
    as the template would. Formats with characters beyond plain numbers go to dateformat.
    """
    fmt = get_format(format_name)
    parts: list[str | Callable] = []
    escaped = False
    fast = True
    for char in fmt:
        if escaped:
            parts.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _FAST_PARTS:
            parts.append(_FAST_PARTS[char])
        elif char == "M":  # "Nov": the month's short name in the active language, as dateformat
            months = {number: str(name).title() for number, name in MONTHS_3.items()}
            parts.append(lambda v, months=months: months[v.month])
        elif char in _FORMAT_CHARS:
            fast = False
            break
        else:
            parts.append(char)

    def fmt_value(value) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, datetime) and timezone.is_aware(value):
            value = timezone.localtime(value)
        if not fast:
            return dateformat.format(value, fmt)
        return "".join(part if isinstance(part, str) else part(value) for part in parts)

    return fmt_value


def pk_url_maker(url_name: str) -> Callable[[int], str]:
    """The URL of `url_name` for any id, from a single reverse(): for rows of a long list."""
    url = reverse(url_name, args=[_PK_MARK])
    mark = str(_PK_MARK)
    return lambda pk: url.replace(mark, str(pk))


# One maker (one URL) per URL name, script prefix, URLconf and language: all that reverse()
# depends on.
_PK_URL_MAKERS: dict[tuple, Callable[[int], str]] = {}
_FIXED_URLS: dict[tuple, str] = {}


def url_context() -> tuple:
    """All that reverse() and the language of a page depend on: the script prefix, the
    URLconf and the active language (part of the key of whatever is made once per process)."""
    return (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, get_language())


def _reverse_key(url_name: str) -> tuple:
    return (url_name, *url_context())


def fixed_url(url_name: str) -> str:
    """`reverse(url_name)` for a URL without arguments, once per process: the menu of every
    page links to some thirty of them."""
    key = _reverse_key(url_name)
    url = _FIXED_URLS.get(key)
    if url is None:
        url = _FIXED_URLS[key] = reverse(url_name)
    return url


def pk_url(url_name: str, pk: int) -> str:
    """`reverse(url_name, args=[pk])` for a URL whose only argument is an id, at the cost of
    one reverse() per process (a reverse() costs ~60 µs, and a list links to each row)."""
    return kept_pk_url_maker(url_name)(pk)


def kept_pk_url_maker(url_name: str) -> Callable[[int], str]:
    """`pk_url_maker(url_name)`, made once per process (see pk_url): for rows made in Python."""
    key = _reverse_key(url_name)
    maker = _PK_URL_MAKERS.get(key)
    if maker is None:
        maker = _PK_URL_MAKERS[key] = pk_url_maker(url_name)
    return maker


def _escaped(value) -> str:
    html = getattr(value, "__html__", None)
    return html() if html is not None else _escape(str(value))


def html_format(template: str, **values) -> SafeString:
    """`format_html(template, **values)` for markup made many times a page (the board's
    cards): every value escaped as `conditional_escape` does (what is already safe HTML
    is kept), without the lazy-text checks that `format_html` pays on each value."""
    return SafeString(template.format(**{name: _escaped(v) for name, v in values.items()}))
