"""The checkout's address form: what it posts, what the kernel takes, and back.

The form works without JavaScript. The country is a list of names; the state or
province is one list grouped by country (the countries whose addresses need one), each
option's value prefixed with its country ("US-WA", "AU-WA"): the prefix tells a state
of the chosen country from one of another, and the kernel gets the bare code ("WA").
"""

from functools import cache

import colander
from markupsafe import Markup

from mercato import countries, regions

ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "country", "region", "phone")
BILLING = "billing_"

# The countries whose addresses the kernel requires a state or province for
# (``set_checkout_address`` refuses a US, Canadian or Australian address without one).
REGION_COUNTRIES = ("US", "CA", "AU")


def region_groups() -> list[tuple[str, str, tuple]]:
    """``(country code, country name, ((region code, name), …))`` for the region list."""
    names = dict(countries())
    return [(code, names[code], regions(code)) for code in REGION_COUNTRIES]


def region_options(chosen: str = "") -> Markup:
    """The region list's ``<optgroup>``s, the option ``chosen`` ("US-NY") selected:
    built once per choice, not looped over by the template on every view."""
    return _region_options(chosen if chosen in _region_values() else "")


@cache
def _region_options(chosen: str) -> Markup:
    option = Markup('<option value="{}"{}>{}</option>')
    group = Markup('<optgroup label="{}" data-country="{}">{}</optgroup>')
    selected = Markup(" selected")
    return Markup("\n").join(
        group.format(
            label,
            country,
            Markup("").join(
                option.format(value, selected if value == chosen else "", name)
                for value, name in _values(country, found)
            ),
        )
        for country, label, found in region_groups()
    )


@cache
def _region_values() -> frozenset[str]:
    return frozenset(
        value for country, _, found in region_groups() for value, _ in _values(country, found)
    )


def _values(country: str, found) -> list[tuple[str, str]]:
    """``("US-NY", "New York")``: the form's value for each of ``country``'s regions."""
    return [(f"{country}-{code}", name) for code, name in found]


def _region_for(country: str, chosen: str) -> str:
    """The kernel's region code for the form's choice: "US-NY" → "NY" when the country
    is the United States, "" when the state chosen is another country's. A bare code
    (a form of the shop's own) goes to the kernel as it is, to be validated there."""
    prefix, dash, code = chosen.partition("-")
    if not dash:
        return chosen
    return code if prefix == country.strip().upper() else ""


def address_from_form(params, prefix: str = "") -> dict:
    """The address the form posted (``billing_…`` fields with ``prefix="billing_"``)."""
    address = {name: params.get(prefix + name, "") for name in ADDRESS_FIELDS}
    address["region"] = _region_for(address["country"], address["region"])
    return address


def form_values(address: dict | None, prefix: str = "") -> dict:
    """The form's fields for an address the kernel kept (its region code prefixed)."""
    if not address:
        return {}
    values = {prefix + name: address.get(name, "") or "" for name in ADDRESS_FIELDS}
    if address.get("region"):
        values[prefix + "region"] = f"{address['country']}-{address['region']}"
    return values


def saved_address(address) -> dict:
    """A customer's saved ``mercato.Address`` as the kernel's checkout address. The
    account pages keep the region as typed ("New York" or "NY"): it becomes the code
    when it names one of the country's regions, else it is left for the shopper."""
    fields = address.as_dict()
    typed = fields["region"].strip().casefold()
    fields["region"] = next(
        (
            code
            for code, name in regions(fields["country"])
            if typed in (code.casefold(), name.casefold())
        ),
        "",
    )
    return {name: fields[name] for name in ADDRESS_FIELDS}


def form_errors(exc: colander.Invalid) -> dict[str, str]:
    """``{"shipping.city": …, "billing.city": …}`` → the form's ``city``, ``billing_city``."""
    errors = {}
    for key, message in exc.asdict().items():
        section, _, field = key.partition(".")
        if section == "billing":
            errors[BILLING + field] = message
        elif section == "shipping":
            errors[field] = message
        else:
            errors[key] = message
    return errors
