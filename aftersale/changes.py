"""Changing an order before it ships: units taken off, lines added, and the payment
following (a refund, a smaller capture, or a balance the customer pays).
"""

import hashlib
from collections.abc import Mapping

from sqlalchemy import select

from mercato.exceptions import OutOfStock
from mercato.money import Money
from mercato.orders import models as m
from mercato.orders.services import (
    OrderError,
    amount_owed,
    cancel_order,
    charged_units,
    destination_of,
    fresh_lines,
    lock_order,
    order_page_url,
    put_back,
    record_change,
    units_plan,
)
from mercato.pricing import Line, PricingContext, describe_skus

from .balance import balance_due, shortfall
from .notify import notify_customer
from .services import BadChange, cancel_order_lines, refund_order, retry_safe_key

# Orders that may still change: their money is held or taken, nothing has shipped.
CHANGEABLE_STATUSES = (m.AUTHORIZED, m.PAID, m.PARTIALLY_REFUNDED)


def change_order_lines(
    request,
    order: m.Order,
    *,
    remove: Mapping[str, int] | None = None,
    add: Mapping[str, int] | None = None,
    actor: str,
    reason: str = "",
    request_key: str | None = None,
) -> m.OrderChange:
    """Take ``remove`` (``{sku: units}``) off an order that has not shipped, or ``add``
    units of any SKU the shop sells, and make the payment follow:

    - taken off a paid order: back in stock, and refunded (``cancel_order_lines``) — less
      what a balance not paid yet already left out;
    - taken off an authorized order: back in stock and released, so the capture takes
      only what is owed; with nothing left, the authorization is voided (the order is
      cancelled);
    - added: priced as checkout prices (``mercato_unit_price``), taxed for the order's
      address with the order's tax context, no discount, shipping unchanged; its stock
      reserved under the same row locks as checkout (``OutOfStock``: nothing changes);
      the difference is the order's ``balance_due``, paid through the link on the
      order page, and the order does not ship until it is paid.

    Every change is in the order's history and ``order_changes``, the customer is
    emailed (``order.changed``) and ``mercato_order_changed`` is called. A request
    asked again with its ``request_key`` is the first one's change, returned as is.
    ``BadChange`` (a 400) for what the order or the shop lacks, ``OrderError`` (a 409)
    for what the order's state or stock refuses.
    """
    dbsession = request.dbsession
    request_key = retry_safe_key(request, request_key)
    order = lock_order(dbsession, order)
    if request_key and (done := _change_with_key(dbsession, order, request_key)):
        return done
    remove, add = dict(remove or {}), dict(add or {})
    if bool(remove) == bool(add):
        raise BadChange("Take units off or add some: one change at a time.")
    if any(units <= 0 for units in (*remove.values(), *add.values())):
        raise BadChange("Name at least 1 unit of each line to change.")
    lines = fresh_lines(dbsession, order)
    if order.status not in CHANGEABLE_STATUSES or any(line.quantity_shipped for line in lines):
        raise OrderError(
            f"Order {order.number} is {order.status}: only an authorized or paid order "
            "with nothing shipped can change."
        )
    before = amount_owed(order)
    if remove:
        change = _take_off(request, order, remove, actor=actor, reason=reason, key=request_key)
    else:
        change = _add(request, order, add, before, actor=actor, reason=reason)
    change.request_key = request_key or None
    dbsession.add(change)
    dbsession.flush()
    due = balance_due(order)
    units = ", ".join(f"{n} × {sku}" for sku, n in change.lines.items())
    verb = "added" if add else "taken off"
    record_change(
        order,
        order.status,
        order.status,
        actor=actor,
        reason=f"{units} {verb}"
        + (f": {reason}" if reason else "")
        + (f"; {due.format()} to pay" if due.amount else ""),
    )
    refunded = dbsession.get(m.Refund, change.refund_id) if change.refund_id else None
    notify_customer(
        dbsession,
        "order.changed",
        order,
        kind=change.kind,
        lines=change.lines,
        reason=reason,
        difference=order.money(change.amount).to_json(),
        balance_due=due.to_json(),
        refunded=order.money(refunded.amount).to_json() if refunded else None,
        order_url=order_page_url(request, order),
    )
    if change.kind == "lines_cancelled":
        return change
    request.hooks.mercato_order_changed(
        order=order,
        change={
            "kind": change.kind,
            "lines": dict(change.lines),
            "refund": refunded,
            "balance_due": due,
            "change": change,
        },
    )
    return change


def _change_with_key(dbsession, order: m.Order, request_key: str) -> m.OrderChange | None:
    return dbsession.scalars(
        select(m.OrderChange).where(
            m.OrderChange.order_id == order.id, m.OrderChange.request_key == request_key
        )
    ).first()


def change_made_before(dbsession, order: m.Order, request_key: str | None):
    """The change an earlier request with this one-time ``request_key`` made, or None;
    under the order's row lock, as ``refund_made_before`` looks for refunds."""
    if not request_key:
        return None
    lock_order(dbsession, order)
    return _change_with_key(dbsession, order, request_key)


