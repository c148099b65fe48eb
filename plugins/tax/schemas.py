"""Colander schemas: the plugin's settings, and a rate as staff type it (the admin's
form and each row of a CSV import are read by the same ``read_rate``)."""

import re
from decimal import Decimal

import colander

from mercato import countries, no_control_characters, regions, strip_whitespace

from .models import CLASS_LENGTH, NAME_LENGTH, percent_text

CLASS_RE = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{CLASS_LENGTH - 1}}}\Z")  # colander: re.match
# Percent with up to four decimals (a fraction with six): "19", "5.5", "6.875 %", "7,25".
PERCENT_RE = re.compile(r"(\d{1,3})(?:[.,](\d{1,4}))?\s*%?")


def _country_code(node, value):
    if len(value) != 2 or value not in dict(countries()):
        raise colander.Invalid(node, "Choose a country from the list (an ISO code such as DE).")


class Settings(colander.MappingSchema):
    """``mercato.tax.*``"""

    prices_include_tax = colander.SchemaNode(
        colander.Boolean(
            false_choices=("false", "no", "off", "0"), true_choices=("true", "yes", "on", "1")
        ),
        missing=True,
        description="prices are entered including tax (the EU way); false: excluding (the US way)",
    )
    home_country = colander.SchemaNode(
        colander.String(),
        missing="DE",
        preparer=lambda value: value.strip().upper() if isinstance(value, str) else value,
        validator=_country_code,
        description="the shop's own country: its VAT is in the prices and removed for exports",
    )


class Percent(colander.SchemaType):
    """A rate typed in percent (``"5.5"``) → the fraction (``Decimal("0.055")``)."""

    def serialize(self, node, appstruct):
        return colander.null if appstruct is colander.null else percent_text(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        text = cstruct.strip() if isinstance(cstruct, str) else ""
        if text.startswith("-"):
            raise colander.Invalid(node, "A rate cannot be negative.")
        match = PERCENT_RE.fullmatch(text)
        if match is None:
            raise colander.Invalid(node, "Write the rate in percent, such as 19 or 5.5.")
        whole, decimals = match.groups()
        percent = Decimal(f"{whole}.{decimals or 0}")
        if percent > 100:
            raise colander.Invalid(node, "A rate must be between 0 and 100 percent.")
        return percent / 100


def _plain_text(node, value):
    no_control_characters(node, value)
    if "<" in value or ">" in value:
        raise colander.Invalid(node, "Use plain text, without < or >.")
    # A spreadsheet opening the export would run a cell starting so as a formula.
    if value[:1] in ("=", "+", "-", "@"):
        raise colander.Invalid(node, "Start the name with a letter or a digit.")


def _upper(value):
    value = strip_whitespace(value)
    return value.upper() if isinstance(value, str) else value


def _lower(value):
    value = strip_whitespace(value)
    return value.lower() if isinstance(value, str) else value


class RateForm(colander.MappingSchema):
    country = colander.SchemaNode(
        colander.String(),
        preparer=_upper,
        validator=_country_code,
        missing_msg="Choose a country.",
    )
    region = colander.SchemaNode(colander.String(), preparer=_upper, missing="")
    tax_class = colander.SchemaNode(
        colander.String(),
        preparer=_lower,
        missing="standard",
        validator=colander.Regex(
            CLASS_RE,
            f"Use up to {CLASS_LENGTH} lowercase letters, digits, dashes or underscores, "
            "such as standard or reduced.",
        ),
    )
    rate = colander.SchemaNode(Percent(), missing_msg="Enter the rate in percent, such as 19.")
    name = colander.SchemaNode(
        colander.String(),
        preparer=strip_whitespace,
        validator=colander.All(colander.Length(max=NAME_LENGTH), _plain_text),
        missing_msg="Enter the name shoppers read, such as VAT or Sales tax NY.",
    )


RATE_FORM = RateForm()


def read_rate(data) -> tuple[dict | None, dict[str, str]]:
    """``(values, {})`` for a rate from a form post or a CSV row, else ``(None,
    {field: message})``. The region must be one of the country's (ISO 3166-2, the part
    after the dash: ``NY`` for US-NY), or empty for the whole country."""
    cstruct = {}
    for node in RATE_FORM.children:
        value = data.get(node.name)
        cstruct[node.name] = value if isinstance(value, str) and value.strip() else colander.null
    try:
        values = RATE_FORM.deserialize(cstruct)
    except colander.Invalid as exc:
        return None, exc.asdict()
    region = values["region"].removeprefix(values["country"] + "-")
    if region and region not in dict(regions(values["country"])):
        return None, {
            "region": f"{region[:10]} is not a region of {values['country']}: "
            "leave it empty for the whole country, or use a code such as NY for US-NY."
        }
    values["region"] = region
    return values, {}
