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
from ..capabilities import has_route
from ..exceptions import OutOfStock
from ..money import Money
from ..outbox import enqueue
from ..payments import PaymentInfo
from ..pricing import Destination, Line, PricingContext, describe_skus
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


class BadChange(OrderError):
    """A change that names what the order or the shop does not have (bad input: a 400)."""


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
    return units_plan(order, units, charged_units, "refund")


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


def amount_held(order: m.Order) -> Money:
    """The money the order's payments hold: authorized, or captured and not refunded."""
    held = 0
    for payment in order.payments:
        if payment.status == m.PAYMENT_AUTHORIZED:
            held += payment.amount
        elif payment.status == m.PAYMENT_CAPTURED:
            held += payment.amount_captured - payment.amount_refunded
    return order.money(held)


def balance_due(order: m.Order) -> Money:
    """What the customer still has to pay after a change raised the order (a payment
    link on their order page pays it): owed, less what the payments hold and what the
    shop gave back as goodwill; zero for an order not authorized or paid."""
    if order.status not in (m.AUTHORIZED, *CAPTURED_STATUSES):
        return order.money(0)
    return order.money(max(0, _shortfall(order)))


def _shortfall(order: m.Order) -> int:
    """Owed less held less goodwill: negative when the payments hold more than owed."""
    goodwill = Session.object_session(order).scalar(
        select(func.coalesce(func.sum(m.Refund.amount), 0)).where(
            m.Refund.order_id == order.id, m.Refund.goodwill, m.Refund.status == "succeeded"
        )
    )
    return (amount_owed(order) - amount_held(order)).amount - int(goodwill)


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
    for payment in order.payments:  # the checkout's, and a balance paid after a change
        if payment.status in (m.PAYMENT_AUTHORIZED, m.PAYMENT_REQUIRES_ACTION):
            result, why = payments.void(registry, PaymentInfo.of(payment))
            if result is None:
                raise OrderError(f"The payment could not be cancelled: {why}")
            _record(registry, payment, result)
    payment_lost(order, hooks=registry.hooks, dbsession=dbsession, actor=actor, reason=reason)


def capture(registry, dbsession, order: m.Order, *, actor: str, reason: str) -> None:
    """Take the authorized money now (when the shop captures on fulfilment): what the
    order owes, no more (less than authorized when units were taken off), from its
    authorizations in turn; one with nothing left to take is voided."""
    order = _lock(dbsession, order)
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
            _record(registry, payment, result)
        left -= payment.amount_captured if payment.status == m.PAYMENT_CAPTURED else 0
    captured = sum(p.amount_captured for p in held if p.status == m.PAYMENT_CAPTURED)
    payment_captured(order, order.money(captured), hooks=registry.hooks, actor=actor, reason=reason)


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
    if (due := balance_due(order)).amount:
        raise OrderError(
            f"Order {order.number} has {due.format()} left to pay since it changed: it ships "
            "once the customer has paid it (the link is on their order page)."
        )
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
    notify: bool = True,
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
            f"Order {order.number} is authorized, not paid: change the order to take units "
            "off, or cancel it whole."
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
        notify=notify,
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
    goodwill: bool | None = None,
    notify: bool = True,
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
    # The payment with the most left to refund (a balance paid after a change is a second).
    captured = [p for p in order.payments if p.status == m.PAYMENT_CAPTURED]
    payment = max(captured, key=lambda p: p.amount_captured - p.amount_refunded, default=None)
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
            goodwill=not (lines or shipping) if goodwill is None else goodwill,
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
    if notify:
        _notify_customer(dbsession, "order.refunded", order, amount=amount.to_json())
    registry.hooks.mercato_order_refunded(order=order, refund=row)
    return row


# ---------------------------------------------------------------------------
# Order changes before shipping: units taken off, lines added
# ---------------------------------------------------------------------------

# Orders that may still change: their money is held or taken, nothing has shipped.
CHANGEABLE_STATUSES = (m.AUTHORIZED, m.PAID, m.PARTIALLY_REFUNDED)


def change_order(
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

    - taken off a paid order: back in stock, and refunded (``cancel_lines``) — less
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
    order = _lock(dbsession, order)
    if request_key and (done := _change_asked_before(dbsession, order, request_key)):
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
        change = _take_off(request, order, remove, actor=actor, reason=reason)
    else:
        change = _add(request, order, add, before, actor=actor, reason=reason)
    change.request_key = request_key or None
    dbsession.add(change)
    dbsession.flush()
    due = balance_due(order)
    units = ", ".join(f"{n} × {sku}" for sku, n in change.lines.items())
    verb = "added" if add else "taken off"
    order.history.append(
        m.OrderStatusChange(
            old_status=order.status,
            new_status=order.status,
            actor=actor,
            reason=f"{units} {verb}"
            + (f": {reason}" if reason else "")
            + (f"; {due.format()} to pay" if due.amount else ""),
        )
    )
    refunded = dbsession.get(m.Refund, change.refund_id) if change.refund_id else None
    _notify_customer(
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


def _change_asked_before(dbsession, order: m.Order, request_key: str) -> m.OrderChange | None:
    return dbsession.scalars(
        select(m.OrderChange).where(
            m.OrderChange.order_id == order.id, m.OrderChange.request_key == request_key
        )
    ).first()


def _take_off(request, order: m.Order, units: dict[str, int], *, actor, reason) -> m.OrderChange:
    registry, dbsession = request.registry, request.dbsession
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
        refunded = cancel_lines(
            registry,
            dbsession,
            order,
            units,
            actor=actor,
            reason=reason or "taken off",
            notify=False,  # the change's email tells of the refund
        )
        return m.OrderChange(
            order_id=order.id,
            kind="lines_cancelled",  # ``cancel_lines`` called mercato_order_changed
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
        cancel(registry, dbsession, order, actor=actor, reason=reason or "every line taken off")
    # A balance was still to pay: refund only what was paid beyond what is owed now.
    elif order.status != m.AUTHORIZED and (beyond := -_shortfall(order)) > 0:
        refunded = refund(
            registry,
            dbsession,
            order,
            order.money(beyond),
            actor=actor,
            reason=reason or "taken off",
            goodwill=False,  # what the released units no longer owe
            notify=False,  # the change's email tells of the refund
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


# Their names in the public API (the staff pages of the admin and the JSON API).
cancel_order = cancel
capture_order = capture
fulfil_order = fulfil
refund_order = refund
ship_order_lines = ship_lines
cancel_order_lines = cancel_lines
change_order_lines = change_order
