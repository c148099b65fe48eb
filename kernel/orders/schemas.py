"""What checkout accepts from a shopper (forms and JSON), validated with colander."""

import re

import colander

COUNTRY = re.compile(r"^[A-Z]{2}$")


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
    if not COUNTRY.match(value):
        raise colander.Invalid(node, "Use the two-letter country code, like FR or US.")


class AddressSchema(colander.MappingSchema):
    def __init__(self, *args, **kw):
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
                preparer=lambda v: _strip(v).upper() if isinstance(v, str) else v,
                validator=_country,
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
