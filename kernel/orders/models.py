"""Orders, their lines and history, and the kernel's own record of every payment.

Amounts are integer minor units next to the order's currency (``Money`` in Python).
Lines and adjustments are copies made at purchase: a later price change or a deleted
product never changes what an order says was bought and paid.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts import models as _accounts  # noqa: F401 (the users table of customer_id)
from ..db import Base
from ..money import Money
from ..pricing import summary_rows

AWAITING_PAYMENT = "awaiting_payment"
AUTHORIZED = "authorized"
PAID = "paid"
PARTIALLY_FULFILLED = "partially_fulfilled"  # some lines shipped, some still to ship
FULFILLED = "fulfilled"
CANCELLED = "cancelled"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
ORDER_STATUSES = (
    AWAITING_PAYMENT,
    AUTHORIZED,
    PAID,
    PARTIALLY_FULFILLED,
    FULFILLED,
    CANCELLED,
    PARTIALLY_REFUNDED,
    REFUNDED,
)

# The kernel's record of a payment, written outside the checkout's transaction so that
# it survives an abort, a retry and a crash: reconcile reads it to finish or void.
PAYMENT_PENDING = "pending"  # asked the provider; no answer recorded yet
PAYMENT_REQUIRES_ACTION = "requires_action"
PAYMENT_AUTHORIZED = "authorized"
PAYMENT_CAPTURED = "captured"
PAYMENT_VOIDING = "voiding"  # decided to void; the provider has not confirmed yet
PAYMENT_VOIDED = "voided"
PAYMENT_FAILED = "failed"
PAYMENT_STATUSES = (
    PAYMENT_PENDING,
    PAYMENT_REQUIRES_ACTION,
    PAYMENT_AUTHORIZED,
    PAYMENT_CAPTURED,
    PAYMENT_VOIDING,
    PAYMENT_VOIDED,
    PAYMENT_FAILED,
)
# An authorization that may still hold the shopper's money.
LIVE_PAYMENT_STATUSES = (PAYMENT_PENDING, PAYMENT_REQUIRES_ACTION, PAYMENT_AUTHORIZED)


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ORDER_STATUSES)})", name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        CheckConstraint("shipping_amount >= 0", name="shipping_not_negative"),
        Index("ix_orders_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_orders_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # One order per checkout: a double submit or a retried request finds it again.
    checkout_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The secret of the order's link (guests have no other way in).
    access_token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # Minor units; ``subtotal`` and ``total`` are the Money a plugin reads.
    subtotal_amount: Mapped[int] = mapped_column("subtotal", BigInteger)
    total_amount: Mapped[int] = mapped_column("total", BigInteger)
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"label", "amount", "code", "source"}], amounts in minor units.
    adjustments: Mapped[list] = mapped_column(JSONB, default=list)
    shipping_address: Mapped[dict] = mapped_column(JSONB)
    billing_address: Mapped[dict] = mapped_column(JSONB)
    payment_method: Mapped[str] = mapped_column(String(64))
    # The shipping method chosen (priced like the goods) and the tax, frozen at checkout:
    # ``total`` = subtotal + adjustments + shipping + ``tax_amount`` (the tax added on
    # top of prices; tax included in them is only listed in ``tax_lines``).
    shipping_method: Mapped[str | None] = mapped_column(String(64))
    shipping_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shipping_tax_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # [{"name", "rate" (a decimal string), "amount", "included", "target"}], target a
    # line's SKU or "shipping".
    tax_lines: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    vat_number: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # A refund of the shipping (with its tax) happens once.
    shipping_refunded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )
    history: Mapped[list["OrderStatusChange"]] = relationship(
        back_populates="order", order_by="OrderStatusChange.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list["Payment"]] = relationship(back_populates="order", order_by="Payment.id")

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def total(self) -> Money:
        return self.money(self.total_amount)

    @property
    def subtotal(self) -> Money:
        return self.money(self.subtotal_amount)

    @property
    def captured(self) -> Money:
        return self.money(self.amount_captured)

    @property
    def refunded(self) -> Money:
        return self.money(self.amount_refunded)

    @property
    def adjustment_lines(self) -> list[dict]:
        return [{**adj, "amount": self.money(adj["amount"])} for adj in self.adjustments]

    @property
    def shipping(self) -> Money:
        return self.money(self.shipping_amount)

    def summary(self) -> list[dict]:
        """Subtotal, adjustments, shipping, tax by rate and total, as shown everywhere."""
        return summary_rows(
            self.subtotal,
            [(adj["label"], self.money(adj["amount"])) for adj in self.adjustments],
            (self.shipping_name, self.shipping) if self.shipping_method else None,
            [
                (t["name"], t["rate"], self.money(t["amount"]), t["included"])
                for t in self.tax_lines
            ],
            self.total,
        )

    @property
    def live_payment(self) -> "Payment | None":
        """The payment that holds or took this order's money."""
        for payment in reversed(self.payments):
            if payment.status in (PAYMENT_AUTHORIZED, PAYMENT_CAPTURED, PAYMENT_REQUIRES_ACTION):
                return payment
        return None

    @property
    def payment_to_complete(self) -> "Payment | None":
        """The payment the shopper must still complete in the browser (3-D Secure)."""
        if self.status != AWAITING_PAYMENT:
            return None  # without loading the payments
        payment = self.live_payment
        return payment if payment and payment.status == PAYMENT_REQUIRES_ACTION else None


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Stock comes back at most once per unit sold, whatever staff ask.
        CheckConstraint(
            "quantity_restocked BETWEEN 0 AND quantity", name="restocked_within_quantity"
        ),
        # Money comes back at most once per unit sold, as stock does.
        CheckConstraint(
            "quantity_refunded BETWEEN 0 AND quantity", name="refunded_within_quantity"
        ),
        # A unit taken off before its money was taken is released, never also refunded.
        CheckConstraint(
            "quantity_released >= 0 AND quantity_released + quantity_refunded <= quantity",
            name="released_or_refunded_within_quantity",
        ),
        UniqueConstraint("order_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column("unit_price", BigInteger)
    total_amount: Mapped[int] = mapped_column("total", BigInteger)
    # Units put back in stock (a refund that restocks, a cancellation); changed only
    # under the order's row lock, in the transaction that releases the stock.
    quantity_restocked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The tax added on top of ``total`` (0 when prices include it): a refund of the line
    # gives it back with the price.
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Units refunded by a refund that named them (changed under the order's row lock).
    quantity_refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Units shipped (a shipment names them) and cancelled before shipping (changed under
    # the order's row lock).
    quantity_shipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quantity_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Units taken off before their money was taken (an authorized order, a balance not
    # paid yet): cancelled, neither charged nor refunded.
    quantity_released: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Added after the sale: no share of the discounts, computed for the lines bought.
    added: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def unit_price(self) -> Money:
        return self.order.money(self.unit_price_amount)

    @property
    def total(self) -> Money:
        return self.order.money(self.total_amount)

    @property
    def quantity_to_ship(self) -> int:
        """Units neither shipped nor cancelled yet."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled

    @property
    def quantity_restockable(self) -> int:
        """Units sold that are not back in stock yet."""
        return self.quantity - self.quantity_restocked


class OrderStatusChange(Base):
    """Every transition: from what, to what, who did it, when and why."""

    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(24))
    new_status: Mapped[str] = mapped_column(String(24))
    # "customer:12", "guest", "staff:3", "system", "acme (webhook)" …
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    order: Mapped[Order] = relationship(back_populates="history")


class Payment(Base):
    """One authorization attempt of one checkout, as the kernel knows it.

    Written and updated in transactions of its own (``mercato.orders.ledger``), never
    in the checkout's: a row exists before the provider is asked, so that nothing the
    provider holds can be forgotten, whatever happens to the request.
    """

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(PAYMENT_STATUSES)})", name="status"),
        CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        UniqueConstraint("checkout_id", "attempt"),
        UniqueConstraint("provider", "reference"),
        # reconcile's scan: authorizations that may still hold money.
        Index(
            "ix_payments_live",
            "created_at",
            postgresql_where=text(f"status IN ({_in(LIVE_PAYMENT_STATUSES + (PAYMENT_VOIDING,))})"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Looked up through the (checkout_id, attempt) unique index.
    checkout_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    # Set in the checkout's transaction: a payment with an order is one that committed.
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(24), default=PAYMENT_PENDING)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    # A digest of what the shopper entered: a resubmission with another card is a new
    # attempt, never a reuse of the first card's authorization.
    details_digest: Mapped[str] = mapped_column(String(64))
    # What the browser needs to finish a requires_action payment (a client secret).
    action: Mapped[dict | None] = mapped_column(JSONB)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The newest provider event applied (Unix seconds): older ones arrive out of order.
    last_event_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    order: Mapped[Order | None] = relationship(back_populates="payments")

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)


class Refund(Base):
    """Money returned from a captured payment; written before the provider is asked."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        # One refund per request key: a double click or a retried request refunds once.
        UniqueConstraint("order_id", "request_key"),
        # reconcile's scan for refunds whose request failed after the provider refunded.
        Index(
            "ix_refunds_not_applied",
            "id",
            postgresql_where=text("status = 'succeeded' AND NOT applied"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reference: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str | None] = mapped_column(Text)
    request_key: Mapped[str | None] = mapped_column(String(64))
    # A refund of an amount that names no line nor the shipping (a goodwill gesture): the
    # shop gives it, the customer is never asked to pay it back in a balance.
    goodwill: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # What the refund does to its order (``mercato.aftersale.refunds.apply_refund``),
    # written before the provider is asked: ``{"lines": {sku: n}, "cancel": {sku: n},
    # "restock": {sku: n}, "shipping": bool, "notify": bool}``; ``applied`` once the
    # order shows it.
    effects: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    applied: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderChange(Base):
    """Lines taken off or added after the sale: what it did to the amount owed (minor
    units, negative when it came down), the refund it made, who and why."""

    __tablename__ = "order_changes"
    __table_args__ = (UniqueConstraint("order_id", "request_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # "lines_removed", "lines_added"
    lines: Mapped[dict] = mapped_column(JSONB)  # {sku: units}
    amount: Mapped[int] = mapped_column(BigInteger)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProviderEvent(Base):
    """Provider events already applied: a replayed webhook finds its id here."""

    __tablename__ = "payment_provider_events"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
