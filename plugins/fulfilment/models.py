"""The fulfilment plugin's tables: shipments (one parcel of an order) and their lines.

A shipment keeps what the customer was told: the carrier's code, the tracking number
and the tracking link made from the carrier's URL when it shipped (a later change of
the setting does not rewrite old links), and the name of each line as the order froze
it. ``request_key`` is the nonce of the admin's form (or the API's ``Idempotency-Key``):
unique per order, so a form sent twice records one parcel.
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


class Shipment(Base):
    __tablename__ = "fulfilment_shipments"
    __table_args__ = (UniqueConstraint("order_id", "request_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    carrier: Mapped[str] = mapped_column(String(32), nullable=False)
    tracking_number: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    tracking_url: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    # "staff:3", "admin:1" (mercato.actor_of)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    lines: Mapped[list["ShipmentLine"]] = relationship(
        back_populates="shipment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ShipmentLine.id",
    )

    @property
    def units(self) -> dict[str, int]:
        """``{sku: quantity}`` in this parcel."""
        return {line.sku: line.quantity for line in self.lines}


class ShipmentLine(Base):
    __tablename__ = "fulfilment_shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("shipment_id", "sku"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("fulfilment_shipments.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
