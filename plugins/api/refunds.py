"""A staff refund's JSON body read into what ``mercato.refund_order`` takes.

Two ways to say how much:

- by parts: ``"lines": [{"sku": "TEE", "quantity": 1}]`` and/or ``"shipping": true``.
  The amount is what the customer paid for them (``mercato.refund_amount_for``: the
  price, the tax added on it and its share of the discounts; the shipping and its tax).
  An ``"amount"`` may lower it, never raise it, and lowering it needs a ``"reason"``.
- by amount: ``"amount": "12.50"`` alone, as before.

``"restock"`` says what goes back in stock: a list of ``{"sku", "quantity"}``, or
``false`` (the default) for nothing; ``true`` is every unit not back yet for a refund by
amount, and exactly the refunded lines' units for a refund by parts.
"""

from dataclasses import dataclass

from mercato import Money, Order, OrderError, refund_amount_for

from .schemas import BadBody, quantities


@dataclass
class RefundRequest:
    amount: Money
    reason: str
    restock: bool | dict[str, int]
    units: dict[str, int]  # by parts: the refunded units of each SKU
    shipping: bool


def read_refund(order: Order, body: dict) -> RefundRequest:
    reason = str(body.get("reason", ""))[:500]
    units = quantities(body.get("lines"), "lines", "to refund", "Refund")
    shipping = body.get("shipping", False)
    if not isinstance(shipping, bool):
        raise BadBody('Send "shipping": true or false.', "shipping")
    if shipping and not order.shipping_method:
        raise BadBody(f"Order {order.number} has no shipping to refund.", "shipping")
    amount = _amount(body.get("amount"), order.currency)

    if units or shipping:
        try:
            computed = refund_amount_for(order, units, shipping=shipping)
        except OrderError as exc:
            raise BadBody(str(exc), "lines") from None
        if amount is None:
            amount = computed
        elif amount > computed:
            raise BadBody(
                f"Cannot refund {amount.format()}: what you named comes to {computed.format()}.",
                "amount",
            )
        elif amount < computed and not reason.strip():
            raise BadBody(
                f'Say why the refund is less than {computed.format()}: send a "reason".',
                "reason",
            )
    elif amount is None:
        raise BadBody(
            'Send {"amount": "12.50"} in the order\'s currency, or the "lines" to refund.',
            "amount",
        )
    restock = _restock(body.get("restock", False), units, by_parts=bool(units) or shipping)
    return RefundRequest(amount, reason, restock, units, shipping)


def _amount(value, currency: str) -> Money | None:
    if value is None:
        return None
    try:
        return Money.parse(str(value), currency)
    except ValueError:
        raise BadBody('Send {"amount": "12.50"} in the order\'s currency.', "amount") from None


def _restock(value, units: dict[str, int], *, by_parts: bool) -> bool | dict[str, int]:
    if value is True and by_parts:
        return dict(units)
    if isinstance(value, bool):
        return value
    if not isinstance(value, list):
        raise BadBody(
            'Send "restock": true, false or a list of {"sku": …, "quantity": …}.', "restock"
        )
    return quantities(value, "restock", "to put back in stock", "Put back")
