"""What happened, recorded for the endpoints that asked for it, in the transaction of
the change: an ``Event`` row (the exact body that will be signed and sent), one
``Delivery`` per enabled endpoint subscribed to its type, and an outbox message that
sends them right after the commit. A rolled-back change leaves none of them.

Bodies are ``{"id", "type", "created", "data"}``; ``data`` per type is listed in
docs/webhooks.md. Money is ``{"amount": minor units, "currency"}``.
"""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select

from mercato import enqueue

from .models import Delivery, Endpoint, Event

# The outbox event that carries an event id to ``mercato_notify`` after the commit.
DELIVER = "webhooks.deliver"

EVENT_TYPES = {
    "order.placed": "An order was placed (awaiting payment)",
    "order.paid": "An order's payment was taken",
    "order.shipped": "Lines of an order shipped (a parcel)",
    "order.refunded": "Money of an order went back to the customer",
    "order.cancelled": "An unpaid order was cancelled",
    "stock.low": "A variant's stock fell to the low-stock threshold",
    "product.changed": "Staff created, updated or deleted a product",
    "account.erased": "A customer's account was erased: erase them too",
}
# The order.shipped event of this transaction, per order: the parcel's details
# (mercato_shipment_created) follow the status change that records the shipping.
_SHIPPED = "mercato_webhooks.shipped"


# Built once, and of the table, not the mapped class: asked on every order status change,
# in every shop, mostly of none (the ORM's statement building and compile-state were
# 240 µs of CPU a call).
_ENDPOINTS = Endpoint.__table__.c
_SUBSCRIBED = select(_ENDPOINTS.id).where(
    _ENDPOINTS.enabled, _ENDPOINTS.events.contains(bindparam("types"))
)
# The answers, kept for the rest of the transaction that asked: an import of 20,000
# products asked 20,000 times for the same none (a third of the command's time).
_ASKED = "mercato_webhooks.subscribed"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def record(dbsession, event_type: str, data: dict | Callable[[], dict]) -> Event | None:
    """Record ``event_type`` with ``data`` for every enabled endpoint that wants it;
    ``None`` (and nothing written) when no endpoint does. ``data`` may be a function,
    called only then: an order's lines are not read for a shop without endpoints (a
    fifth of a checkout's own time went to events nobody was sent, bench/README.md)."""
    endpoint_ids = _subscribed(dbsession, event_type)
    if not endpoint_ids:
        return None
    now = datetime.now(UTC)
    event = Event(id=new_event_id(), type=event_type, created_at=now)
    event.body = _body(event, data() if callable(data) else data)
    dbsession.add(event)
    dbsession.add_all(
        Delivery(event_id=event.id, endpoint_id=endpoint_id, next_attempt_at=now)
        for endpoint_id in endpoint_ids
    )
    enqueue(dbsession, DELIVER, {"event": event.id})
    return event


def _subscribed(dbsession, event_type: str) -> list[int]:
    """The enabled endpoints that want ``event_type``, asked once per transaction."""
    kept = dbsession.info.get(_ASKED)
    if kept is None or kept[0] is not dbsession.get_transaction():
        kept = None
    elif event_type in kept[1]:
        return kept[1][event_type]
    endpoint_ids = dbsession.scalars(_SUBSCRIBED, {"types": [event_type]}).all()
    if kept is None:  # the query began the transaction if none had begun
        kept = dbsession.info[_ASKED] = (dbsession.get_transaction(), {})
    kept[1][event_type] = endpoint_ids
    return endpoint_ids


def _body(event: Event, data: dict) -> str:
    created = event.created_at.isoformat(timespec="seconds")
    return json.dumps(
        {"id": event.id, "type": event.type, "created": created, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def order_json(order) -> dict:
    """An order event's data: ``{"order": order_data(order)}``."""
    return {"order": order_data(order)}


def order_data(order) -> dict:
    """An order as integrations need it: what was bought, for how much, for whom."""
    money = lambda amount: _money(amount, order.currency)  # noqa: E731
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "subtotal": money(order.subtotal_amount),
        "shipping": money(order.shipping_amount),
        "tax": money(order.tax_amount),
        "total": money(order.total_amount),
        "amount_captured": money(order.amount_captured or 0),
        "amount_refunded": money(order.amount_refunded or 0),
        "shipping_method": order.shipping_method,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_amount),
                "total": money(line.total_amount),
                "quantity_shipped": line.quantity_shipped or 0,
                "quantity_refunded": line.quantity_refunded or 0,
            }
            for line in order.lines
        ],
    }


def order_shipped(dbsession, order) -> None:
    event = record(dbsession, "order.shipped", {"order": order_data(order), "shipment": None})
    if event is not None:
        dbsession.info.setdefault(_SHIPPED, {})[order.id] = event


def shipment_details(dbsession, order, shipment: dict) -> None:
    """Add the parcel (lines, carrier, tracking) to this transaction's order.shipped."""
    event = dbsession.info.get(_SHIPPED, {}).pop(order.id, None)
    if event is None:
        return
    body = json.loads(event.body)
    body["data"]["shipment"] = shipment
    event.body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def order_refunded(dbsession, order, refund) -> None:
    data = {
        "order": order_data(order),
        "refund": {
            "id": refund.id,
            "amount": _money(refund.amount, order.currency),
            "reason": refund.reason,
        },
    }
    record(dbsession, "order.refunded", data)
