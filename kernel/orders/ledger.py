"""The kernel's record of payments, kept in transactions of its own.

The checkout's transaction may abort, be retried or die with its process; what the
payment provider holds must never be forgotten for that. So a ``payments`` row is
committed *before* the provider is asked, and every answer is committed as soon as it
arrives, on a connection of its own. ``mercato reconcile`` reads these rows to finish or
void whatever a crash left behind. The checkout's own transaction only links the row to
its order (``payments.order_id``), atomically with the order itself.

Functions here return detached ``Payment`` objects (a snapshot: read, never change).
"""

import hashlib
import json
import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..money import Money
from ..payments import PaymentResult
from . import models as m

log = logging.getLogger(__name__)

ERROR_LENGTH = 2000

# A provider's answer → what the kernel records about the payment.
RESULT_TO_STATUS = {
    "requires_action": m.PAYMENT_REQUIRES_ACTION,
    "authorized": m.PAYMENT_AUTHORIZED,
    "captured": m.PAYMENT_CAPTURED,
    "voided": m.PAYMENT_VOIDED,
    "failed": m.PAYMENT_FAILED,
    # Unreachable or timed out: whether the provider holds anything is unknown, so the
    # row stays pending and reconcile asks again later.
    "unavailable": m.PAYMENT_PENDING,
}


def details_digest(method: str, details: dict) -> str:
    canonical = json.dumps({"method": method, "details": details}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _session(engine) -> Session:
    return Session(engine, expire_on_commit=False)


def open_attempt(
    engine, *, checkout_id: str, provider: str, method: str, amount: Money, digest: str
) -> tuple[m.Payment, list[m.Payment]]:
    """The payment to authorize for this checkout, and older ones to void.

    A live payment of this checkout with the same amount, method and details is reused
    (a retried request, a double submit): at most one authorization per checkout and
    card. Live payments that no longer match (another card, a changed cart) are marked
    ``voiding`` and returned, for the caller to void.
    """
    with _session(engine) as session, session.begin():
        existing = session.scalars(
            select(m.Payment)
            .where(m.Payment.checkout_id == checkout_id)
            .order_by(m.Payment.attempt)
            .with_for_update()
        ).all()
        stale = []
        for payment in existing:
            if payment.status not in m.LIVE_PAYMENT_STATUSES or payment.order_id is not None:
                continue
            same = (
                payment.provider == provider
                and payment.method == method
                and payment.amount == amount.amount
                and payment.currency == amount.currency
                and payment.details_digest == digest
            )
            if same:
                return payment, stale
            payment.status = m.PAYMENT_VOIDING
            stale.append(payment)
        attempt = max((p.attempt for p in existing), default=0) + 1
        payment = m.Payment(
            checkout_id=checkout_id,
            attempt=attempt,
            provider=provider,
            method=method,
            status=m.PAYMENT_PENDING,
            currency=amount.currency,
            amount=amount.amount,
            amount_captured=0,
            amount_refunded=0,
            details_digest=digest,
        )
        session.add(payment)
    return payment, stale


def record(engine, payment_id: int, result: PaymentResult) -> m.Payment:
    """Commit what the provider answered about ``payment_id``."""
    with _session(engine) as session, session.begin():
        payment = session.get(m.Payment, payment_id, with_for_update=True)
        apply_result(payment, result)
    return payment


def apply_result(payment: m.Payment, result: PaymentResult) -> None:
    """Copy a provider's answer onto ``payment`` (in whatever session holds it)."""
    if result.reference and not payment.reference:
        payment.reference = result.reference
    status = RESULT_TO_STATUS.get(result.status)
    if result.status == "refunded" or status is None:
        return
    if payment.status == m.PAYMENT_CAPTURED and status != m.PAYMENT_CAPTURED:
        # Money taken is never "un-taken" by a late or repeated answer.
        return
    payment.status = status
    if status == m.PAYMENT_CAPTURED:
        payment.amount_captured = result.amount.amount if result.amount else payment.amount
    payment.action = result.action if status == m.PAYMENT_REQUIRES_ACTION else None
    payment.last_error = (result.message or None) if not result.ok else None


def record_error(engine, payment_id: int, error: str) -> None:
    """Keep why a capture or void failed, for reconcile and for staff."""
    with _session(engine) as session, session.begin():
        session.execute(
            update(m.Payment)
            .where(m.Payment.id == payment_id)
            .values(last_error=error[:ERROR_LENGTH], updated_at=func.now())
        )


def mark(engine, payment_id: int, status: str, error: str | None = None) -> None:
    with _session(engine) as session, session.begin():
        session.execute(
            update(m.Payment)
            .where(m.Payment.id == payment_id)
            .values(status=status, last_error=error and error[:ERROR_LENGTH], updated_at=func.now())
        )
