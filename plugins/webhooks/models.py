"""The webhooks plugin's tables: endpoints, the events recorded for them, one delivery
per (event, endpoint) with its own retry schedule, and every attempt of a delivery.

An event's ``body`` is kept as the exact text that is signed and sent, so that every
retry sends the same bytes with the same event id.
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

from mercato import Base

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class Endpoint(Base):
    __tablename__ = "webhooks_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), server_default="")
    # The event types it receives: ["order.paid", "stock.low"].
    events: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # The HMAC key: kept as it is, since every delivery is signed with it.
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart, never enough to sign."""
        return f"{self.secret[:10]}…"


class Event(Base):
    __tablename__ = "webhooks_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # evt_<32 hex>
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One event to one endpoint. The row is locked (``FOR UPDATE SKIP LOCKED``) for as
    long as its POST runs, so two workers never send it at the same time."""

    __tablename__ = "webhooks_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        CheckConstraint(f"status IN ('{PENDING}', '{DELIVERED}', '{DEAD}')", name="status"),
        Index(
            "ix_webhooks_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(f"status = '{PENDING}'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhooks_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    event: Mapped[Event] = relationship()
    endpoint: Mapped[Endpoint] = relationship()
    log: Mapped[list["Attempt"]] = relationship(
        back_populates="delivery", order_by="Attempt.id", passive_deletes=True
    )


class Attempt(Base):
    """One POST of a delivery, as the delivery log shows it."""

    __tablename__ = "webhooks_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no answer
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)

    delivery: Mapped[Delivery] = relationship(back_populates="log")
