"""The order status machine and the operations staff and the kernel perform on orders.

Every status change goes through ``change_status``: it refuses a transition the machine
does not allow, records who, when and why, and calls ``mercato_order_status_changed``
in the transaction that makes the change.

    awaiting_payment ─→ authorized ─→ paid ─→ fulfilled
          │   └──────────────────────↗  │          │
          └──→ cancelled ←── authorized  └─→ partially_refunded / refunded
"""

import logging
import math
from collections.abc import Mapping
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import payments
from ..money import Money
from ..outbox import enqueue
from ..payments import PaymentInfo
from ..pricing import Line
from . import ledger
from . import models as m

log = logging.getLogger(__name__)

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({m.AWAITING_PAYMENT}),
    m.AWAITING_PAYMENT: frozenset({m.AUTHORIZED, m.PAID, m.CANCELLED}),
    m.AUTHORIZED: frozenset({m.PAID, m.CANCELLED}),
    m.PAID: frozenset({m.PARTIALLY_FULFILLED, m.FULFILLED, m.PARTIALLY_REFUNDED, m.REFUNDED}),
    m.PARTIALLY_FULFILLED: frozenset(
        {m.PARTIALLY_FULFILLED, m.FULFILLED, m.PARTIALLY_REFUNDED, m.REFUNDED}
    ),
    m.FULFILLED: frozenset({m.PARTIALLY_REFUNDED, m.REFUNDED}),
    # A refund of some lines leaves the others to ship.
    m.PARTIALLY_REFUNDED: frozenset(
        {m.PARTIALLY_REFUNDED, m.REFUNDED, m.PARTIALLY_FULFILLED, m.FULFILLED}
    ),
    m.CANCELLED: frozenset(),
    m.REFUNDED: frozenset(),
}
# Orders whose money is taken and whose lines may still ship, be cancelled or refunded.
CAPTURED_STATUSES = (m.PAID, m.PARTIALLY_FULFILLED, m.FULFILLED, m.PARTIALLY_REFUNDED)

SYSTEM = "system"


class OrderError(Exception):
    """An operation the order's state does not allow; the message says why, plainly."""


class RestockError(OrderError):
    """Asked to put back in stock what the order does not hold (bad input: a 400)."""

    def __init__(self, message: str, sku: str):
        super().__init__(message)
        self.sku = sku


def actor_of(request) -> str:
    """How the history names whoever makes a request."""
    user = getattr(request, "user", None)
    if user is None:
        return "guest"
    return f"{getattr(user, 'role', 'customer')}:{user.id}"


