"""The refund form's values read into a refund.

Staff either name the parts to refund — units of each line, the shipping — and get what
the customer paid for them (``mercato.refund_amount_for``: price, the tax added on it,
its share of the discounts), which they may lower with a reason; or name an amount
alone (a goodwill gesture). "Put the refunded units back in stock" restocks exactly the
units refunded; the per-line "back in stock" fields restock units on their own, as for
a refund by amount. Every message is keyed by the form field it belongs to.
"""

from dataclasses import dataclass, field

from mercato import Money, Order, OrderError, refund_amount_for

from .schemas import PER_ORDER_FIELD, refund_field, restock_field


class RefundFormError(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass
class Parts:
    """What the form names: refunded units by SKU, the shipping, and what they cost."""

    units: dict[str, int] = field(default_factory=dict)
    shipping: bool = False
    computed: Money | None = None  # None: nothing named, a refund by amount


def foreign_fields(posted, form_fields, per_order=PER_ORDER_FIELD) -> list[str]:
    """Per-line (or shipping) fields posted that this order's form does not have:
    names matching ``per_order`` that are not among ``form_fields``."""
    return sorted(name for name in posted if per_order.match(name) and name not in form_fields)


def parts_of(order: Order, values: dict) -> Parts:
    """The units and shipping named, and what they come to; ``RefundFormError`` for
    more units than a line sold (the kernel's message, next to that line)."""
    parts = Parts(shipping=bool(values.get("shipping")))
    errors = {}
    for line in order.lines:
        units = values[refund_field(line)]
        if not units:
            continue
        try:
            refund_amount_for(order, {line.sku: units})
        except OrderError as exc:
            errors[refund_field(line)] = str(exc)
        parts.units[line.sku] = parts.units.get(line.sku, 0) + units
    if errors:
        raise RefundFormError(errors)
    if parts.units or parts.shipping:
        parts.computed = refund_amount_for(order, parts.units, shipping=parts.shipping)
    return parts


def amount_of(order: Order, values: dict, parts: Parts) -> Money:
    """The amount to refund: the computed one unless lowered (with a reason), or the
    amount typed for a refund by amount."""
    typed, computed = values["amount"], parts.computed
    if not typed:
        if computed is None:
            raise RefundFormError(
                {"amount": "Enter the amount to refund, such as 12.50, or choose what to refund."}
            )
        return computed
    try:
        amount = Money.parse(typed, order.currency)
    except ValueError:
        raise RefundFormError(
            {"amount": f"Write the amount in {order.currency}, such as 12.50."}
        ) from None
    if computed is not None and amount > computed:
        raise RefundFormError(
            {
                "amount": f"What you chose comes to {computed.format()}: "
                f"refund that or less, not {amount.format()}."
            }
        )
    if computed is not None and amount < computed and not values["reason"]:
        raise RefundFormError({"reason": f"Say why the refund is less than {computed.format()}."})
    return amount


def restock_of(order: Order, values: dict, parts: Parts) -> dict[str, int]:
    """``{sku: units}`` to put back in stock."""
    by_line: dict[str, int] = {}
    for line in order.lines:
        if units := values[restock_field(line)]:
            by_line[line.sku] = by_line.get(line.sku, 0) + units
    if not values["restock"]:
        return by_line
    if by_line:
        raise RefundFormError(
            {
                "restock": 'Either tick "Put the refunded units back in stock" or give the '
                "units back in stock per line, not both."
            }
        )
    if not parts.units:
        raise RefundFormError({"restock": "Choose the units to refund: those go back in stock."})
    return dict(parts.units)