def _take_off(request, order: m.Order, units: dict[str, int], *, actor, reason, key):
    registry, dbsession = request.registry, request.dbsession
    # The refund's own key, from the change's: asked again, the change refunds once.
    refund_key = f"change:{hashlib.sha256(key.encode()).hexdigest()[:48]}" if key else None
    for sku in units:
        if not any(line.sku == sku for line in order.lines):
            raise BadChange(f"Order {order.number} has no {sku}.")
    try:
        plan = units_plan(order, units, lambda line: line.quantity_to_ship, "take off")
    except OrderError as exc:
        raise BadChange(str(exc)) from None
    before = amount_owed(order)
    if order.status != m.AUTHORIZED and not balance_due(order).amount:
        # Paid in full: what was charged for the units comes back (a refund by line).
        refunded = cancel_order_lines(
            registry,
            dbsession,
            order,
            units,
            actor=actor,
            reason=reason or "taken off",
            notify=False,  # the change's email tells of the refund
            request_key=refund_key,
        )
        return m.OrderChange(
            order_id=order.id,
            kind="lines_cancelled",  # ``cancel_order_lines`` called mercato_order_changed
            lines=units,
            amount=(amount_owed(order) - before).amount,
            refund_id=refunded.id,
            actor=actor,
            reason=reason,
        )
    for line, count in plan:
        line.quantity_cancelled += count
        line.quantity_released += min(count, charged_units(line))
    put_back(
        registry.hooks,
        dbsession,
        [(line, min(count, line.quantity_restockable)) for line, count in plan],
    )
    if all(line.quantity_to_ship == 0 for line in order.lines):
        order.shipping_refunded = True  # nothing ships: the shipping is not owed either
    after = amount_owed(order)
    refunded = None
    if order.status == m.AUTHORIZED and after.amount == 0:
        cancel_order(
            registry, dbsession, order, actor=actor, reason=reason or "every line taken off"
        )
    # A balance was still to pay: refund only what was paid beyond what is owed now.
    elif order.status != m.AUTHORIZED and (beyond := -shortfall(order)) > 0:
        refunded = refund_order(
            registry,
            dbsession,
            order,
            order.money(beyond),
            actor=actor,
            reason=reason or "taken off",
            goodwill=False,  # what the released units no longer owe
            notify=False,  # the change's email tells of the refund
            request_key=refund_key,
        )
    return m.OrderChange(
        order_id=order.id,
        kind="lines_removed",
        lines=units,
        amount=(after - before).amount,
        refund_id=refunded.id if refunded else None,
        actor=actor,
        reason=reason,
    )


def _add(request, order: m.Order, units: dict[str, int], before: Money, *, actor, reason):
    dbsession, hooks = request.dbsession, request.hooks
    context = PricingContext(
        currency=order.currency,
        dbsession=dbsession,
        request=request,
        destination=destination_of(order.shipping_address),
        shipping_method=order.shipping_method,
        vat_number=order.vat_number,
    )
    details = describe_skus(request, list(units))
    lines = []
    for sku, quantity in units.items():
        known = details.get(sku)
        line = Line(sku=sku, quantity=quantity, name=known.name if known else sku)
        if known:
            line.tax_class, line.weight = known.tax_class, known.weight
        line.unit_price = hooks.mercato_unit_price(sku=sku, quantity=quantity, context=context)
        if line.unit_price is None or line.unit_price.currency != order.currency:
            raise BadChange(f"The shop sells no {sku} to add to order {order.number}.")
        lines.append(line)
    try:
        hooks.mercato_reserve_stock(dbsession=dbsession, lines=lines)
    except OutOfStock as exc:
        name = next(line.name for line in lines if line.sku == exc.sku)
        raise OrderError(
            f"Only {max(exc.available, 0)} × {name} left in stock: nothing was added."
        ) from None
    taxes = hooks.mercato_tax_lines(lines=lines, adjustments=[], shipping=None, context=context)
    position = max(line.position for line in order.lines)
    for offset, line in enumerate(lines, start=1):
        mine = [t for t in taxes or () if t.target == line.sku]
        added_tax = sum(t.amount.amount for t in mine if not t.included)
        order.lines.append(
            m.OrderLine(
                position=position + offset,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price_amount=line.unit_price.amount,
                total_amount=line.total.amount,
                tax_amount=added_tax,
                added=True,
            )
        )
        order.tax_lines = [
            *order.tax_lines,
            *(
                {
                    "name": t.name,
                    "rate": str(t.rate),
                    "amount": t.amount.amount,
                    "included": t.included,
                    "target": t.target,
                }
                for t in mine
            ),
        ]
        order.subtotal_amount += line.total.amount
        order.tax_amount += added_tax
        order.total_amount += line.total.amount + added_tax
    dbsession.flush()
    return m.OrderChange(
        order_id=order.id,
        kind="lines_added",
        lines=units,
        amount=(amount_owed(order) - before).amount,
        actor=actor,
        reason=reason,
    )
