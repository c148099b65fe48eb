"""The cart's PostgreSQL backup: one row per cart, a full snapshot of its lines.

Redis holds the live cart; this table exists so that losing Redis loses no cart. Each
committed change writes the whole cart (it is small), so any one row is a complete
cart on its own and a lost backup write is repaired by the next change.
"""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato import Base


class CartBackup(Base):
    __tablename__ = "cart_backups"

    cart_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The Redis cart's version when this snapshot was taken; an older snapshot never
    # overwrites a newer one when two commits race to write their backups.
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # [{"sku": ..., "quantity": ..., "price": {"amount", "currency"} | null, "seq": ...}]
    lines: Mapped[list] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
