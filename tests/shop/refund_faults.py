"""Stand-ins for one hook each. ``mercato_order_refunded`` fails the request's
transaction after the payment provider has refunded, as a serialization conflict
(retried by pyramid_retry) or a crash would: ``FAULTS`` says how many of the next calls
fail and with what. ``mercato_refund_payment`` loses the provider's answer, as a
timeout or a process dying mid-call does: ``LOST`` says for how many of the next
refunds, and whether the provider was asked first (``"after"``) or not (``"before"``)."""

from mercato import hookimpl

FAULTS: list[type[Exception]] = []
LOST: list[str] = []


@hookimpl
def mercato_order_refunded(order, refund):
    if FAULTS:
        raise FAULTS.pop(0)(f"the transaction of refund {refund.id} fails after the provider")


@hookimpl(wrapper=True)
def mercato_refund_payment(payment, amount, idempotency_key, registry):
    when = LOST.pop(0) if LOST else None
    if when == "before":
        raise TimeoutError("the refund never reached the provider")
    result = yield
    if when == "after":
        raise TimeoutError("the provider's answer was lost")
    return result
