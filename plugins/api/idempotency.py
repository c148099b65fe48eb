"""The ``Idempotency-Key`` header of the staff API's refunds and cancellations.

A client that retries a request (a timeout, a dropped connection) sends the same key
again: the kernel then refunds once (``request_key=`` of ``mercato.refund_order`` and
``mercato.cancel_order_lines``), and the API answers with the refund the first request
made instead of doing anything twice.
"""

import re

from sqlalchemy import select

from mercato import Order, Refund

from .schemas import BadBody

HEADER = "Idempotency-Key"
# Printable ASCII without spaces, at most the 64 characters the kernel keeps.
KEY = re.compile(r"[!-~]{1,64}")


def request_key(request) -> str | None:
    """The request's key, None without one; ``BadBody`` for one the kernel cannot keep."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY.fullmatch(key):
        raise BadBody(
            f"The {HEADER} header must be 1 to 64 printable characters without spaces, "
            "such as a UUID.",
            HEADER,
        )
    return key


def replayed(dbsession, order: Order, key: str | None) -> Refund | None:
    """The refund an earlier request with ``key`` made for ``order``, or None.

    Looked up under the order's row lock, held to the end of the request: a retry sent
    while the first request runs waits for it to commit, then finds its refund here,
    before anything reads what the first one changed (what is left to ship or refund).
    A refund the provider refused is not a replay: the kernel says why, if asked again.
    """
    if key is None:
        return None
    dbsession.get(Order, order.id, with_for_update={"key_share": True}, populate_existing=True)
    return dbsession.scalars(
        select(Refund).where(
            Refund.order_id == order.id, Refund.request_key == key, Refund.status != "failed"
        )
    ).first()
