"""The plugin's one table, ``promotions_codes``.

Prefixed with the plugin's name so it never clashes with another plugin's tables. The
CHECK constraints are the backstop behind the guarded UPDATE in ``services.redeem``:
even a bug elsewhere cannot push ``times_used`` past ``max_uses``.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Integer,
    Numeric,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato import Base, Money

PERCENT = "percent"
FIXED = "fixed"


class DiscountCode(Base):
    __tablename__ = "promotions_codes"
    __table_args__ = (
        CheckConstraint("kind IN ('percent', 'fixed')", name="kind"),
        CheckConstraint(
            "(kind = 'percent' AND percent > 0 AND percent <= 100 AND amount IS NULL) OR "
            "(kind = 'fixed' AND amount > 0 AND percent IS NULL)",
            name="value",
        ),
        CheckConstraint("minimum_order >= 0", name="minimum_order"),
        CheckConstraint(
            "times_used >= 0 AND (max_uses IS NULL OR times_used <= max_uses)", name="uses"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored upper-case; shoppers' input is upper-cased before any lookup.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(10))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # Minor units of ``currency``, like every amount in Mercato.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    minimum_order: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    times_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def minimum(self) -> Money:
        return Money(self.minimum_order, self.currency)

    @property
    def fixed_amount(self) -> Money | None:
        return Money(self.amount, self.currency) if self.amount is not None else None

    @property
    def used_up(self) -> bool:
        return self.max_uses is not None and self.times_used >= self.max_uses
