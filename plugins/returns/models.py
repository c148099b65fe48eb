"""The returns plugin's tables: a return request of an order, its lines and its history.

A return moves ``requested → approved | refused``, ``approved → received | refused``,
``received → refunded`` (``services.NEXT``); every move is a ``ReturnEvent``. Its lines
are per SKU: what the customer asked to send back, what arrived, and how much of that
went back in stock (damaged goods do not). The check constraints keep those counts in
order whatever the code does.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mercato import Base

REQUESTED = "requested"
APPROVED = "approved"
REFUSED = "refused"
RECEIVED = "received"
REFUNDED = "refunded"
STATUSES = (REQUESTED, APPROVED, REFUSED, RECEIVED, REFUNDED)


class ReturnRequest(Base):
    __tablename__ = "return_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('requested', 'approved', 'refused', 'received', 'refunded')",
            name="status",
        ),
        CheckConstraint("amount_refunded IS NULL OR amount_refunded > 0", name="refund_positive"),
        # A double submit of the customer's form (same nonce) asks once.
        UniqueConstraint("order_id", "request_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=REQUESTED)
    # One of the shop's reasons (mercato.returns.reasons) and the customer's own words.
    reason: Mapped[str] = mapped_column(String(100), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # What staff last told the customer (an approval's instructions, a refusal's why).
    staff_message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    request_key: Mapped[str | None] = mapped_column(String(64))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="SET NULL"))
    amount_refunded: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    lines: Mapped[list["ReturnLine"]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )
    events: Mapped[list["ReturnEvent"]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ReturnEvent.id"
    )

    def units(self, field: str = "quantity") -> dict[str, int]:
        """``{sku: n}`` of ``field`` (``quantity``, ``quantity_received`` …), zeros left out."""
        return {line.sku: getattr(line, field) for line in self.lines if getattr(line, field)}


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "quantity_received BETWEEN 0 AND quantity", name="received_within_quantity"
        ),
        CheckConstraint(
            "quantity_restocked BETWEEN 0 AND quantity_received", name="restocked_within_received"
        ),
        UniqueConstraint("return_id", "sku"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("return_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quantity_restocked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    request: Mapped[ReturnRequest] = relationship(back_populates="lines")


class ReturnEvent(Base):
    """One step of a return: its new status, who took it, when, and what they said."""

    __tablename__ = "return_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("return_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # As the order's history names people: "guest", "customer:12", "staff:3".
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    request: Mapped[ReturnRequest] = relationship(back_populates="events")
