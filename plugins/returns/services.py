"""Returns: what a customer may send back, and each step staff take.

    requested ─→ approved ─→ received ─→ refunded
        │            │
        └────────────┴─→ refused

A customer may return units that shipped (``OrderLine.quantity_shipped``), within
``mercato.returns.window_days`` of the order's last shipment (the newest change of its
status to ``partially_fulfilled`` or ``fulfilled``), less the units already in another
return (asked for while open; received once received) and those refunded already.

Every step holds the order's row lock (as the kernel's own order operations do), so
two requests, or a double click, are taken one after the other and the second sees
what the first did: a step asked twice is done once.

Stock comes back when the parcel is received, for the units staff put back (damaged
goods are not): under the order's lock, never more per line than was sold and is not
back yet (``OrderLine.quantity_restocked``, which the kernel checks against the units
sold), so a later refund or cancellation through the kernel never puts them back again.
The refund then goes through ``mercato.refund_order`` without restocking, naming the
units received: the kernel refunds at most what was charged for them, once.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from mercato import (
    FULFILLED,
    PARTIALLY_FULFILLED,
    Line,
    Money,
    Order,
    OrderError,
    Refund,
    actor_of,
    enqueue,
    refund_amount_for,
    refund_order,
    storefront_url,
)

from .models import (
    APPROVED,
    RECEIVED,
    REFUNDED,
    REFUSED,
    REQUESTED,
    ReturnEvent,
    ReturnLine,
    ReturnRequest,
)

NEXT = {
    REQUESTED: (APPROVED, REFUSED),
    APPROVED: (RECEIVED, REFUSED),
    RECEIVED: (REFUNDED,),
}
# The status in words, as the customer reads it.
STATUS_WORDS = {
    REQUESTED: "Requested: we will answer soon",
    APPROVED: "Approved: please send the items back",
    REFUSED: "Refused",
    RECEIVED: "Received: your refund is on its way",
    REFUNDED: "Refunded",
}
# How staff read it.
STAFF_WORDS = {
    REQUESTED: "To decide",
    APPROVED: "Approved, awaiting the parcel",
    REFUSED: "Refused",
    RECEIVED: "Received, to refund",
    REFUNDED: "Refunded",
}
# A step of the return's history, as staff read it.
EVENT_WORDS = {
    REQUESTED: "Asked by the customer",
    APPROVED: "Approved",
    REFUSED: "Refused",
    RECEIVED: "Parcel received",
    REFUNDED: "Refunded",
}
DONE = {APPROVED: "approved", REFUSED: "refused", RECEIVED: "received", REFUNDED: "refunded"}


class ReturnError(Exception):
    """A step the return or its order does not allow (409), or bad input (400); the
    message says why, plainly."""

    def __init__(self, message: str, status: int = 409, field: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def settings_of(request) -> dict:
    return request.registry.settings["mercato.returns"]


# ---------------------------------------------------------------------------
# What may be returned
# ---------------------------------------------------------------------------


def returns_of(dbsession, order: Order) -> list[ReturnRequest]:
    return dbsession.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.order_id == order.id)
        .order_by(ReturnRequest.id)
        .execution_options(populate_existing=True)
    ).all()


def shipped_at(order: Order) -> datetime | None:
    """When the order's last shipment left: the window counts from there."""
    moments = [
        change.created_at
        for change in order.history
        if change.new_status in (PARTIALLY_FULFILLED, FULFILLED) and change.created_at
    ]
    return max(moments, default=None)


def window_end(order: Order, days: int) -> datetime | None:
    """The end of the order's return window; None when nothing shipped or returns are off."""
    shipped = shipped_at(order)
    if shipped is None or days <= 0:
        return None
    return shipped + timedelta(days=days)


