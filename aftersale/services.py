"""Staff's operations on an order after the sale: capture, ship, cancel lines, refund.

Built on the kernel's order status machine and arithmetic (``mercato.orders.services``)
and its payment-call path (``mercato.payments``); the admin, the JSON API, returns and
fulfilment reach them through the public API (``from mercato import refund_order``).
Changing an order's lines is ``changes``.
"""

import secrets
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mercato import payments
from mercato.db import registry_of
from mercato.money import Money
from mercato.orders import models as m
from mercato.orders.services import (
    CAPTURED_STATUSES,
    OrderError,
    amount_owed,
    change_status,
    fresh_lines,
    lock_order,
    payment_captured,
    record_result,
    refund_amount_for,
    refund_plan,
    restockable,
    units_plan,
)
from mercato.payments import PaymentInfo

from .balance import balance_due
from .notify import notify_customer
from .refunds import apply_refund, record_refund


class BadChange(OrderError):
    """A change that names what the order or the shop does not have (bad input: a 400)."""


class RestockError(OrderError):
    """Asked to put back in stock what the order does not hold (bad input: a 400)."""

    def __init__(self, message: str, sku: str):
        super().__init__(message)
        self.sku = sku


# What a refund puts back in stock: ``True`` for every unit not back yet, or
# ``{sku: quantity}``; ``False`` (or empty) for nothing.
Restock = bool | Mapping[str, int]


def restock_plan(dbsession, order: m.Order, restock: Restock) -> list[tuple[m.OrderLine, int]]:
    """The lines to put back in stock and how many units of each, or ``RestockError``.

    Call it holding the order's row lock: the lines are read again as committed, so a
    unit another transaction put back is never put back twice.
    """
    if not restock:
        return []
    if restock is True:
        return restockable(dbsession, order)
    lines = fresh_lines(dbsession, order)
    plan = []
    for sku, quantity in restock.items():
        same = [line for line in lines if line.sku == sku]
        if not same:
            raise RestockError(f"Order {order.number} has no {sku} to put back in stock.", sku)
        if quantity <= 0:
            raise RestockError(f"Put back at least 1 × {sku}, or leave it out.", sku)
        sold = sum(line.quantity for line in same)
        left = sum(line.quantity_restockable for line in same)
        if left == 0:
            raise RestockError(
                f"The {sold} × {sku} of order {order.number} "
                f"{'is' if sold == 1 else 'are'} already back in stock.",
                sku,
            )
        if quantity > left:
            raise RestockError(
                f"Only {left} × {sku} of order {order.number} can go back in stock.", sku
            )
        # One SKU on several lines (a plugin may split them): fill them in order.
        for line in same:
            units = min(quantity, line.quantity_restockable)
            if units:
                plan.append((line, units))
                quantity -= units
    return plan


def _refund_with_key(dbsession, order: m.Order, request_key: str | None) -> m.Refund | None:
    if not request_key:
        return None
    return dbsession.scalars(
        select(m.Refund).where(m.Refund.order_id == order.id, m.Refund.request_key == request_key)
    ).first()


def _refund_asked_before(registry, dbsession, order: m.Order, request_key: str | None):
    """The refund a request with ``request_key`` already made for ``order``, applied to
    the order if the transaction that made it failed (``apply_refund``). Call it holding
    the order's row lock: a request with the same key waits, then finds it."""
    done = _refund_with_key(dbsession, order, request_key)
    if done is not None and done.status == "failed":
        raise OrderError(f"The refund was refused by the payment provider: {done.last_error}")
    if done is not None:
        apply_refund(registry, dbsession, order, done)
    return done


def retry_safe_key(request, given: str | None = None) -> str:
    """``given``, or else a key of this HTTP request that its retries share.

    pyramid_retry runs a request again, in the same WSGI environ, after a conflict that
    may come once the provider has refunded: with this key the retry finds that refund
    (and applies it to the order) instead of asking the provider for a second one."""
    return given or request.environ.setdefault("mercato.retry_key", secrets.token_hex(16))


def refund_made_before(dbsession, order: m.Order, request_key: str | None) -> m.Refund | None:
    """The refund an earlier request with this one-time ``request_key`` made (a double
    click, a form posted again, an API client's retry), or None.

    It takes the order's row lock, held to the end of the request: a second request with
    the key waits for the first to commit, then finds its refund here before reading
    anything the first one changed (what is left to ship or refund). A refund the
    provider refused is not one: asked again, ``refund_order`` says why it failed."""
    if not request_key:
        return None
    lock_order(dbsession, order)
    done = _refund_with_key(dbsession, order, request_key)
    if done is None or done.status == "failed":
        return None
    if (registry := registry_of(dbsession)) is not None:  # else reconcile applies it
        apply_refund(registry, dbsession, order, done)  # if the request that made it failed
    return done


