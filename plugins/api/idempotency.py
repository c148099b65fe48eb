"""The ``Idempotency-Key`` header of the staff API's refunds and cancellations.

A client that retries a request (a timeout, a dropped connection) sends the same key
again: the kernel then refunds once (``request_key=`` of ``mercato.refund_order`` and
``mercato.cancel_order_lines``), and the API answers with the refund the first request
made instead of doing anything twice (``mercato.refund_made_before``).
"""

import re

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
