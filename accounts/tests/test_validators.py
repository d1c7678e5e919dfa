import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.tests.factories import mexican_rfc
from accounts.validators import normalize_tax_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GODE561231GR8", "GODE561231GR8"),  # a person: 4 letters, 13 characters
        ("MAB9307148T4", "MAB9307148T4"),  # a company: 3 letters, 12 characters
        ("gode561231gr8", "GODE561231GR8"),
        (" MAB-930714-8T4 ", "MAB9307148T4"),
        ("MAB 930714 8T4", "MAB9307148T4"),
    ],
)
def test_mexican_rfc_with_a_right_check_digit_is_kept_compact_and_upper_case(raw, expected):
    assert normalize_tax_id(raw, "MX") == expected


def test_the_factory_generates_rfcs_that_validate():
    for _ in range(50):
        assert normalize_tax_id(mexican_rfc(), "MX")
        assert normalize_tax_id(mexican_rfc(person=True), "MX")


@pytest.mark.parametrize("raw", ["GODE561231GR9", "MAB9307148T5"])
def test_mexican_rfc_with_a_wrong_check_digit_is_rejected(raw):
    with pytest.raises(ValidationError) as exc_info:
        normalize_tax_id(raw, "MX")
    assert exc_info.value.code == "tax_id_checksum"
    assert raw in exc_info.value.messages[0]


@pytest.mark.parametrize("raw", ["MAB930714", "GODE561231GR8X", "MAB9307148T", "ABC"])
def test_mexican_rfc_of_a_wrong_length_is_rejected(raw):
    with pytest.raises(ValidationError) as exc_info:
        normalize_tax_id(raw, "MX")
    assert exc_info.value.code == "tax_id_length"


def test_mexican_rfc_without_homoclave_is_rejected():
    """A person's RFC has 13 characters (validators.py's rule); the first 10 alone carry no check
    digit and cannot be invoiced to."""
    with pytest.raises(ValidationError):
        normalize_tax_id("GODE561231", "MX")


@pytest.mark.parametrize("raw", ["GODE561331GR8", "1ODE561231GR8"])
def test_mexican_rfc_with_a_wrong_date_or_letters_is_rejected(raw):
    with pytest.raises(ValidationError) as exc_info:
        normalize_tax_id(raw, "MX")
    assert exc_info.value.code == "tax_id"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678Z", "12345678Z"),  # NIF of a person (DNI)
        ("12345678-z", "12345678Z"),
        ("B58378431", "B58378431"),  # CIF of a company
        ("X1234567L", "X1234567L"),  # NIE of a foreigner
    ],
)
def test_spanish_nif_cif_and_nie_with_right_control_characters(raw, expected):
    assert normalize_tax_id(raw, "ES") == expected


@pytest.mark.parametrize("raw", ["12345678A", "B58378432", "X1234567A"])
def test_spanish_ids_with_a_wrong_control_character_are_rejected(raw):
    with pytest.raises(ValidationError) as exc_info:
        normalize_tax_id(raw, "ES")
    assert exc_info.value.code == "tax_id_checksum"


def test_spanish_id_of_a_wrong_length_is_rejected():
    with pytest.raises(ValidationError) as exc_info:
        normalize_tax_id("1234", "ES")
    assert exc_info.value.code == "tax_id_length"


def test_a_valid_id_of_one_country_is_rejected_in_another():
    with pytest.raises(ValidationError):
        normalize_tax_id("12345678Z", "MX")
    with pytest.raises(ValidationError):
        normalize_tax_id("MAB9307148T4", "ES")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("20-12345678-9", "AR", "20123456789"),
        ("76.086.428-5", "CL", "760864285"),
        ("abc 123", "US", "ABC123"),
        ("lo que sea", "ZZ", "LOQUESEA"),
    ],
)
def test_other_countries_keep_what_was_typed_upper_case_without_separators(raw, country, expected):
    assert normalize_tax_id(raw, country) == expected


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_no_tax_id_is_allowed(raw):
    assert normalize_tax_id(raw, "MX") == ""
    assert normalize_tax_id(raw, "ES") == ""


def test_error_messages_are_in_spanish_and_name_the_country():
    with translation.override("es"):
        with pytest.raises(ValidationError) as checksum:
            normalize_tax_id("GODE561231GR9", "MX")
        with pytest.raises(ValidationError) as length:
            normalize_tax_id("1234", "ES")
    assert "dígito verificador" in checksum.value.messages[0]
    assert "longitud" in length.value.messages[0]
    assert "España" in length.value.messages[0]
