"""The EU member states and the format of their VAT numbers.

Only the format is checked (prefix, length, digits), as VAT numbers are written on
invoices; whether the number is registered is VIES's to say, and a shop that must be
sure checks it there before shipping without VAT.
"""

import re

# What follows the prefix of each member state's VAT numbers (the VIES formats).
_FORMATS = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "GR": r"\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-WY][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
}
MEMBER_STATES = frozenset(_FORMATS)

# A VAT number starts with its state's ISO code, except Greece's: "EL", not "GR".
_PREFIXES = {"EL" if country == "GR" else country: country for country in MEMBER_STATES}
_PATTERNS = {country: re.compile(f"(?:{body})") for country, body in _FORMATS.items()}


def vat_number_country(vat_number: str) -> str | None:
    """The member state (ISO code: ``GR`` for ``EL…``) whose format ``vat_number`` has
    (upper case, no spaces, as checkout keeps it); ``None`` for anything else."""
    country = _PREFIXES.get(vat_number[:2])
    if country is None or not _PATTERNS[country].fullmatch(vat_number[2:]):
        return None
    return country
