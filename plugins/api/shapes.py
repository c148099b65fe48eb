"""The JSON the API answers with: money as ``{"amount": minor units, "currency"}``,
tax rates as decimal strings (``"0.19"``), never floats."""

from collections.abc import Iterable

from sqlalchemy import select

from mercato import Order, Refund, storefront_url


def line_json(line) -> dict:
    return {
        "sku": line.sku,
        "name": line.name or line.sku,
        "quantity": line.quantity,
        "unit_price": line.unit_price.to_json(),
        "total": line.total.to_json(),
    }


def order_line_json(line) -> dict:
    """An order's line and what became of its units since the sale."""
    return {
        **line_json(line),
        "quantity_shipped": line.quantity_shipped,
        "quantity_cancelled": line.quantity_cancelled,
        "quantity_refunded": line.quantity_refunded,
        "quantity_restocked": line.quantity_restocked,
        "quantity_to_ship": line.quantity_to_ship,
    }


def refunds_by_order(dbsession, orders: Iterable[Order]) -> dict[int, list[Refund]]:
    """The refunds of ``orders`` in one query, oldest first: ``{order id: [Refund]}``."""
    found: dict[int, list[Refund]] = {order.id: [] for order in orders}
    if found:
        rows = dbsession.scalars(
            select(Refund).where(Refund.order_id.in_(found)).order_by(Refund.id)
        )
        for refund in rows:
            found[refund.order_id].append(refund)
    return found


def refund_json(order: Order, refund: Refund, staff: bool) -> dict:
    """A refund as its customer sees it (the money back, when), with its status, reason
    and author for staff."""
    shown = {
        "id": refund.id,
        "amount": order.money(refund.amount).to_json(),
        "created_at": refund.created_at.isoformat() if refund.created_at else None,
    }
    if staff:
        shown.update(status=refund.status, reason=refund.reason, actor=refund.actor)
    return shown


def option_json(option) -> dict:
    """A ``ShippingOption``: its price is before tax."""
    return {
        "code": option.code,
        "name": option.name,
        "price": option.price.to_json(),
        "estimate": option.estimate,
    }


def tax_json(name: str, rate, amount, included: bool, target: str) -> dict:
    return {
        "name": name,
        "rate": str(rate),
        "amount": amount.to_json(),
        "included": included,
        "target": target,
    }


def summary_json(rows: list[dict]) -> list[dict]:
    """``PricedLines.summary()`` / ``Order.summary()``: what every page shows under the
    lines (subtotal, adjustments, shipping, tax by name and rate, total)."""
    shown = []
    for row in rows:
        item = {
            "kind": row["kind"],
            "label": row["label"],
            "amount": row["amount"].to_json(),
            "included": row["included"],
        }
        if "rate" in row:
            item["rate"] = str(row["rate"])
        shown.append(item)
    return shown


def review_json(review) -> dict:
    """The cart priced for the checkout's address and shipping method."""
    priced = review.priced
    return {
        "lines": [line_json(line) for line in priced.lines],
        "adjustments": [
            {"label": a.label, "amount": a.amount.to_json(), "code": a.code}
            for a in priced.adjustments
        ],
        "subtotal": priced.subtotal.to_json(),
        "shipping_required": priced.shipping_required,
        "shipping_options": [option_json(option) for option in priced.shipping_options],
        "shipping": option_json(priced.shipping) if priced.shipping else None,
        "taxes": [tax_json(t.name, t.rate, t.amount, t.included, t.target) for t in priced.taxes],
        "summary": summary_json(priced.summary()),
        "total": priced.total.to_json(),
        "problems": review.problems,
    }


def order_json(
    request, order: Order, refunds: list[Refund] | None = None, staff: bool = False
) -> dict:
    """An order as frozen at checkout and what happened since (per line what shipped,
    was cancelled, refunded, put back in stock; the refunds), for its customer and, with
    ``staff``, for staff: they also see refunds in flight or refused, and why.
    ``refunds``: the order's, when the caller has them (else one query)."""
    if refunds is None:
        refunds = refunds_by_order(request.dbsession, [order])[order.id]
    if not staff:
        refunds = [refund for refund in refunds if refund.status == "succeeded"]
    shipping = None
    if order.shipping_method:
        shipping = {
            "method": order.shipping_method,
            "name": order.shipping_name,
            "price": order.shipping.to_json(),
            "tax": order.money(order.shipping_tax_amount).to_json(),
        }
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "lines": [order_line_json(line) for line in order.lines],
        "adjustments": [
            {"label": a["label"], "amount": a["amount"].to_json(), "code": a["code"]}
            for a in order.adjustment_lines
        ],
        "subtotal": order.subtotal.to_json(),
        "shipping": shipping,
        "shipping_refunded": order.shipping_refunded,
        "tax_lines": [
            tax_json(t["name"], t["rate"], order.money(t["amount"]), t["included"], t["target"])
            for t in order.tax_lines
        ],
        "tax_amount": order.money(order.tax_amount).to_json(),
        "vat_number": order.vat_number,
        "summary": summary_json(order.summary()),
        "total": order.total.to_json(),
        "captured": order.captured.to_json(),
        "refunded": order.refunded.to_json(),
        "refunds": [refund_json(order, refund, staff) for refund in refunds],
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "payment_method": order.payment_method,
        "history": [
            {
                "from": change.old_status,
                "to": change.new_status,
                "at": change.created_at.isoformat() if change.created_at else None,
                "reason": change.reason,
            }
            for change in order.history
        ],
        "url": storefront_url(request, "order_link", "api_order_link", token=order.access_token),
    }
