"""A stand-in plugin (enabled by dotted name) that hears what happens to orders after
the sale, as an ERP or a warehouse plugin would: ``HEARD`` keeps, in order, what each
call saw of the order at that moment (inside the transaction that makes the change)."""

from mercato import hookimpl

HEARD: list[dict] = []


@hookimpl
def mercato_order_changed(order, change):
    HEARD.append(
        {
            "hook": "mercato_order_changed",
            "number": order.number,
            "kind": change["kind"],
            "lines": dict(change["lines"]),
            "refund": change["refund"].amount,
            "cancelled": {line.sku: line.quantity_cancelled for line in order.lines},
        }
    )


@hookimpl
def mercato_order_refunded(order, refund):
    HEARD.append(
        {
            "hook": "mercato_order_refunded",
            "number": order.number,
            "refund": refund.amount,
            "amount_refunded": order.amount_refunded,
        }
    )