def capture_order(registry, dbsession, order: m.Order, *, actor: str, reason: str) -> None:
    """Take the authorized money now (when the shop captures on fulfilment): what the
    order owes, no more (less than authorized when units were taken off), from its
    authorizations in turn; one with nothing left to take is voided."""
    order = lock_order(dbsession, order)
    held = [p for p in order.payments if p.status in (m.PAYMENT_AUTHORIZED, m.PAYMENT_CAPTURED)]
    if order.status != m.AUTHORIZED or not held:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to capture.")
    left = amount_owed(order).amount
    for payment in held:
        if payment.status == m.PAYMENT_AUTHORIZED and left > 0:
            take = order.money(min(payment.amount, left))
            result, why = payments.capture(registry, PaymentInfo.of(payment), take)
            if result is None:
                raise OrderError(f"The payment could not be captured: {why}")
        elif payment.status == m.PAYMENT_AUTHORIZED:
            result, why = payments.void(registry, PaymentInfo.of(payment))
            if result is None:
                raise OrderError(f"An authorization not needed could not be released: {why}")
        else:
            result = None
        if result is not None:
            record_result(registry, payment, result)
        left -= payment.amount_captured if payment.status == m.PAYMENT_CAPTURED else 0
    captured = sum(p.amount_captured for p in held if p.status == m.PAYMENT_CAPTURED)
    payment_captured(order, order.money(captured), hooks=registry.hooks, actor=actor, reason=reason)


def ship_order_lines(
    registry,
    dbsession,
    order: m.Order,
    units: Mapping[str, int] | None = None,
    *,
    actor: str,
    reason: str = "shipped",
) -> list[tuple[m.OrderLine, int]]:
    """Mark ``units`` (``{sku: quantity}``; ``None``: all that is left) shipped,
    capturing first if the shop captures on fulfilment. The order is
    ``partially_fulfilled`` until every line has shipped or been cancelled."""
    order = lock_order(dbsession, order)
    if (due := balance_due(order)).amount:
        raise OrderError(
            f"Order {order.number} has {due.format()} left to pay since it changed: it ships "
            "once the customer has paid it (the link is on their order page)."
        )
    if order.status == m.AUTHORIZED:
        capture_order(registry, dbsession, order, actor=actor, reason="captured on fulfilment")
    if order.status not in (m.PAID, m.PARTIALLY_FULFILLED, m.PARTIALLY_REFUNDED):
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to ship.")
    fresh_lines(dbsession, order)
    plan = units_plan(order, units, lambda line: line.quantity_to_ship, "ship")
    if not plan:
        raise OrderError(f"Every line of order {order.number} has shipped already.")
    for line, quantity in plan:
        line.quantity_shipped += quantity
    done = all(line.quantity_to_ship == 0 for line in order.lines)
    new = m.FULFILLED if done else m.PARTIALLY_FULFILLED
    change_status(order, new, hooks=registry.hooks, actor=actor, reason=reason)
    return plan


def fulfil_order(
    registry,
    dbsession,
    order: m.Order,
    *,
    actor: str,
    reason: str = "shipped",
    tracking_number: str = "",
    tracking_url: str = "",
) -> None:
    """Ship everything left of the order in one parcel and tell the customer, with the
    tracking number when there is one."""
    ship_order_lines(registry, dbsession, order, None, actor=actor, reason=reason)
    notify_customer(
        dbsession,
        "order.shipped",
        order,
        tracking_number=tracking_number,
        tracking_url=tracking_url,
    )


def cancel_order_lines(
    registry,
    dbsession,
    order: m.Order,
    units: Mapping[str, int],
    *,
    actor: str,
    reason: str = "",
    request_key: str | None = None,
    notify: bool = True,
) -> m.Refund:
    """Cancel ``units`` (``{sku: quantity}``) of a paid order before they ship: they go
    back in stock and what was charged for them is refunded (with the shipping, once
    nothing is left to ship and nothing shipped). ``mercato_order_changed`` follows."""
    order = lock_order(dbsession, order)
    done = _refund_asked_before(registry, dbsession, order, request_key)
    if done is not None:
        return done  # a repeated request: its lines were cancelled the first time
    if order.status == m.AUTHORIZED:
        raise OrderError(
            f"Order {order.number} is authorized, not paid: change the order to take units "
            "off, or cancel it whole."
        )
    if order.status not in CAPTURED_STATUSES:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to cancel.")
    fresh_lines(dbsession, order)
    plan = dict(units_plan(order, units, lambda line: line.quantity_to_ship, "cancel"))
    nothing_ships = all(
        line.quantity_shipped == 0 and line.quantity_to_ship == plan.get(line, 0)
        for line in order.lines
    )
    shipping = nothing_ships and bool(order.shipping_method)
    return refund_order(
        registry,
        dbsession,
        order,
        refund_amount_for(order, units, shipping=shipping),
        actor=actor,
        reason=reason or "lines cancelled",
        restock=dict(units),
        lines=units,
        shipping=shipping,
        request_key=request_key,
        notify=notify,
        cancel=units,
    )


