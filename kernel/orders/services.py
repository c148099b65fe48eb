"""The order status machine, the order's arithmetic (what it owes, holds, has left to
pay) and what the checkout unit does to an order when its payment moves.

Every status change goes through ``change_status``: it refuses a transition the machine
does not allow, records who, when and why, and calls ``mercato_order_status_changed``
in the transaction that makes the change. Staff's operations after the sale (capture,
ship, cancel lines, refund, change an order) are ``mercato.aftersale``'s, built on these;
cancelling an unpaid order stays here, as reconcile cancels one whose payment never came.

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
from ..capabilities import has_route
from ..money import Money
from ..payments import PaymentInfo
from ..pricing import Destination, Line
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
# Statuses an order never comes back to once anything of it shipped: nothing of it has.
UNSHIPPED_STATUSES = (m.AWAITING_PAYMENT, m.AUTHORIZED, m.PAID, m.CANCELLED)

SYSTEM = "system"


class OrderError(Exception):
    """An operation the order's state does not allow; the message says why, plainly."""


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
    record_change(order, old, new, actor=actor, reason=reason)
    hooks.mercato_order_status_changed(order=order, old=old, new=new)


def record_change(order: m.Order, old: str | None, new: str, *, actor: str, reason: str) -> None:
    """A row of the order's history. Set from the change's side: an unloaded history
    is not read (a query) just to be appended to; a loaded one gets it by the backref."""
    change = m.OrderStatusChange(
        order=order, old_status=old, new_status=new, actor=actor, reason=reason
    )
    dbsession = Session.object_session(order)
    if dbsession is not None:
        dbsession.add(change)


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


def destination_of(address: dict | None) -> Destination | None:
    if not address:
        return None
    return Destination(address["country"], address.get("region", ""), address["postal_code"])


def storefront_url(request, route_name: str, fallback: str, **kw) -> str:
    """The URL of the storefront's page ``route_name``, or of the api plugin's JSON
    ``fallback`` when no plugin serves that page (a headless shop, ``no:storefront``), or
    of the home page when neither is served (``no:storefront no:api``): a link the kernel
    or a plugin hands out works whichever pages the shop has."""
    for name in (route_name, fallback):
        if has_route(request, name):
            return request.route_url(name, **kw)
    return request.route_url("home")


def order_page_url(request, order: m.Order) -> str:
    """Where to send the shopper for ``order``: its confirmation page (secret link)."""
    return storefront_url(
        request, "checkout_confirmation", "api_order_link", token=order.access_token
    )


def order_lines_for_stock(order: m.Order) -> list[Line]:
    return [Line(sku=line.sku, quantity=line.quantity) for line in order.lines]


def fresh_lines(dbsession, order: m.Order) -> list[m.OrderLine]:
    """The order's lines as committed (under its row lock: as no one else can change them)."""
    return dbsession.scalars(
        select(m.OrderLine)
        .where(m.OrderLine.order_id == order.id)
        .order_by(m.OrderLine.position)
        .execution_options(populate_existing=True)
    ).all()


def restockable(dbsession, order: m.Order) -> list[tuple[m.OrderLine, int]]:
    """Every unit of the order not back in stock yet, by line, as committed: call it
    holding the order's row lock, so that no unit is put back twice."""
    lines = fresh_lines(dbsession, order)
    return [(line, line.quantity_restockable) for line in lines if line.quantity_restockable]


def refund_plan(order: m.Order, units: Mapping[str, int]) -> list[tuple[m.OrderLine, int]]:
    """The lines ``units`` (``{sku: quantity}``) refunds and how many units of each;
    ``OrderError`` for a SKU the order lacks, or more units than it sold and has not
    refunded yet."""
    for sku, quantity in units.items():
        sold = sum(line.quantity for line in order.lines if line.sku == sku)
        name = next((line.name for line in order.lines if line.sku == sku), sku)
        if sold and not 0 < quantity <= sold:
            raise OrderError(f"Order {order.number} has {sold} × {name}, not {quantity}.")
    return units_plan(order, units, charged_units, "refund")


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


def charged_units(line: m.OrderLine) -> int:
    """Units the customer pays for: neither refunded nor taken off before payment."""
    return line.quantity - line.quantity_refunded - line.quantity_released


