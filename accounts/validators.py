"""Tax identifiers by country, validated by their check digits (python-stdnum)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.es import nif as es_nif
from stdnum.mx import rfc as mx_rfc


def normalize_tax_id(value: str, country: str) -> str:
    """The tax id in its compact form, validated for `country`; ValidationError if it is wrong.

    Mexico: RFC of a company (12 characters) or a person (13), with its check digit.
    Spain: NIF (DNI), NIE or CIF, with their control characters. Other countries are kept as
    typed (upper-case, without spaces or dashes).
    """
    value = (value or "").strip()
    if not value:
        return ""
    try:
        if country == "MX":
            # stdnum also accepts a person's RFC without homoclave (10 characters); we do not,
            # as it has no check digit: a company's RFC has 12 characters, a person's 13.
            if len(mx_rfc.compact(value)) not in (12, 13):
                raise stdnum_errors.InvalidLength()
            return mx_rfc.validate(value, validate_check_digits=True)
        if country == "ES":
            # stdnum's NIF covers the three forms: DNI-based NIF, NIE (X/Y/Z…) and CIF.
            return es_nif.validate(value)
    except stdnum_errors.InvalidLength as exc:
        raise ValidationError(
            _("«%(value)s» no tiene la longitud de un identificador fiscal de %(country)s."),
            code="tax_id_length",
            params={"value": value, "country": _country_name(country)},
        ) from exc
    except stdnum_errors.InvalidChecksum as exc:
        raise ValidationError(
            _("El dígito verificador de «%(value)s» no es correcto."),
            code="tax_id_checksum",
            params={"value": value},
        ) from exc
    except stdnum_errors.ValidationError as exc:
        raise ValidationError(
            _("«%(value)s» no es un identificador fiscal válido de %(country)s."),
            code="tax_id",
            params={"value": value, "country": _country_name(country)},
        ) from exc
    return "".join(ch for ch in value.upper() if ch.isalnum())


def _country_name(code: str) -> str:
    return {"MX": _("México (RFC)"), "ES": _("España (NIF/NIE/CIF)")}.get(code, code)
