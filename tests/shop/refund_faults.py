"""A stand-in for one hook: ``mercato_order_refunded`` fails the request's transaction
after the payment provider has refunded, as a serialization conflict (retried by
pyramid_retry) or a crash would. ``FAULTS`` says how many of the next calls fail and
with what."""

from mercato import hookimpl

FAULTS: list[type[Exception]] = []


@hookimpl
def mercato_order_refunded(order, refund):
    if FAULTS:
        raise FAULTS.pop(0)(f"the transaction of refund {refund.id} fails after the provider")