def refund_order(
    registry,
    dbsession,
    order: m.Order,
    amount: Money,
    *,
    actor: str,
    reason: str = "",
    restock: Restock = False,
    lines: Mapping[str, int] | None = None,
    shipping: bool = False,
    request_key: str | None = None,
    goodwill: bool | None = None,
    notify: bool = True,
    cancel: Mapping[str, int] | None = None,
) -> m.Refund:
    """Refund ``amount`` (all or part) of what was captured for ``order``, and put back
    in stock what ``restock`` names (see ``Restock``). A refund that names neither lines
    nor the shipping is ``goodwill`` unless the caller says otherwise. ``notify=False``:
    the caller's own email to the customer tells of the refund (a return, a change).

    A refund that names its ``lines`` (``{sku: quantity}``) and/or the ``shipping``
    gives back at most what was charged for them (``refund_amount_for``) and counts
    them as refunded, so no unit and no shipping is refunded twice. A refund asked again
    with the same ``request_key`` (a double click, a retried request) is the first one,
    returned as it is: nothing is refunded twice.

    Refuses more than was captured and not yet refunded, counting refunds in flight:
    the check and the refund row are committed together under the payment's row lock,
    before the provider is asked, so two staff members refunding at once cannot return
    more than was taken. The order's row lock is held from the check of ``restock``
    (``RestockError``: nothing refunded) to the stock's release, so no unit sold comes
    back twice. What the refund does to the order is written on its row before the
    provider is asked (``effects``) and applied in the caller's transaction
    (``apply_refund``): should that transaction fail once the provider has refunded,
    the request's retry, a request with its key, or ``mercato reconcile`` applies it.
    """
    if amount.currency != order.currency:
        raise OrderError(f"Refunds of order {order.number} are in {order.currency}.")
    if amount.amount <= 0:
        raise OrderError("A refund must be more than zero.")
    order = lock_order(dbsession, order)
    done = _refund_asked_before(registry, dbsession, order, request_key)
    if done is not None:
        return done
    if order.status not in CAPTURED_STATUSES:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to refund.")
    # The payment with the most left to refund (a balance paid after a change is a second).
    captured = [p for p in order.payments if p.status == m.PAYMENT_CAPTURED]
    payment = max(captured, key=lambda p: p.amount_captured - p.amount_refunded, default=None)
    if payment is None:
        raise OrderError(f"Order {order.number} has no captured payment to refund.")
    plan = restock_plan(dbsession, order, restock)
    fresh_lines(dbsession, order)  # what another refund counted meanwhile
    refund_plan(order, lines or {})  # refuses units not sold, or refunded already
    if lines or shipping:
        charged = refund_amount_for(order, lines or {}, shipping)
        if amount > charged:
            raise OrderError(
                f"Cannot refund {amount.format()}: {charged.format()} was charged for "
                "what this refund names."
            )
    effects = {
        "lines": dict(lines or {}),
        "cancel": dict(cancel or {}),
        "restock": _by_sku(plan),
        "shipping": shipping,
        "notify": notify,
    }

    with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
        locked = session.get(m.Payment, payment.id, with_for_update=True)
        in_flight = session.scalar(
            select(func.coalesce(func.sum(m.Refund.amount), 0)).where(
                m.Refund.payment_id == payment.id, m.Refund.status.in_(("pending", "succeeded"))
            )
        )
        # sum() of bigint is numeric in PostgreSQL: back to an int of minor units.
        refundable = Money(locked.amount_captured - int(in_flight), amount.currency)
        if amount > refundable:
            raise OrderError(
                f"Cannot refund {amount.format()}: only {refundable.format()} "
                f"of order {order.number} is left to refund."
            )
        row = m.Refund(
            order_id=order.id,
            payment_id=payment.id,
            amount=amount.amount,
            actor=actor,
            reason=reason,
            request_key=request_key or None,
            goodwill=not (lines or shipping) if goodwill is None else goodwill,
            effects=effects,
        )
        session.add(row)
        session.flush()
        refund_id = row.id

    result = payments.refund(registry, PaymentInfo.of(payment), amount, refund_id)
    with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
        row = session.get(m.Refund, refund_id, with_for_update=True)
        if row.status == "pending":  # not if reconcile recorded it meanwhile
            record_refund(session, row, result)
    if row.status == "failed":
        raise OrderError(f"The refund was refused by the payment provider: {row.last_error}")
    if row.status == "pending":
        # Unanswered, it may have been made: it stays in flight (nothing more is
        # refunded from this payment meanwhile) until ``mercato reconcile`` asks again.
        raise OrderError(
            f"The payment service did not answer: the refund of {amount.format()} stays "
            "pending until the next reconcile run asks it again. Do not refund it twice."
        )
    row = dbsession.get(m.Refund, refund_id)  # its ``applied`` is this transaction's
    apply_refund(registry, dbsession, order, row)
    return row


def _by_sku(plan: list[tuple[m.OrderLine, int]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for line, count in plan:
        units[line.sku] = units.get(line.sku, 0) + count
    return units
