"""What the JSON API accepts besides the checkout's own schemas, validated with colander."""

import colander


class BadBody(Exception):
    """The request does not describe what it asks for: a 400 naming ``field``."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


class Count(colander.Int):
    """A number of units, sent as a JSON whole number: ``true``, ``1.5`` or ``"2"``
    are refused rather than read as 1, 1 and 2."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if isinstance(cstruct, bool) or not isinstance(cstruct, int):
            raise colander.Invalid(node, f"{cstruct!r} is not a whole number of units.")
        return cstruct


def sku_quantities(purpose: str, verb: str) -> colander.SchemaNode:
    """``[{"sku": "TEE", "quantity": 1}, …]``, its messages naming the ``purpose`` ("to
    refund") and the ``verb`` ("Refund")."""
    line = colander.SchemaNode(colander.Mapping(), name="line")
    line.add(
        colander.SchemaNode(
            colander.String(),
            name="sku",
            validator=colander.Length(min=1, max=64),
            missing_msg=f"Give the sku of each line {purpose}.",
        )
    )
    line.add(
        colander.SchemaNode(
            Count(),
            name="quantity",
            validator=colander.Range(min=1, min_err=f"{verb} at least 1, or leave the line out."),
            missing_msg=f"Give the quantity of each line {purpose}.",
        )
    )
    return colander.SchemaNode(colander.Sequence(), line)


def quantities(value, field: str, purpose: str, verb: str) -> dict[str, int]:
    """``[{"sku", "quantity"}]`` → ``{sku: quantity}`` (a SKU named twice, added up);
    ``BadBody`` naming ``field`` for anything else."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise BadBody(f'Send "{field}" as a list of {{"sku": …, "quantity": …}}.', field)
    try:
        lines = sku_quantities(purpose, verb).deserialize(value)
    except colander.Invalid as exc:
        raise BadBody(" ".join(dict.fromkeys(exc.asdict().values())), field) from None
    counted: dict[str, int] = {}
    for line in lines:
        counted[line["sku"]] = counted.get(line["sku"], 0) + line["quantity"]
    return counted
