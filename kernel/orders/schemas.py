"""What checkout accepts from a shopper (forms and JSON), validated with colander."""

import re

import colander

from ..places import REGION_REQUIRED, countries, country_name, regions

VAT_NUMBER = re.compile(r"^[A-Z]{2}[A-Z0-9+*]{2,13}$")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _text(name: str, title: str, max_len: int, *, required: bool = True):
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=_strip,
        validator=colander.Length(min=1 if required else 0, max=max_len),
        missing=colander.required if required else "",
    )


def _country(node, value):
    if value not in dict(countries()):
        raise colander.Invalid(node, "Choose a country from the list.")


def _upper(value):
    return _strip(value).upper() if isinstance(value, str) else value


def _region_of_country(node, address):
    """A state for the countries whose addresses need one, and only a real one."""
    country, region = address["country"], address["region"]
    if country in REGION_REQUIRED and not region:
        exc = colander.Invalid(node)
        exc["region"] = f"Choose the state or province in {country_name(country)}."
        raise exc
    if region and regions(country) and region not in dict(regions(country)):
        exc = colander.Invalid(node)
        exc["region"] = f"Choose a state or province of {country_name(country)} from the list."
        raise exc


def _vat_number(value):
    """``"fr 40 303 265 045"`` → ``"FR40303265045"``: how VAT numbers are compared."""
    return re.sub(r"[\s.\-]", "", value).upper() if isinstance(value, str) else value


class AddressSchema(colander.MappingSchema):
    def __init__(self, *args, **kw):
        kw.setdefault("validator", _region_of_country)
        super().__init__(*args, **kw)
        self.add(_text("name", "Full name", 100))
        self.add(_text("line1", "Address", 200))
        self.add(_text("line2", "Address (line 2)", 200, required=False))
        self.add(_text("postal_code", "Postal code", 20))
        self.add(_text("city", "City", 100))
        self.add(
            colander.SchemaNode(
                colander.String(),
                name="country",
                title="Country",
                preparer=_upper,
                validator=_country,
            )
        )
        self.add(
            colander.SchemaNode(
                colander.String(),
                name="region",
                title="State or province",
                preparer=_upper,
                validator=colander.Length(max=3),
                missing="",
            )
        )
        self.add(_text("phone", "Phone", 30, required=False))


class CheckoutAddressSchema(colander.MappingSchema):
    email = colander.SchemaNode(
        colander.String(),
        title="Email",
        preparer=_strip,
        validator=colander.All(
            colander.Length(max=254), colander.Email(msg="Enter an email address like a@b.com.")
        ),
    )
    shipping = AddressSchema()
    billing = AddressSchema(missing=None)
    vat_number = colander.SchemaNode(
        colander.String(),
        title="VAT number",
        preparer=_vat_number,
        validator=colander.Regex(VAT_NUMBER, msg="Enter a VAT number like DE123456789."),
        missing="",
    )
