"""The board's formatters give exactly what the template filters they replace give."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat
from django.template.defaultfilters import time as time_filter
from django.urls import reverse, set_script_prefix
from django.utils import timezone, translation

from crm.core.formats import (
    clock_time,
    datetime_formatter,
    fixed_url,
    grouped_decimal_formatter,
    grouped_integer_formatter,
    html_format,
    pk_url,
    pk_url_maker,
    short_date_formatter,
    weekday_date_formatter,
)

AMOUNTS = [
    Decimal("0"),
    Decimal("0.5"),
    Decimal("999.49"),
    Decimal("1234.50"),
    Decimal("-1234.50"),
    Decimal("1234567.89"),
    Decimal("98765432109.99"),
    12500,
    3.75,
]


def test_fixed_urls_match_reverse_per_script_prefix():
    """The menu's links: the same as {% url %}, also for an app served under /crm/."""
    for name in ("crm:home", "accounts:account-list", "contacts:contact-list"):
        assert fixed_url(name) == reverse(name)
    try:
        set_script_prefix("/crm/")
        assert fixed_url("crm:home") == reverse("crm:home") == "/crm/"
    finally:
        set_script_prefix("/")
    assert fixed_url("crm:home") == "/"


@pytest.mark.parametrize("language", ["es", "en"])
def test_grouped_integers_match_floatformat(language):
    with translation.override(language):
        fmt = grouped_integer_formatter()
        for amount in AMOUNTS:
            assert fmt(amount) == floatformat(amount, "0g"), amount
        assert fmt(None) == ""


@pytest.mark.parametrize("language", ["es", "en"])
def test_grouped_decimals_match_floatformat(language):
    with translation.override(language):
        fmt = grouped_decimal_formatter()
        for amount in [*AMOUNTS, Decimal("-0.001"), Decimal("0.005"), Decimal("1000"), 2.675]:
            assert fmt(amount) == floatformat(amount, "2g"), amount
        assert fmt(None) == ""


@pytest.mark.parametrize("language", ["es", "en"])
def test_short_dates_match_the_date_filter(language):
    with translation.override(language):
        fmt = short_date_formatter()
        for month in range(1, 13):
            day = date(2026, month, 5 if month % 2 else 28)
            assert fmt(day) == date_filter(day, "d M"), day
        assert fmt(None) == ""


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("zone", ["America/Mexico_City", "Europe/Madrid"])
def test_weekday_dates_and_times_match_the_filters_in_the_users_zone(language, zone):
    with translation.override(language), timezone.override(zone):
        fmt = weekday_date_formatter()
        for day in range(1, 8):
            # 05:30 UTC is the evening before in Mexico City: the local day must be shown.
            moment = datetime(2026, 3, day, 5, 30, tzinfo=UTC)
            # Templates hand these filters the value already in local time (expects_localtime).
            local = timezone.localtime(moment)
            assert fmt(moment) == date_filter(local, "D j M"), moment
            assert clock_time(moment) == time_filter(local, "H:i"), moment
        assert fmt(None) == clock_time(None) == ""


def test_pk_urls_match_reverse():
    url_for = pk_url_maker("opportunities:activity-detail")
    for pk in (1, 42, 987654, 12345678901):
        assert url_for(pk) == reverse("opportunities:activity-detail", args=[pk])
        assert pk_url("opportunities:activity-detail", pk) == url_for(pk)


def test_pk_url_follows_the_script_prefix():
    """Kept per script prefix: an app served under /crm/ links under /crm/."""
    plain = pk_url("accounts:account-detail", 7)
    try:
        set_script_prefix("/crm/")
        assert pk_url("accounts:account-detail", 7) == "/crm" + plain
        assert pk_url("accounts:account-detail", 7) == reverse("accounts:account-detail", args=[7])
    finally:
        set_script_prefix("/")
    assert pk_url("accounts:account-detail", 7) == plain


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "name", ["SHORT_DATETIME_FORMAT", "SHORT_DATE_FORMAT", "DATE_FORMAT", "j M Y", "d/M/Y"]
)
def test_named_formats_match_the_date_filter(language, name):
    with translation.override(language), timezone.override("America/Mexico_City"):
        fmt = datetime_formatter(name)
        for moment in (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            datetime(2026, 11, 23, 17, 45, tzinfo=UTC),
            datetime(2031, 12, 31, 23, 59, tzinfo=UTC),
        ):
            local = timezone.localtime(moment)
            assert fmt(moment) == date_filter(local, name), (name, moment)
        if "TIME" not in name:
            assert fmt(date(2026, 3, 9)) == date_filter(date(2026, 3, 9), name)
        assert fmt(None) == ""


def test_html_format_escapes_as_format_html_does():
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe

    template = '<a href="{url}" title="{name}">{name}</a>{extra}{pk}'
    values = {
        "url": "/ventas/7/?a=1&b=2",
        "name": 'Pérez & Hijos <"S.A."> O\'Brien',
        "extra": mark_safe("<b>ya seguro</b>"),
        "pk": 7,
    }
    assert html_format(template, **values) == format_html(template, **values)
    assert str(html_format("{x}", x=None)) == "None"