def returnable(order: Order, returns: list[ReturnRequest]) -> dict[str, int]:
    """``{sku: units}`` the customer may still ask to return (zeros included)."""
    shipped: dict[str, int] = {}
    not_refunded: dict[str, int] = {}
    for line in order.lines:
        shipped[line.sku] = shipped.get(line.sku, 0) + line.quantity_shipped
        not_refunded[line.sku] = not_refunded.get(line.sku, 0) + (
            line.quantity - line.quantity_refunded
        )
    for other in returns:
        if other.status == REFUSED:
            continue
        for line in other.lines:
            # Asked for while open; what came back once received.
            units = (
                line.quantity if other.status in (REQUESTED, APPROVED) else line.quantity_received
            )
            shipped[line.sku] = shipped.get(line.sku, 0) - units
            if other.status != REFUNDED:  # a refunded return is in quantity_refunded
                not_refunded[line.sku] = not_refunded.get(line.sku, 0) - units
    return {sku: max(0, min(shipped[sku], not_refunded[sku])) for sku in shipped}


def why_not_returnable(order: Order, returns: list[ReturnRequest], days: int, now=None):
    """Why the customer cannot ask to return anything of ``order`` now, or None."""
    if days <= 0:
        return "This shop does not take returns online: please contact us."
    if shipped_at(order) is None:
        return f"Nothing of order {order.number} has shipped yet, so there is nothing to return."
    end = window_end(order, days)
    if (now or datetime.now(UTC)) > end:
        return (
            f"The {days}-day return window of order {order.number} closed on "
            f"{end:%Y-%m-%d}: please contact us."
        )
    if not any(returnable(order, returns).values()):
        return f"Everything of order {order.number} that shipped is already returned or refunded."
    return None


def names_of(order: Order) -> dict[str, str]:
    return {line.sku: line.name for line in reversed(order.lines)}


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------


def lock(dbsession, order: Order) -> Order:
    """The order under its row lock, its lines as committed (FOR NO KEY UPDATE, as the
    kernel locks it: rows pointing at it can still be written meanwhile)."""
    order = dbsession.get(
        Order, order.id, with_for_update={"key_share": True}, populate_existing=True
    )
    for line in order.lines:
        dbsession.refresh(line)
    return order


def locked_return(dbsession, order: Order, return_id: int) -> tuple[Order, ReturnRequest]:
    """The order locked and its return ``return_id`` as committed; 404 (ReturnError)
    when the order has no such return."""
    order = lock(dbsession, order)
    found = dbsession.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.id == return_id, ReturnRequest.order_id == order.id)
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise ReturnError(f"Order {order.number} has no return #{return_id}.", 404)
    for line in found.lines:
        dbsession.refresh(line)
    return order, found


def _move(ret: ReturnRequest, new: str, actor: str, note: str = "") -> bool:
    """Record the step; False when the return took it already (a double click)."""
    if ret.status == new:
        return False
    if new not in NEXT.get(ret.status, ()):
        raise ReturnError(
            f"Return #{ret.id} is {STAFF_WORDS[ret.status].lower()}: it cannot be {DONE[new]} now."
        )
    ret.status = new
    ret.events.append(ReturnEvent(status=new, actor=actor, note=note))
    return True


def _notify(request, order: Order, ret: ReturnRequest, event: str) -> None:
    """Queue the customer's email, in the same transaction as the step."""
    amount = ret.amount_refunded
    enqueue(
        request.dbsession,
        event,
        {
            "email": order.email,
            "number": order.number,
            "customer_name": (order.shipping_address or {}).get("name", ""),
            # The order's secret link: the customer follows the return there, logged in
            # or not.
            "order_url": storefront_url(
                request, "order_link", "api_order_link", token=order.access_token
            ),
            "return_id": ret.id,
            "reason": ret.reason,
            "details": ret.details,
            "message": ret.staff_message,
            "lines": [
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "received": line.quantity_received,
                    "restocked": line.quantity_restocked,
                }
                for line in ret.lines
            ],
            "amount": Money(amount, order.currency).to_json() if amount else None,
        },
    )


