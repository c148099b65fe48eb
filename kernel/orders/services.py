"""The order status machine and the operations staff and the kernel perform on orders.

Every status change goes through ``change_status``: it refuses a transition the machine
does not allow, records who, when and why, and calls ``mercato_order_status_changed``
in the transaction that makes the change.

    awaiting_payment ─→ authorized ─→ paid ─→ fulfilled
          │   └──────────────────────↗  │          │
          └──→ cancelled ←── authorized  └─→ partially_refunded / refunded
"""

import logging
from collections.abc import Mapping

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
    m.PAID: frozenset({m.FULFILLED, m.PARTIALLY_REFUNDED, m.REFUNDED}),
    m.FULFILLED: frozenset({m.PARTIALLY_REFUNDED, m.REFUNDED}),
    m.PARTIALLY_REFUNDED: frozenset({m.PARTIALLY_REFUNDED, m.REFUNDED}),
    m.CANCELLED: frozenset(),
    m.REFUNDED: frozenset(),
}

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


def restock_plan(dbsession, order: m.Order, restock: Restock) -> list[tuple[m.OrderLine, int]]:
    """The lines to put back in stock and how many units of each, or ``RestockError``.

    Call it holding the order's row lock: the lines are read again as committed, so a
    unit another transaction put back is never put back twice.
    """
    if not restock:
        return []
    lines = dbsession.scalars(
        select(m.OrderLine)
        .where(m.OrderLine.order_id == order.id)
        .order_by(m.OrderLine.position)
        .execution_options(populate_existing=True)
    ).all()
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
    """Mark the order shipped (capturing first if the shop captures on fulfilment) and
    tell the customer, with the tracking number when there is one."""
    order = _lock(dbsession, order)
    if order.status == m.AUTHORIZED:
        capture(registry, dbsession, order, actor=actor, reason="captured on fulfilment")
    if order.status != m.PAID:
        raise OrderError(f"Order {order.number} is {order.status}: only paid orders ship.")
    change_status(order, m.FULFILLED, hooks=registry.hooks, actor=actor, reason=reason)
    _notify_customer(
        dbsession,
        "order.shipped",
        order,
        tracking_number=tracking_number,
        tracking_url=tracking_url,
    )


def refund(
    registry,
    dbsession,
    order: m.Order,
    amount: Money,
    *,
    actor: str,
    reason: str = "",
    restock: Restock = False,
) -> m.Refund:
    """Refund ``amount`` (all or part) of what was captured for ``order``, and put back
    in stock what ``restock`` names (see ``Restock``).

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
    if order.status not in (m.PAID, m.FULFILLED, m.PARTIALLY_REFUNDED):
        raise OrderError(f"Order {order.number} is {order.status}: there is nothing to refund.")
    payment = next((p for p in order.payments if p.status == m.PAYMENT_CAPTURED), None)
    if payment is None:
        raise OrderError(f"Order {order.number} has no captured payment to refund.")
    plan = restock_plan(dbsession, order, restock)

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
    new = m.REFUNDED if order.amount_refunded >= order.amount_captured else m.PARTIALLY_REFUNDED
    change_status(order, new, hooks=registry.hooks, actor=actor, reason=reason or "refund")
    put_back(registry.hooks, dbsession, plan)
    _notify_customer(dbsession, "order.refunded", order, amount=amount.to_json())
    return row


# Their names in the public API (the staff pages of the admin and the JSON API).
cancel_order = cancel
capture_order = capture
fulfil_order = fulfil
refund_order = refund
