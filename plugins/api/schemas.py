"""What the JSON API accepts besides the checkout's own schemas, validated with colander."""

import colander


class RestockLine(colander.MappingSchema):
    sku = colander.SchemaNode(
        colander.String(),
        validator=colander.Length(min=1, max=64),
        missing_msg="Give the sku of each line to put back in stock.",
    )
    quantity = colander.SchemaNode(
        colander.Int(),
        validator=colander.Range(min=1, min_err="Put back at least 1, or leave the line out."),
        missing_msg="Give the quantity of each line to put back in stock.",
    )


class RestockLines(colander.SequenceSchema):
    """A staff refund's ``"restock": [{"sku": "TEE", "quantity": 1}]``."""

    line = RestockLine()