def request_return(
    request, order: Order, wanted: dict[str, int], reason: str, details: str, key: str = ""
) -> tuple[ReturnRequest, bool]:
    """The customer asks to return ``wanted`` (``{sku: units}``). Returns the return
    and whether it is new: the same ``key`` (the form's nonce, the Idempotency-Key
    header) finds the return it made the first time."""
    dbsession = request.dbsession
    order = lock(dbsession, order)
    if key:
        found = dbsession.scalars(
            select(ReturnRequest).where(
                ReturnRequest.order_id == order.id, ReturnRequest.request_key == key
            )
        ).first()
        if found is not None:
            return found, False
    returns = returns_of(dbsession, order)
    problem = why_not_returnable(order, returns, settings_of(request)["window_days"])
    if problem:
        raise ReturnError(problem, 409)
    left, names = returnable(order, returns), names_of(order)
    for sku, units in wanted.items():
        if sku not in names:
            raise ReturnError(f"Order {order.number} has no item {sku[:64]}.", 400, "lines")
        if not left[sku]:
            raise ReturnError(
                f"{names[sku]} of order {order.number} cannot be returned: it has not "
                "shipped yet, or it is already returned or refunded.",
                400,
                f"quantity.{sku}",
            )
        if units > left[sku]:
            raise ReturnError(
                f"You can return at most {left[sku]} × {names[sku]} of order {order.number}.",
                400,
                f"quantity.{sku}",
            )
    actor = actor_of(request)
    ret = ReturnRequest(
        order_id=order.id,
        status=REQUESTED,
        reason=reason,
        details=details,
        staff_message="",
        request_key=key or None,
    )
    ret.lines = [ReturnLine(sku=sku, name=names[sku], quantity=n) for sku, n in wanted.items()]
    ret.events = [ReturnEvent(status=REQUESTED, actor=actor, note=customer_words(ret))]
    dbsession.add(ret)
    dbsession.flush()
    request.hooks.mercato_return_requested(
        order=order,
        return_request={"id": ret.id, "lines": dict(wanted), "reason": customer_words(ret)},
    )
    _notify(request, order, ret, "return.requested")
    return ret, True


def customer_words(ret: ReturnRequest) -> str:
    """The reason chosen and the customer's comment: ``"Too small: the sleeves …"``."""
    return f"{ret.reason}: {ret.details}" if ret.details else ret.reason


def approve(request, order: Order, return_id: int, message: str) -> tuple[ReturnRequest, bool]:
    order, ret = locked_return(request.dbsession, order, return_id)
    if not _move(ret, APPROVED, actor_of(request), message):
        return ret, False
    ret.staff_message = message
    _notify(request, order, ret, "return.approved")
    return ret, True


def refuse(request, order: Order, return_id: int, message: str) -> tuple[ReturnRequest, bool]:
    order, ret = locked_return(request.dbsession, order, return_id)
    if not _move(ret, REFUSED, actor_of(request), message):
        return ret, False
    ret.staff_message = message
    _notify(request, order, ret, "return.refused")
    return ret, True


def receive(
    request, order: Order, return_id: int, received: dict[str, int], restock: dict[str, int]
) -> tuple[ReturnRequest, bool]:
    """The parcel arrived with ``received`` (``{sku: units}``); ``restock`` of them go
    back in stock (damaged goods: 0)."""
    order, ret = locked_return(request.dbsession, order, return_id)
    if ret.status == RECEIVED:
        return ret, False
    asked = {line.sku: line.quantity for line in ret.lines}
    for sku in set(received) | set(restock):
        if sku not in asked:
            raise ReturnError(f"Return #{ret.id} has no item {sku[:64]}.", 400, "lines")
    for sku, quantity in asked.items():
        came, back = received.get(sku, 0), restock.get(sku, 0)
        if came > quantity:
            raise ReturnError(
                f"The customer asked to return {quantity} × {sku}, not {came}.",
                400,
                f"received.{sku}",
            )
        if back > came:
            raise ReturnError(
                f"Only what came back can go back in stock: {came} × {sku}.",
                400,
                f"restock.{sku}",
            )
    if not any(received.values()):
        raise ReturnError(
            "Nothing came back? Refuse the return instead, with a word to the customer.",
            400,
            "lines",
        )
    _move(ret, RECEIVED, actor_of(request))
    for line in ret.lines:
        line.quantity_received = received.get(line.sku, 0)
        line.quantity_restocked = restock.get(line.sku, 0)
    put_back(request, order, ret.units("quantity_restocked"))
    request.hooks.mercato_return_received(
        order=order,
        return_request={
            "id": ret.id,
            "lines": ret.units("quantity_received"),
            "restocked": ret.units("quantity_restocked"),
        },
    )
    _notify(request, order, ret, "return.received")
    return ret, True


