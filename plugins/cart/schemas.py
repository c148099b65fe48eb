"""Colander schemas: the cart's settings and what shoppers send."""

import functools

import colander

SKU_MAX_LENGTH = 64


class Settings(colander.MappingSchema):
    """``mercato.cart.*``"""

    idle_days = colander.SchemaNode(
        colander.Int(),
        missing=30,
        validator=colander.Range(min=1, max=3650),
        description="a cart not changed for this many days expires (Redis TTL, backups)",
    )
    max_per_line = colander.SchemaNode(
        colander.Int(),
        missing=99,
        validator=colander.Range(min=1, max=1_000_000),
        description="the most units of one item a cart may hold",
    )
    catalog_cache_seconds = colander.SchemaNode(
        colander.Float(),
        missing=60.0,
        validator=colander.Range(min=0, max=3600),
        description=(
            "how long a process keeps the price, stock and name the catalog gave for a SKU "
            "to answer adds and quantity changes (0: ask every time); a product changed "
            "and stock taken or put back by any process of the shop are forgotten at "
            "once, the cart page and checkout always ask"
        ),
    )
    max_lines = colander.SchemaNode(
        colander.Int(),
        missing=100,
        validator=colander.Range(min=1, max=1000),
        description="the most different items a cart may hold",
    )


class WholeNumber(colander.SchemaType):
    """An integer from a form field (``"3"``) or JSON (``3``); never ``2.5`` or ``true``,
    which ``colander.Int`` would quietly turn into 2 and 1."""

    def serialize(self, node, appstruct):
        return colander.null if appstruct is colander.null else str(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct == "":
            return colander.null
        if isinstance(cstruct, int) and not isinstance(cstruct, bool):
            return cstruct
        if isinstance(cstruct, str) and cstruct.strip().isascii() and cstruct.strip().isdigit():
            return int(cstruct.strip())
        raise colander.Invalid(node, "Quantity must be a whole number, like 1 or 2.")


class Sku(colander.SchemaType):
    """A product code: text, or a number a JSON client sent for an all-digit SKU."""

    def serialize(self, node, appstruct):
        return appstruct

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if isinstance(cstruct, int) and not isinstance(cstruct, bool):
            return str(cstruct)
        if isinstance(cstruct, str):
            return cstruct.strip() or colander.null
        raise colander.Invalid(node, 'The SKU must be text, like "MUG-BLUE".')


@colander.deferred
def _quantity_range(node, kw):
    low, high = kw["min_quantity"], kw["max_per_line"]
    return colander.Range(
        min=low,
        max=high,
        min_err=f"Quantity must be at least {low}.",
        max_err=f"You can have at most {high} of one item in your cart.",
    )


class LineSchema(colander.MappingSchema):
    """A SKU and a quantity, bound with ``min_quantity`` and ``max_per_line``."""

    sku = colander.SchemaNode(
        Sku(),
        validator=colander.Length(
            min=1,
            max=SKU_MAX_LENGTH,
            min_err="Choose a product (its SKU is missing).",
            max_err="That product code is too long.",
        ),
        missing_msg="Choose a product (its SKU is missing).",
    )
    quantity = colander.SchemaNode(
        WholeNumber(),
        validator=_quantity_range,
        missing_msg="Enter a quantity.",
    )


@functools.cache
def _line_schema(min_quantity: int, max_per_line: int) -> LineSchema:
    # Binding clones the schema: worth doing once per setting, not once per request.
    return LineSchema().bind(min_quantity=min_quantity, max_per_line=max_per_line)


def validate_line(data, *, min_quantity: int, max_per_line: int, default_quantity=None):
    """``(sku, quantity)`` from the mapping ``data``, or ``colander.Invalid``."""
    data = dict(data)
    if default_quantity is not None and data.get("quantity") in (None, ""):
        data["quantity"] = default_quantity
    appstruct = _line_schema(min_quantity, max_per_line).deserialize(data)
    return appstruct["sku"], appstruct["quantity"]


def validate_sku(value) -> str:
    """A SKU on its own (to remove a line), or ``colander.Invalid``."""
    return LineSchema()["sku"].deserialize(value)


def first_message(exc: colander.Invalid) -> str:
    """The first field's message: one sentence a shopper can act on."""
    messages = exc.asdict()
    return next(iter(messages.values())) if messages else "Please check what you sent."
