"""Countries and their regions (ISO 3166, from pycountry): what an address may name,
and the names a shopper reads instead of codes."""

from functools import cache

import pycountry
from markupsafe import Markup

# Countries whose postal addresses name a state or province: their shoppers must give one.
REGION_REQUIRED = frozenset({"US", "CA", "AU"})


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """``(code, name)`` of every country, sorted by name, for a choice list."""
    return tuple(sorted(((c.alpha_2, _name(c)) for c in pycountry.countries), key=lambda cn: cn[1]))


@cache
def regions(country: str) -> tuple[tuple[str, str], ...]:
    """``(code, name)`` of the first-level regions of ``country`` (``("NY", "New
    York")``), sorted by name; empty when ISO 3166-2 lists none."""
    found = pycountry.subdivisions.get(country_code=country) or ()
    return tuple(
        sorted(
            ((s.code.split("-", 1)[1], s.name) for s in found if s.parent_code is None),
            key=lambda cn: cn[1],
        )
    )


def country_options(chosen: str = "") -> Markup:
    """The ``<option>``s of a country list, ``chosen`` selected (none for a code that
    is no country): built once per country, not looped over by a template on every
    view (about 250 options; an address page has two lists)."""
    return _country_options(chosen if chosen in _codes() else "")


@cache
def _country_options(chosen: str) -> Markup:
    option = Markup('<option value="{}"{}>{}</option>')
    selected = Markup(" selected")
    return Markup("").join(
        option.format(code, selected if code == chosen else "", name) for code, name in countries()
    )


@cache
def _codes() -> frozenset[str]:
    return frozenset(code for code, _ in countries())


def country_name(code: str) -> str:
    """The country's common name (``"Germany"``), or the code when it is unknown."""
    return dict(countries()).get(code, code)


def region_name(country: str, region: str) -> str:
    return dict(regions(country)).get(region, region)


def _name(country) -> str:
    return getattr(country, "common_name", None) or country.name