def put_back(request, order: Order, units: dict[str, int]) -> None:
    """Put ``units`` back in stock and count them on the order's lines (the caller holds
    the order's lock and read its lines as committed)."""
    for sku, quantity in units.items():
        same = [line for line in order.lines if line.sku == sku]
        left = sum(line.quantity - line.quantity_restocked for line in same)
        if quantity > left:
            raise ReturnError(
                f"Only {left} × {sku} of order {order.number} can still go back in stock "
                "(the rest is back already).",
                409,
                f"restock.{sku}",
            )
        for line in same:
            units_back = min(quantity, line.quantity - line.quantity_restocked)
            line.quantity_restocked += units_back
            quantity -= units_back
    if units:
        request.hooks.mercato_release_stock(
            dbsession=request.dbsession,
            lines=[Line(sku=sku, quantity=quantity) for sku, quantity in units.items()],
        )


def refund_due(order: Order, ret: ReturnRequest) -> Money:
    """What was charged for the units that came back (``mercato.refund_amount_for``)."""
    try:
        return refund_amount_for(order, ret.units("quantity_received"))
    except OrderError as exc:
        raise ReturnError(str(exc)) from None


def _refund_key(dbsession, order: Order, ret: ReturnRequest) -> str:
    """The refund's request key: the same for a double click or a retried request (one
    refund), a new one after the provider refused the last attempt (which the kernel
    keeps as failed under its key), so staff can try again."""
    failed = dbsession.scalar(
        select(func.count())
        .select_from(Refund)
        .where(
            Refund.order_id == order.id,
            Refund.request_key.like(f"return-{ret.id}-%"),
            Refund.status == "failed",
        )
    )
    return f"return-{ret.id}-{failed + 1}"


def refund(
    request, order: Order, return_id: int, amount: Money | None, reason: str
) -> tuple[ReturnRequest, bool]:
    """Refund what was charged for the units received, or less (``amount``) with a
    ``reason``; the kernel refunds at most that, once per unit."""
    dbsession = request.dbsession
    order, ret = locked_return(dbsession, order, return_id)
    if ret.status == REFUNDED:
        return ret, False
    if ret.status != RECEIVED:
        raise ReturnError(
            f"Return #{ret.id} is {STAFF_WORDS[ret.status].lower()}: "
            "mark the parcel received before refunding it."
        )
    due = refund_due(order, ret)
    if amount is None:
        amount = due
    elif amount > due:
        raise ReturnError(
            f"What came back was charged {due.format()}: refund at most that.", 400, "amount"
        )
    elif amount < due and not reason:
        raise ReturnError(
            f"Say why you refund less than the {due.format()} charged.", 400, "reason"
        )
    if amount.amount <= 0:
        raise ReturnError("There is nothing to refund: the units were charged 0.", 409)
    actor = actor_of(request)
    try:
        done = refund_order(
            request.registry,
            dbsession,
            order,
            amount,
            actor=actor,
            reason=f"return #{ret.id}" + (f": {reason}" if reason else ""),
            restock=False,  # back in stock when received
            lines=ret.units("quantity_received"),
            request_key=_refund_key(dbsession, order, ret),
            notify=False,  # the customer hears of it as this return's refund
        )
    except OrderError as exc:
        raise ReturnError(str(exc)) from None
    ret.refund_id = done.id
    ret.amount_refunded = done.amount
    ret.staff_message = reason  # why less than charged, told the customer
    _move(ret, REFUNDED, actor, reason)
    _notify(request, order, ret, "return.refunded")
    return ret, True