def refund_amount_for(order: m.Order, units: Mapping[str, int], shipping: bool = False) -> Money:
    """What was charged for ``units`` (``{sku: quantity}``) of ``order`` and, with
    ``shipping``, for its shipping: each line's price, the tax added on top of it and
    its share of the order's adjustments (a discount), per unit, rounded half up.
    Raises ``OrderError`` for what the order did not sell or has refunded already."""
    if shipping and not order.shipping_method:
        raise OrderError(f"Order {order.number} has no shipping to refund.")
    if shipping and order.shipping_refunded:
        raise OrderError(f"The shipping of order {order.number} was refunded already.")
    # The discounts were shared among the lines bought, not those added later.
    subtotal = sum(line.total_amount for line in order.lines if not line.added) or 1
    adjusted = sum(adj["amount"] for adj in order.adjustments)
    amount = order.money(order.shipping_amount + order.shipping_tax_amount if shipping else 0)
    for line, quantity in refund_plan(order, units):
        # Exact fractions, one rounding: a float could be a cent off.
        share = 0 if line.added else Fraction(adjusted * line.total_amount, subtotal)
        charged = (line.total_amount + line.tax_amount + share) * quantity / line.quantity
        amount += order.money(math.floor(charged + Fraction(1, 2)))
    return amount


def amount_owed(order: m.Order) -> Money:
    """What the order's lines and shipping say the customer owes now: what was charged
    (``refund_amount_for``) for every unit neither refunded nor taken off before
    payment, and the shipping unless it was refunded."""
    units: dict[str, int] = {}
    for line in order.lines:
        if charged_units(line):
            units[line.sku] = units.get(line.sku, 0) + charged_units(line)
    shipping = bool(order.shipping_method) and not order.shipping_refunded
    return refund_amount_for(order, units, shipping=shipping)


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
    if order.status in CAPTURED_STATUSES:
        # A balance paid after a change: every captured payment of the order counts.
        order.amount_captured = captured_sum(order)
        return True
    if order.status != m.AUTHORIZED:
        return False
    order.amount_captured = amount.amount
    change_status(order, m.PAID, hooks=hooks, actor=actor, reason=reason)
    return True


def captured_sum(order: m.Order) -> int:
    dbsession = Session.object_session(order)
    dbsession.flush()
    return dbsession.scalar(
        select(func.coalesce(func.sum(m.Payment.amount_captured), 0)).where(
            m.Payment.order_id == order.id, m.Payment.status == m.PAYMENT_CAPTURED
        )
    )


def payment_lost(order: m.Order, *, hooks, dbsession, actor: str, reason: str) -> bool:
    """The payment failed or was voided before capture: cancel and put back in stock
    what is not back yet. The caller holds the order's row lock."""
    if order.status not in (m.AWAITING_PAYMENT, m.AUTHORIZED):
        return False
    change_status(order, m.CANCELLED, hooks=hooks, actor=actor, reason=reason)
    put_back(hooks, dbsession, restockable(dbsession, order))
    return True


def record_capture(registry, payment_id: int, result, reason: str) -> None:
    """What a capture outside any request transaction (tpc_finish) returned, on the
    payment and its order, in one transaction of its own: one commit, not two, in every
    checkout's wait. The order is locked before the payment, as a refund locks them."""
    with Session(registry.db_engine) as session, session.begin():
        order_id = session.scalar(select(m.Payment.order_id).where(m.Payment.id == payment_id))
        order = None
        if order_id is not None:
            order = session.get(m.Order, order_id, with_for_update=True)
        payment = session.get(m.Payment, payment_id, with_for_update=True, populate_existing=True)
        ledger.apply_result(payment, result)
        if order is not None:
            amount = result.amount or payment.amount_money
            payment_captured(order, amount, hooks=registry.hooks, actor=SYSTEM, reason=reason)


# ---------------------------------------------------------------------------
# Cancelling an unpaid order (staff, or reconcile for a payment that never came)
# ---------------------------------------------------------------------------


def lock_order(dbsession, order: m.Order) -> m.Order:
    # FOR NO KEY UPDATE: it still serializes every change to the order, yet lets rows
    # that point at it (a refund, committed on a connection of its own while this lock
    # is held) take their foreign key's share lock instead of waiting for us forever.
    return dbsession.get(
        m.Order, order.id, with_for_update={"key_share": True}, populate_existing=True
    )


def record_result(registry, payment: m.Payment, result) -> None:
    # Committed on its own first: the provider acted, whatever this transaction does.
    ledger.record(registry.db_engine, payment.id, result)
    ledger.apply_result(payment, result)


def cancel_order(registry, dbsession, order: m.Order, *, actor: str, reason: str) -> None:
    """Cancel an order not yet paid: void its authorization and put its stock back."""
    order = lock_order(dbsession, order)
    if order.status not in (m.AWAITING_PAYMENT, m.AUTHORIZED):
        raise OrderError(
            f"Order {order.number} is {order.status}: only unpaid orders can be cancelled; "
            "refund a paid order instead."
        )
    for payment in order.payments:  # the checkout's, and a balance paid after a change
        if payment.status in (m.PAYMENT_AUTHORIZED, m.PAYMENT_REQUIRES_ACTION):
            result, why = payments.void(registry, PaymentInfo.of(payment))
            if result is None:
                raise OrderError(f"The payment could not be cancelled: {why}")
            record_result(registry, payment, result)
    payment_lost(order, hooks=registry.hooks, dbsession=dbsession, actor=actor, reason=reason)
