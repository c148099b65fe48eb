"""A balance left to pay after a change raised an order: what is due, and paying it
through the payment link on the customer's order page (or the JSON API).

Built on the checkout unit's payment primitives (``lock_checkout``,
``authorize_payment``, ``hold_payment``): a balance is authorized, held by the
transaction and captured exactly as a checkout's payment is.
"""

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mercato.exceptions import CartProblem
from mercato.money import Money
from mercato.orders import models as m
from mercato.orders.checkout import authorize_payment, hold_payment, lock_checkout
from mercato.orders.services import CAPTURED_STATUSES, actor_of, amount_owed, record_change


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
    return order.money(max(0, shortfall(order)))


def shortfall(order: m.Order) -> int:
    """Owed less held less goodwill: negative when the payments hold more than owed."""
    goodwill = Session.object_session(order).scalar(
        select(func.coalesce(func.sum(m.Refund.amount), 0)).where(
            m.Refund.order_id == order.id, m.Refund.goodwill, m.Refund.status == "succeeded"
        )
    )
    return (amount_owed(order) - amount_held(order)).amount - int(goodwill)


@dataclass(frozen=True)
class BalanceCharge:
    """What the payment hooks receive as ``order`` for a balance: the order's number,
    checkout id and email, and the balance as ``total``."""

    id: int
    number: str
    checkout_id: str
    email: str
    total: Money

    @property
    def total_amount(self) -> int:
        return self.total.amount


def pay_balance(request, order: m.Order, method_code: str, details) -> m.Payment:
    """Pay what a change left to pay on ``order`` (``balance_due``) with a payment of
    its own, authorized as at checkout (a ``requires_action`` payment is finished by
    the provider's return page, as at checkout), held by the transaction, and captured
    after the commit when the order's money is taken already (otherwise with the rest,
    when the order is captured). One payment of a balance at a time: a double click is
    busy, then finds nothing left to pay. ``CheckoutError`` says why not, for the
    customer."""
    lock_checkout(request, f"{order.checkout_id}:balance")
    request.dbsession.expire_all()  # what a payment that just finished changed
    due = balance_due(order)
    if not due.amount:
        raise CartProblem(f"Nothing is left to pay for order {order.number}.")
    charge = BalanceCharge(order.id, order.number, order.checkout_id, order.email, due)
    payment = authorize_payment(request, charge, method_code, details)
    order = request.dbsession.get(m.Order, order.id, with_for_update=True, populate_existing=True)
    if balance_due(order) != due:
        raise CartProblem("The order changed while you paid: nothing was charged. Try again.")
    request.dbsession.execute(
        update(m.Payment)
        .where(m.Payment.id == payment.id, m.Payment.order_id.is_(None))
        .values(order_id=order.id)
    )
    hold_payment(
        request, payment, expected_amount=due.amount, capture=order.status in CAPTURED_STATUSES
    )
    record_change(
        order,
        order.status,
        order.status,
        actor=actor_of(request),
        reason=f"balance of {due.format()}: payment {payment.status} "
        f"({payment.provider} {payment.reference})",
    )
    return payment
