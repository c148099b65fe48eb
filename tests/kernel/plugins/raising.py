"""A plugin whose price adjustment breaks, to see the error name it."""

from mercato import hookimpl


@hookimpl
def mercato_price_adjustments(lines, context):
    raise RuntimeError("tax table missing")
