"""The customer's email about a change to their order, queued in its transaction."""

from mercato.orders import models as m
from mercato.outbox import enqueue


def notify_customer(dbsession, event: str, order: m.Order, **details) -> None:
    """Queue the customer's email about ``order`` in the same transaction as the change."""
    payload = {
        "email": order.email,
        "number": order.number,
        "customer_name": (order.shipping_address or {}).get("name", ""),
        "total": order.total.to_json(),
        **details,
    }
    enqueue(dbsession, event, payload)
