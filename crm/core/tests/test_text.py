import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.core.text import (
    Folded,
    column_fold,
    digits,
    fold,
    fold_table,
    normalize_phone,
    parse_id,
    phone_query_digits,
    search_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  José  PÉREZ ", "jose perez"),
        ("Peña Nieto", "pena nieto"),
        ("ÁÉÍÓÚ Üñ", "aeiou un"),
        ("Straße", "strasse"),
        ("línea\tnueva\nlínea", "linea nueva linea"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold_is_lower_case_accent_free_and_single_spaced(raw, expected):
    assert fold(raw) == expected


def test_search_text_folds_every_part_and_skips_empty_ones():
    assert search_text("José", None, "", "PÉREZ") == "jose perez"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+52 1 55-1234-5678", "5215512345678"),
        ("(55) 1234.5678", "5512345678"),
        ("sin números", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_digits_keeps_only_digits(raw, expected):
    assert digits(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "+525512345678",
        "+52 55 1234 5678",
        "+52 1 55-1234-5678",  # the mobile "1" Mexico dropped in 2019
        "+521 5512345678",
        "55 1234 5678",
        "(55) 1234-5678",
        "5512345678",
        "  55-1234-5678  ",
    ],
)
def test_normalize_phone_reads_mexican_formats_as_one_e164_number(raw):
    assert normalize_phone(raw) == "+525512345678"


def test_normalize_phone_reads_numbers_without_country_code_in_the_given_region():
    assert normalize_phone("612 34 56 78", "ES") == "+34612345678"
    assert normalize_phone("91 234 56 78", "ES") == "+34912345678"
    # The same digits read in Mexico are a different (and invalid) number.
    with pytest.raises(ValidationError):
        normalize_phone("612 34 56 78", "MX")


def test_normalize_phone_keeps_an_explicit_country_code_over_the_region():
    assert normalize_phone("+34 612 345 678", "MX") == "+34612345678"
    assert normalize_phone("+52 33 1234 5678", "ES") == "+523312345678"


def test_normalize_phone_without_region_uses_the_default_region(settings):
    settings.PHONE_DEFAULT_REGION = "ES"
    assert normalize_phone("612345678") == "+34612345678"


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_normalize_phone_of_nothing_is_empty(raw):
    assert normalize_phone(raw) == ""


@pytest.mark.parametrize("raw", ["abc", "teléfono", "123", "+52 55 1234", "55 1234 5678 9999"])
def test_normalize_phone_rejects_what_is_not_a_valid_number(raw):
    with pytest.raises(ValidationError) as exc_info:
        normalize_phone(raw)
    assert exc_info.value.code == "phone"
    assert raw.strip() in exc_info.value.messages[0]


def test_normalize_phone_error_is_translated():
    with translation.override("es"), pytest.raises(ValidationError) as exc_info:
        normalize_phone("123")
    assert "no es un número de teléfono válido" in exc_info.value.messages[0]


@pytest.mark.parametrize(
    "query",
    ["55 1234 5678", "+52 1 55-1234-5678", "5512345678", "+52 55 1234 5678", "(55) 1234-5678"],
)
def test_phone_query_digits_finds_the_national_number_whatever_the_format(query):
    found = phone_query_digits(query)
    assert found[0] == "5512345678"
    # Every candidate is a substring of what a stored +525512345678 keeps in its digits column,
    # or the digits as typed.
    assert all(candidate in "525512345678" or candidate == digits(query) for candidate in found)


def test_phone_query_digits_of_a_partial_number_is_what_was_typed():
    assert phone_query_digits("5678") == ["5678"]
    assert phone_query_digits("12-3") == ["123"]


@pytest.mark.parametrize("query", ["", "perez", "12", "a1b2"])
def test_phone_query_digits_ignores_queries_with_fewer_than_three_digits(query):
    assert phone_query_digits(query) == []


def test_phone_query_digits_reads_the_query_in_the_given_region():
    assert phone_query_digits("612 34 56 78", "ES") == ["612345678"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        (12, 12),
        (str(2**63 - 1), 2**63 - 1),
        (str(2**63), None),  # past any id: the databases refuse to compare with it
        ("9" * 40, None),
        ("0", None),
        ("-1", None),
        ("1e3", None),
        ("²", None),  # a digit to str.isdigit(), not to int()
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_id_takes_only_numbers_an_id_can_be(raw, expected):
    assert parse_id(raw) == expected


# --- folding a column for a comparison (Folded, fold_table) ---------------------------------

COLUMNS = [
    "Ciudad de México",
    "MÉXICO",
    "Mexicali",
    "Querétaro",
    "León",
    "San Sebastián",
    "A Coruña",
    "Ñuñoa",
    "Guipúzcoa",
    "São Paulo",
    "Besançon",
    "Ørsted 12",
    "",
]


def _needles() -> list[str]:
    """Every piece of every column, folded, and texts that are no column's piece."""
    needles = {"mex", "queretaro", "zzz", "123", "sao p", "aeiou", "n", ""}
    for column in COLUMNS:
        folded = column_fold(column)
        needles.update(folded[i:j] for i in range(len(folded)) for j in range(i + 1, i + 5))
    return sorted(needles)


def test_fold_table_keeps_only_the_letters_that_fold_into_the_compared_text():
    assert fold_table(("mex",)) == ("éèêëÉÈÊË", "eeeeeeee")
    assert fold_table(("123", "xyz")) == ("", "")
    assert fold_table(None) == fold_table(("méx",))  # not folded: the whole table
    accented, plain = fold_table(None)
    assert len(accented) == len(plain) == 48


def test_a_column_folded_for_a_text_matches_it_exactly_when_folded_whole():
    """Folding letter by letter: equal and containing agree with the whole table, for every
    piece of every column and for texts that are none."""
    for needle in _needles():
        accented, plain = fold_table((needle,))
        table = str.maketrans(accented, plain)
        for column in COLUMNS:
            whole, narrowed = column_fold(column), column.lower().translate(table)
            assert (needle in narrowed) == (needle in whole), (needle, column)
            assert (narrowed == needle) == (whole == needle), (needle, column)


@pytest.mark.django_db
def test_the_database_finds_the_same_rows_with_the_narrowed_fold():
    """On PostgreSQL (TRANSLATE over only the letters needed) as on SQLite (Python's fold): the
    rows whose folded text contains or equals each text, the same as with the whole table."""
    from django.db.models import Q
    from django.db.models.lookups import Contains, Exact, In

    from crm.core.models import User

    for number, city in enumerate(COLUMNS):
        User.objects.create(username=f"fold{number}", first_name=city)

    def cities(condition) -> list[str]:
        rows = User.objects.filter(username__startswith="fold").filter(condition)
        return sorted(rows.values_list("first_name", flat=True))

    for needle in ("mex", "mexico", "queretaro", "leon", "sebastian", "coruna", "sao", "zzz"):
        whole = Folded("first_name")
        narrowed = Folded("first_name", compared_with=(needle,))
        assert cities(Q(Contains(narrowed, needle))) == cities(Q(Contains(whole, needle)))
        assert cities(Q(Exact(narrowed, needle))) == cities(Q(Exact(whole, needle)))
    mex = Folded("first_name", compared_with=("mex",))
    assert cities(Q(Contains(mex, "mex"))) == sorted(["Ciudad de México", "MÉXICO", "Mexicali"])
    listed = ["leon", "nunoa", "madrid"]
    narrowed = Folded("first_name", compared_with=tuple(listed))
    assert cities(Q(In(narrowed, listed))) == ["León", "Ñuñoa"]
