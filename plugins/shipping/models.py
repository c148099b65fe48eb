"""The shipping plugin's tables: zones (where) and their methods (how, and for how much).

Amounts are integers of minor units in the method's ``currency`` (the shop's when the
method was saved). A zone lists countries as ISO 3166-1 codes (``"DE"``) and regions
as ISO 3166-2 codes (``"US-AK"``), both as JSON lists: a shop has tens of zones, read
whole in one query per pricing (``services.load_zones``), never searched by country.
"""

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mercato import Base

FLAT, WEIGHT, VALUE = "flat", "weight", "value"
RATE_TYPES = {
    FLAT: "Flat rate",
    WEIGHT: "By weight (tiers in kg)",
    VALUE: "By order value (tiers by goods subtotal)",
}


class ShippingZone(Base):
    __tablename__ = "shipping_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    countries: Mapped[list] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    regions: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))

    methods: Mapped[list["ShippingMethod"]] = relationship(
        back_populates="zone",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(ShippingMethod.position, ShippingMethod.id)",
    )


class ShippingMethod(Base):
    __tablename__ = "shipping_methods"
    __table_args__ = (
        CheckConstraint("rate_type IN ('flat', 'weight', 'value')", name="rate_type"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_not_negative"),
        CheckConstraint("free_over IS NULL OR free_over >= 0", name="free_over_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("shipping_zones.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # What the order records as its shipping method: unique across zones, so a code
    # names one method whatever the destination.
    code: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    rate_type: Mapped[str] = mapped_column(String(16), nullable=False)
    price: Mapped[int | None] = mapped_column(BigInteger)  # flat rates only
    # Weight (grams) or goods subtotal (minor units) tiers, ascending:
    # [{"up_to": 2000, "price": 990}, …, {"up_to": null, "price": …}] (null: no limit).
    tiers: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    free_over: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    estimate: Mapped[str] = mapped_column(String(100), nullable=False, server_default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))

    zone: Mapped[ShippingZone] = relationship(back_populates="methods")
