"""A refund's life after the provider was asked: its answer recorded on its row and
payment (``record_refund``), its effects applied to its order once (``apply_refund``),
and what a crash left of either, finished by ``mercato reconcile`` (``reconcile``: this
plugin's ``mercato_reconcile``).

A refund row is committed before the provider is asked, with what it does to the order
(``effects``). Should the request die before the provider's answer is recorded, the row
stays ``pending`` (in flight: never refunded twice) until reconcile asks again with its
key; should it fail after, the row is ``succeeded`` and not ``applied`` until the
request's retry, a request with its key, or reconcile applies it.
"""

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato import payments
from mercato.money import Money
from mercato.orders import ledger
from mercato.orders import models as m
from mercato.orders.services import change_status, charged_units, fresh_lines, put_back
from mercato.payments import PaymentInfo, PaymentResult

from .notify import notify_customer

log = logging.getLogger(__name__)

BATCH = 500


def record_refund(session: Session, refund: m.Refund, result: PaymentResult) -> None:
    """Write the provider's answer to the ``pending`` ``refund`` (its row locked by the
    caller) on it and its payment: ``succeeded`` with the money counted on the payment,
    ``failed``, or still ``pending`` when unanswered (reconcile asks again)."""
    if result.status == "refunded":
        refund.status, refund.reference = "succeeded", result.reference
        # Read again under the lock: another refund of this payment may have counted
        # its money since this session first loaded it (reconcile's does).
        payment = session.get(
            m.Payment, refund.payment_id, with_for_update=True, populate_existing=True
        )
        payment.amount_refunded += refund.amount
    elif result.status == "failed":
        refund.status, refund.last_error = "failed", result.message
    else:
        refund.last_error = result.message[: ledger.ERROR_LENGTH] or "no answer"


def apply_refund(registry, dbsession, order: m.Order, refund: m.Refund) -> None:
    """Give ``order`` what the succeeded ``refund`` returned, once (``applied``): the
    money counted, the units of ``effects["lines"]`` refunded and of ``["cancel"]``
    cancelled, the shipping, the stock of ``["restock"]`` put back, the status, the
    customer's email (``["notify"]``), then ``mercato_order_refunded`` (and
    ``mercato_order_changed`` for cancelled units).

    Called holding the order's row lock, in the transaction that records it: the
    refund's own request, or — when that request failed after the provider refunded —
    its retry, a request with the same key, or reconcile. Units another operation took
    meanwhile are not counted twice: each line gives at most what it has left."""
    if refund.applied or refund.status != "succeeded":
        return
    effects = refund.effects or {}
    lines = fresh_lines(dbsession, order)
    order.amount_refunded += refund.amount
    for line, units in _spread(lines, effects.get("lines", {}), charged_units):
        line.quantity_refunded += units
    cancelled = effects.get("cancel", {})
    for line, units in _spread(lines, cancelled, lambda line: line.quantity_to_ship):
        line.quantity_cancelled += units
    order.shipping_refunded = order.shipping_refunded or bool(effects.get("shipping"))
    new = m.REFUNDED if order.amount_refunded >= order.amount_captured else m.PARTIALLY_REFUNDED
    hooks = registry.hooks
    change_status(order, new, hooks=hooks, actor=refund.actor, reason=refund.reason or "refund")
    restock = effects.get("restock", {})
    put_back(hooks, dbsession, _spread(lines, restock, lambda line: line.quantity_restockable))
    refund.applied = True
    if effects.get("notify"):
        amount = order.money(refund.amount).to_json()
        notify_customer(dbsession, "order.refunded", order, amount=amount)
    hooks.mercato_order_refunded(order=order, refund=refund)
    if cancelled:
        change = {"kind": "lines_cancelled", "lines": dict(cancelled), "refund": refund}
        hooks.mercato_order_changed(order=order, change=change)


def _spread(lines, units: Mapping[str, int], left) -> list[tuple[m.OrderLine, int]]:
    """``units`` (``{sku: n}``) over the lines of each SKU in turn, at most ``left(line)``
    from each line."""
    plan = []
    for sku, wanted in units.items():
        for line in lines:
            taken = min(wanted, left(line)) if line.sku == sku else 0
            if taken > 0:
                plan.append((line, taken))
                wanted -= taken
    return plan


def reconcile(registry, cutoff: datetime) -> dict[str, list]:
    """Refunds a crash left: those still pending after ``cutoff`` asked again, then
    every succeeded one not applied yet applied to its order."""
    done: dict[str, list] = {"finished_refunds": [], "applied_refunds": [], "failures": []}
    _finish_pending(registry, cutoff, done)
    _apply_left(registry, done)
    return done


def _ids(engine, query) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(query.limit(BATCH)))


def _finish_pending(registry, cutoff: datetime, done: dict) -> None:
    """A refund row still ``pending`` after the grace period: its process died between
    committing it and recording the provider's answer. Asked again, under its row lock
    (the request records its answer only under it too) with its own idempotency key,
    and the answer recorded; unanswered, it stays pending (in flight) and is reported."""
    candidates = _ids(
        registry.db_engine,
        select(m.Refund.id)
        .where(m.Refund.status == "pending", m.Refund.created_at < cutoff)
        .order_by(m.Refund.id),
    )
    for refund_id in candidates:
        with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
            refund = session.scalars(
                select(m.Refund)
                .where(m.Refund.id == refund_id, m.Refund.status == "pending")
                .with_for_update(skip_locked=True)
            ).first()
            if refund is None:
                continue
            payment = session.get(m.Payment, refund.payment_id)
            amount = Money(refund.amount, payment.currency)
            result = payments.refund(registry, PaymentInfo.of(payment), amount, refund_id)
            record_refund(session, refund, result)
            if refund.status == "pending":
                done["failures"].append(f"refund {refund_id}: no answer ({refund.last_error})")
                continue
            if refund.status == "failed":
                done["failures"].append(f"refund {refund_id}: refused ({refund.last_error})")
                continue
        done["finished_refunds"].append(refund_id)
        log.info("reconcile: refund %s confirmed by %s", refund_id, payment.provider)


def _apply_left(registry, done: dict) -> None:
    """No grace period: the request that made a refund holds its order's row lock
    until it ends, so an order this finds unlocked has no request still applying it."""
    candidates = _ids(
        registry.db_engine,
        select(m.Refund.id)
        .where(m.Refund.status == "succeeded", m.Refund.applied.is_(False))
        .order_by(m.Refund.id),
    )
    for refund_id in candidates:
        with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
            refund = session.get(m.Refund, refund_id)
            order = session.scalars(
                select(m.Order)
                .where(m.Order.id == refund.order_id)
                .with_for_update(key_share=True, skip_locked=True)
                .execution_options(populate_existing=True)
            ).first()
            if order is None:
                continue
            session.refresh(refund)
            if refund.applied:
                continue
            apply_refund(registry, session, order, refund)
            done["applied_refunds"].append(refund_id)
            log.info("reconcile: applied refund %s to order %s", refund_id, order.number)