def can_change(old: str | None, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def change_status(order: m.Order, new: str, *, hooks, actor: str, reason: str = "") -> None:
    """Move ``order`` to ``new``, recorded, with ``mercato_order_status_changed`` called."""
    old = order.status
    if not can_change(old, new):
        raise OrderError(f"Order {order.number} is {old}; it cannot become {new}.")
    order.status = new
    order.history.append(
        m.OrderStatusChange(old_status=old, new_status=new, actor=actor, reason=reason)
    )
    hooks.mercato_order_status_changed(order=order, old=old, new=new)


def next_number(dbsession: Session, prefix: str) -> str:
    """A short number a person can read out on the phone: ``M-001042``."""
    value = dbsession.execute(select(func.nextval("order_number_seq"))).scalar_one()
    return f"{prefix}{value:06d}"


def order_by_token(dbsession: Session, token: str) -> m.Order | None:
    """The order whose secret link carries ``token`` (a guest's only way in)."""
    if not token or len(token) > 64:
        return None
    return dbsession.scalars(select(m.Order).where(m.Order.access_token == token)).first()


def order_by_number(dbsession: Session, number: str) -> m.Order | None:
    return dbsession.scalars(select(m.Order).where(m.Order.number == number)).first()


def orders_of_customer(dbsession: Session, customer_id: int, limit: int = 100) -> list[m.Order]:
    """The customer's orders, newest first."""
    return dbsession.scalars(
        select(m.Order)
        .where(m.Order.customer_id == customer_id)
        .order_by(m.Order.created_at.desc(), m.Order.id.desc())
        .limit(limit)
    ).all()


def order_lines_for_stock(order: m.Order) -> list[Line]:
    return [Line(sku=line.sku, quantity=line.quantity) for line in order.lines]


# What a refund puts back in stock: ``True`` for every unit not back yet, or
# ``{sku: quantity}``; ``False`` (or empty) for nothing.
Restock = bool | Mapping[str, int]


def fresh_lines(dbsession, order: m.Order) -> list[m.OrderLine]:
    """The order's lines as committed (under its row lock: as no one else can change them)."""
    return dbsession.scalars(
        select(m.OrderLine)
        .where(m.OrderLine.order_id == order.id)
        .order_by(m.OrderLine.position)
        .execution_options(populate_existing=True)
    ).all()


def restock_plan(dbsession, order: m.Order, restock: Restock) -> list[tuple[m.OrderLine, int]]:
    """The lines to put back in stock and how many units of each, or ``RestockError``.

    Call it holding the order's row lock: the lines are read again as committed, so a
    unit another transaction put back is never put back twice.
    """
    if not restock:
        return []
    lines = fresh_lines(dbsession, order)
    if restock is True:
        return [(line, line.quantity_restockable) for line in lines if line.quantity_restockable]
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


def refund_plan(order: m.Order, units: Mapping[str, int]) -> list[tuple[m.OrderLine, int]]:
    """The lines ``units`` (``{sku: quantity}``) refunds and how many units of each;
    ``OrderError`` for a SKU the order lacks, or more units than it sold and has not
    refunded yet."""
    for sku, quantity in units.items():
        sold = sum(line.quantity for line in order.lines if line.sku == sku)
        name = next((line.name for line in order.lines if line.sku == sku), sku)
        if sold and not 0 < quantity <= sold:
            raise OrderError(f"Order {order.number} has {sold} × {name}, not {quantity}.")
    return units_plan(order, units, lambda line: line.quantity - line.quantity_refunded, "refund")


def refund_amount_for(order: m.Order, units: Mapping[str, int], shipping: bool = False) -> Money:
    """What was charged for ``units`` (``{sku: quantity}``) of ``order`` and, with
    ``shipping``, for its shipping: each line's price, the tax added on top of it and
    its share of the order's adjustments (a discount), per unit, rounded half up.
    Raises ``OrderError`` for what the order did not sell or has refunded already."""
    if shipping and not order.shipping_method:
        raise OrderError(f"Order {order.number} has no shipping to refund.")
    if shipping and order.shipping_refunded:
        raise OrderError(f"The shipping of order {order.number} was refunded already.")
    subtotal = order.subtotal_amount or 1
    adjusted = sum(adj["amount"] for adj in order.adjustments)
    amount = order.money(order.shipping_amount + order.shipping_tax_amount if shipping else 0)
    for line, quantity in refund_plan(order, units):
        # Exact fractions, one rounding: a float could be a cent off.
        share = Fraction(adjusted * line.total_amount, subtotal)
        charged = (line.total_amount + line.tax_amount + share) * quantity / line.quantity
        amount += order.money(math.floor(charged + Fraction(1, 2)))
    return amount


def put_back(hooks, dbsession, plan: list[tuple[m.OrderLine, int]]) -> None:
    """Release ``plan``'s stock and count it on its lines, in the same transaction."""
    if not plan:
        return
    for line, units in plan:
        line.quantity_restocked += units
    hooks.mercato_release_stock(
        dbsession=dbsession, lines=[Line(sku=line.sku, quantity=units) for line, units in plan]
    )


# ---------------------------------------------------------------------------
# Payment outcomes (from the data manager, a webhook, reconcile)
# ---------------------------------------------------------------------------


def payment_authorized(order: m.Order, *, hooks, actor: str, reason: str) -> bool:
    if order.status != m.AWAITING_PAYMENT:
        return False
    change_status(order, m.AUTHORIZED, hooks=hooks, actor=actor, reason=reason)
    return True


def payment_captured(order: m.Order, amount: Money, *, hooks, actor: str, reason: str) -> bool:
    """Record captured money; ``authorized`` (or ``awaiting_payment``) becomes ``paid``."""
    if order.status == m.AWAITING_PAYMENT:
        change_status(order, m.AUTHORIZED, hooks=hooks, actor=actor, reason=reason)
    if order.status != m.AUTHORIZED:
        return False
    order.amount_captured = amount.amount
    change_status(order, m.PAID, hooks=hooks, actor=actor, reason=reason)
    return True


def payment_lost(order: m.Order, *, hooks, dbsession, actor: str, reason: str) -> bool:
    """The payment failed or was voided before capture: cancel and put back in stock
    what is not back yet. The caller holds the order's row lock."""
    if order.status not in (m.AWAITING_PAYMENT, m.AUTHORIZED):
        return False
    change_status(order, m.CANCELLED, hooks=hooks, actor=actor, reason=reason)
    put_back(hooks, dbsession, restock_plan(dbsession, order, True))
    return True


def mark_captured_in_own_transaction(registry, payment_id: int, amount: Money, reason: str):
    """After a capture outside any request transaction (tpc_finish, reconcile)."""
    with Session(registry.db_engine) as session, session.begin():
        payment = session.get(m.Payment, payment_id)
        if payment is None or payment.order_id is None:
            return
        order = session.get(m.Order, payment.order_id, with_for_update=True)
        payment_captured(order, amount, hooks=registry.hooks, actor=SYSTEM, reason=reason)


# ---------------------------------------------------------------------------
# Staff operations
# ---------------------------------------------------------------------------


def _lock(dbsession, order: m.Order) -> m.Order:
    # FOR NO KEY UPDATE: it still serializes every change to the order, yet lets rows
    # that point at it (a refund, committed on a connection of its own while this lock
    # is held) take their foreign key's share lock instead of waiting for us forever.
    return dbsession.get(
        m.Order, order.id, with_for_update={"key_share": True}, populate_existing=True
    )


def _refund_asked_before(dbsession, order: m.Order, request_key: str | None) -> m.Refund | None:
    """The refund a request with ``request_key`` already made for ``order``. Call it
    holding the order's row lock: a request with the same key waits, then finds it."""
    if not request_key:
        return None
    done = dbsession.scalars(
        select(m.Refund).where(m.Refund.order_id == order.id, m.Refund.request_key == request_key)
    ).first()
    if done is not None and done.status == "failed":
        raise OrderError(f"The refund was refused by the payment provider: {done.last_error}")
    return done


def _record(registry, payment: m.Payment, result) -> None:
    # Committed on its own first: the provider acted, whatever this transaction does.
    ledger.record(registry.db_engine, payment.id, result)
    ledger.apply_result(payment, result)


def cancel(registry, dbsession, order: m.Order, *, actor: str, reason: str) -> None:
    """Cancel an order not yet paid: void its authorization and put its stock back."""
    order = _lock(dbsession, order)
    if order.status not in (m.AWAITING_PAYMENT, m.AUTHORIZED):
        raise OrderError(
            f"Order {order.number} is {order.status}: only unpaid orders can be cancelled; "
            "refund a paid order instead."
        )
    payment = order.live_payment
    if payment is not None:
        result, why = payments.void(registry, PaymentInfo.of(payment))
        if result is None:
            raise OrderError(f"The payment could not be cancelled: {why}")
        _record(registry, payment, result)
    payment_lost(order, hooks=registry.hooks, dbsession=dbsession, actor=actor, reason=reason)


def capture(registry, dbsession, order: m.Order, *, actor: str, reason: str) -> None:
    """Take the authorized money now (when the shop captures on fulfilment)."""
    order = _lock(dbsession, order)
    payment = order.live_payment
    if order.status != m.AUTHORIZED or payment is None:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to capture.")
    if payment.status != m.PAYMENT_CAPTURED:
        result, why = payments.capture(registry, PaymentInfo.of(payment))
        if result is None:
            raise OrderError(f"The payment could not be captured: {why}")
        _record(registry, payment, result)
    payment_captured(
        order,
        Money(payment.amount_captured, payment.currency),
        hooks=registry.hooks,
        actor=actor,
        reason=reason,
    )


def _notify_customer(dbsession, event: str, order: m.Order, **details) -> None:
    """Queue the customer's email about ``order`` in the same transaction as the change."""
    payload = {
        "email": order.email,
        "number": order.number,
        "customer_name": (order.shipping_address or {}).get("name", ""),
        "total": order.total.to_json(),
        **details,
    }
    enqueue(dbsession, event, payload)


def units_plan(
    order: m.Order, units: Mapping[str, int] | None, left, verb: str
) -> list[tuple[m.OrderLine, int]]:
    """Which lines ``units`` (``{sku: quantity}``; ``None``: every unit) names, filling
    the lines of one SKU in order, with ``left(line)`` units of each still open to
    ``verb``; ``OrderError`` for a SKU the order lacks or more than is left."""
    if units is None:
        return [(line, left(line)) for line in order.lines if left(line) > 0]
    plan = []
    for sku, quantity in units.items():
        same = [line for line in order.lines if line.sku == sku]
        if not same:
            raise OrderError(f"Order {order.number} has no {sku}.")
        open_units = sum(left(line) for line in same)
        if not 0 < quantity <= open_units:
            raise OrderError(
                f"Only {open_units} × {same[0].name} of order {order.number} "
                f"{'is' if open_units == 1 else 'are'} left to {verb}."
            )
        for line in same:
            taken = min(quantity, left(line))
            if taken:
                plan.append((line, taken))
                quantity -= taken
    return plan


def ship_lines(
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
    order = _lock(dbsession, order)
    if order.status == m.AUTHORIZED:
        capture(registry, dbsession, order, actor=actor, reason="captured on fulfilment")
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


def fulfil(
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
    ship_lines(registry, dbsession, order, None, actor=actor, reason=reason)
    _notify_customer(
        dbsession,
        "order.shipped",
        order,
        tracking_number=tracking_number,
        tracking_url=tracking_url,
    )


def cancel_lines(
    registry,
    dbsession,
    order: m.Order,
    units: Mapping[str, int],
    *,
    actor: str,
    reason: str = "",
    request_key: str | None = None,
) -> m.Refund:
    """Cancel ``units`` (``{sku: quantity}``) of a paid order before they ship: they go
    back in stock and what was charged for them is refunded (with the shipping, once
    nothing is left to ship and nothing shipped). ``mercato_order_changed`` follows."""
    order = _lock(dbsession, order)
    done = _refund_asked_before(dbsession, order, request_key)
    if done is not None:
        return done  # a repeated request: its lines were cancelled the first time
    if order.status == m.AUTHORIZED:
        raise OrderError(
            f"Order {order.number} is authorized, not paid: capture it first, or cancel it whole."
        )
    if order.status not in CAPTURED_STATUSES:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to cancel.")
    fresh_lines(dbsession, order)
    plan = units_plan(order, units, lambda line: line.quantity_to_ship, "cancel")
    for line, quantity in plan:
        line.quantity_cancelled += quantity
    nothing_ships = all(
        line.quantity_shipped == 0 and line.quantity_to_ship == 0 for line in order.lines
    )
    refunded = refund(
        registry,
        dbsession,
        order,
        refund_amount_for(order, units, shipping=nothing_ships and bool(order.shipping_method)),
        actor=actor,
        reason=reason or "lines cancelled",
        restock=dict(units),
        lines=units,
        shipping=nothing_ships and bool(order.shipping_method),
        request_key=request_key,
    )
    registry.hooks.mercato_order_changed(
        order=order,
        change={"kind": "lines_cancelled", "lines": dict(units), "refund": refunded},
    )
    return refunded


def refund(
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
) -> m.Refund:
    """Refund ``amount`` (all or part) of what was captured for ``order``, and put back
    in stock what ``restock`` names (see ``Restock``).

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
    back twice.
    """
    if amount.currency != order.currency:
        raise OrderError(f"Refunds of order {order.number} are in {order.currency}.")
    if amount.amount <= 0:
        raise OrderError("A refund must be more than zero.")
    order = _lock(dbsession, order)
    done = _refund_asked_before(dbsession, order, request_key)
    if done is not None:
        return done
    if order.status not in CAPTURED_STATUSES:
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to refund.")
    payment = next((p for p in order.payments if p.status == m.PAYMENT_CAPTURED), None)
    if payment is None:
        raise OrderError(f"Order {order.number} has no captured payment to refund.")
    plan = restock_plan(dbsession, order, restock)
    fresh_lines(dbsession, order)  # what another refund counted meanwhile
    refunded = refund_plan(order, lines or {})
    if lines or shipping:
        charged = refund_amount_for(order, lines or {}, shipping)
        if amount > charged:
            raise OrderError(
                f"Cannot refund {amount.format()}: {charged.format()} was charged for "
                "what this refund names."
            )

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
        )
        session.add(row)
        session.flush()
        refund_id = row.id

    result, why = payments.refund(registry, PaymentInfo.of(payment), amount, refund_id)
    with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
        row = session.get(m.Refund, refund_id)
        if result is None:
            row.status = "failed"
            row.last_error = why
        else:
            row.status = "succeeded"
            row.reference = result.reference
            locked = session.get(m.Payment, payment.id, with_for_update=True)
            locked.amount_refunded += amount.amount
    if row.status == "failed":
        raise OrderError(f"The refund was refused by the payment provider: {row.last_error}")

    order.amount_refunded += amount.amount
    for line, units in refunded:
        line.quantity_refunded += units
    order.shipping_refunded = order.shipping_refunded or shipping
    new = m.REFUNDED if order.amount_refunded >= order.amount_captured else m.PARTIALLY_REFUNDED
    change_status(order, new, hooks=registry.hooks, actor=actor, reason=reason or "refund")
    put_back(registry.hooks, dbsession, plan)
    _notify_customer(dbsession, "order.refunded", order, amount=amount.to_json())
    registry.hooks.mercato_order_refunded(order=order, refund=row)
    return row


# Their names in the public API (the staff pages of the admin and the JSON API).
cancel_order = cancel
capture_order = capture
fulfil_order = fulfil
refund_order = refund
ship_order_lines = ship_lines
cancel_order_lines = cancel_lines
