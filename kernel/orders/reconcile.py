"""``mercato reconcile``: finish or void whatever a crash left between the steps of a
checkout, so that no shopper's money stays held without an order ("zombie payments").

* an authorization without a committed order (the process died before the commit, or
  a void on abort failed) → voided;
* an order committed but not captured (the process died between the commit and the
  capture) → captured, once, and marked paid; one whose capture happened but was not
  recorded → marked paid without asking the provider to capture again;
* an order that waited too long for 3-D Secure → its authorization voided, the order
  cancelled and its stock put back;
* and whatever plugins finish of their own (``mercato_reconcile``): the aftersale
  plugin's refunds whose provider's answer was lost, or whose request failed after the
  provider refunded.

Each item is handled in a transaction of its own that locks its row with ``SKIP
LOCKED``, so two runs at once (cron overlapping itself) never handle the same payment
twice, and every provider call is idempotent: running it again changes nothing.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import payments
from ..money import Money
from ..payments import PaymentInfo
from . import ledger, services
from . import models as m

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class Report:
    voided: list[int] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)
    marked_paid: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # What plugins finished (``mercato_reconcile``), by name: ``{"applied_refunds": […]}``.
    plugins: dict[str, list] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "voided_payments": self.voided,
            "captured_orders": self.captured,
            "marked_paid_orders": self.marked_paid,
            "cancelled_orders": self.cancelled,
            **self.plugins,
            "failures": self.failed,
        }


def reconcile(
    registry,
    *,
    now: datetime | None = None,
    grace: int | None = None,
    action_timeout: int | None = None,
) -> Report:
    """One pass over every payment and order a crash may have left unfinished."""
    settings = registry.settings
    now = now or datetime.now(UTC)
    grace_cutoff = now - timedelta(
        seconds=settings["mercato.payment_grace_seconds"] if grace is None else grace
    )
    action_cutoff = now - timedelta(
        seconds=settings["mercato.payment_action_seconds"]
        if action_timeout is None
        else action_timeout
    )
    report = Report()
    _void_orphans(registry, grace_cutoff, report)
    if settings["mercato.capture"] == "checkout":
        _capture_committed(registry, grace_cutoff, report)
    _cancel_abandoned(registry, action_cutoff, report)
    for done in registry.hooks.mercato_reconcile(registry=registry, cutoff=grace_cutoff):
        report.failed.extend(done.pop("failures", ()))
        for name, handled in done.items():
            report.plugins.setdefault(name, []).extend(handled)
    return report


def _ids(registry, query) -> list[int]:
    with Session(registry.db_engine) as session:
        return list(session.scalars(query.limit(BATCH)))


def _void_orphans(registry, cutoff: datetime, report: Report) -> None:
    candidates = _ids(
        registry,
        select(m.Payment.id)
        .where(
            m.Payment.created_at < cutoff,
            or_(
                m.Payment.status == m.PAYMENT_VOIDING,
                (m.Payment.order_id.is_(None)) & m.Payment.status.in_(m.LIVE_PAYMENT_STATUSES),
            ),
        )
        .order_by(m.Payment.id),
    )
    for payment_id in candidates:
        with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
            payment = session.scalars(
                select(m.Payment)
                .where(m.Payment.id == payment_id)
                .with_for_update(skip_locked=True)
            ).first()
            still_orphan = payment is not None and (
                payment.status == m.PAYMENT_VOIDING
                or (payment.order_id is None and payment.status in m.LIVE_PAYMENT_STATUSES)
            )
            if not still_orphan:
                continue
            # Decided before the provider is asked: a checkout committing late now
            # finds its payment gone and aborts instead of keeping a voided payment.
            payment.status = m.PAYMENT_VOIDING
        info = PaymentInfo.of(payment)
        result, why = payments.void(registry, info)
        if result is None:
            ledger.record_error(registry.db_engine, payment_id, f"void: {why}")
            report.failed.append(f"payment {payment_id}: void failed ({why})")
            continue
        ledger.record(registry.db_engine, payment_id, result)
        report.voided.append(payment_id)
        log.info("reconcile: voided payment %s (%s)", payment_id, info.reference)


def _locked_orders(registry, status: str, cutoff: datetime):
    """Each order in ``status`` since before ``cutoff``, locked in a transaction of its own
    that commits when the caller moves on; one another process holds is skipped."""
    candidates = _ids(
        registry,
        select(m.Order.id)
        .where(m.Order.status == status, m.Order.updated_at < cutoff)
        .order_by(m.Order.id),
    )
    for order_id in candidates:
        with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
            order = session.scalars(
                select(m.Order).where(m.Order.id == order_id).with_for_update(skip_locked=True)
            ).first()
            if order is not None and order.status == status:
                yield session, order


def _capture_committed(registry, cutoff: datetime, report: Report) -> None:
    for _session, order in _locked_orders(registry, m.AUTHORIZED, cutoff):
        payment = order.live_payment
        if payment is None:
            report.failed.append(f"order {order.number}: authorized without a payment")
            continue
        if payment.status == m.PAYMENT_CAPTURED:
            services.payment_captured(
                order,
                Money(payment.amount_captured, payment.currency),
                hooks=registry.hooks,
                actor="reconcile",
                reason="capture found recorded",
            )
            report.marked_paid.append(order.number)
            continue
        info = PaymentInfo.of(payment)
        # Staff may have taken units off while the capture was failing: take what is owed.
        owed = services.amount_owed(order).amount
        result, why = payments.capture(registry, info, order.money(min(info.amount, owed)))
        if result is None:
            report.failed.append(f"order {order.number}: capture failed ({why})")
            payment.last_error = f"capture: {why}"[: ledger.ERROR_LENGTH]
            continue
        ledger.apply_result(payment, result)
        services.payment_captured(
            order,
            result.amount or info.amount_money,
            hooks=registry.hooks,
            actor="reconcile",
            reason=f"payment captured ({info.provider} {info.reference})",
        )
        report.captured.append(order.number)
        log.info("reconcile: captured order %s (%s)", order.number, info.reference)


def _cancel_abandoned(registry, cutoff: datetime, report: Report) -> None:
    for session, order in _locked_orders(registry, m.AWAITING_PAYMENT, cutoff):
        try:
            services.cancel_order(
                registry,
                session,
                order,
                actor="reconcile",
                reason="payment not completed in time",
            )
        except services.OrderError as exc:
            report.failed.append(f"order {order.number}: {exc}")
            continue
        report.cancelled.append(order.number)
        log.info("reconcile: cancelled abandoned order %s", order.number)
