"""A staff step on a return, from what the admin's form or the staff JSON API sent:
the same reading and the same answers for both."""

from dataclasses import dataclass, field

from mercato import Order

from . import services
from .models import ReturnRequest
from .schemas import read_amount, read_message, read_reason, units

ACTIONS = ("approve", "refuse", "receive", "refund")


@dataclass
class StaffInput:
    message: object = None  # approve (optional) and refuse (required)
    amount: object = None  # refund: empty for what was charged
    reason: object = None  # refund: why less than charged
    received: dict = field(default_factory=dict)  # receive: {sku: typed units}
    restock: dict = field(default_factory=dict)


def atomically(request, step):
    """``step()`` in a savepoint: when it refuses (a 4xx follows), what it changed is
    undone at once, so the page that says why shows the return as it still is."""
    with request.dbsession.begin_nested():
        return step()


def perform(
    request, order: Order, return_id: int, action: str, given: StaffInput
) -> tuple[ReturnRequest, bool]:
    """Run ``action``; ``(return, done)``, done False when it had been done already.
    Raises ``schemas.BadInput`` (400) or ``services.ReturnError``."""
    if action == "approve":
        return services.approve(request, order, return_id, read_message(given.message, False))
    if action == "refuse":
        return services.refuse(request, order, return_id, read_message(given.message, True))
    if action == "receive":
        received = {sku: units(v, f"received.{sku}") for sku, v in given.received.items()}
        restock = {sku: units(v, f"restock.{sku}") for sku, v in given.restock.items()}
        return services.receive(request, order, return_id, received, restock)
    amount = read_amount(given.amount, order.currency)
    return services.refund(request, order, return_id, amount, read_reason(given.reason))


def done_message(order: Order, ret: ReturnRequest, action: str, done: bool, locale: str) -> str:
    """What staff are told once the step is taken (or was taken already)."""
    if not done:
        return f"Return #{ret.id} was {services.DONE[ret.status]} already: nothing changed."
    if action == "approve":
        return f"Return #{ret.id} approved: the customer is asked to send the items back."
    if action == "refuse":
        return f"Return #{ret.id} refused: the customer is told why."
    if action == "receive":
        back = sum(line.quantity_restocked for line in ret.lines)
        return f"Return #{ret.id} received: {back} unit{'s' * (back != 1)} back in stock."
    return f"{order.money(ret.amount_refunded).format(locale)} refunded for return #{ret.id}."
