"""Accounts: a ``User`` (shopper, staff or admin) and the addresses a shopper keeps.

Emails are stored lowercased (a CHECK constraint holds it) and unique, so lookups are
case-insensitive without a functional index. Tables ``users`` and ``addresses`` come
from the kernel revision ``mercato_0200`` (branch ``mercato_accounts``).
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base

ROLES = ("customer", "staff", "admin")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("role IN ('customer', 'staff', 'admin')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    role: Mapped[str] = mapped_column(String(16), default="customer", server_default="customer")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    password_hash: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    addresses: Mapped[list["Address"]] = relationship(
        back_populates="user", order_by="Address.id", cascade="all, delete-orphan"
    )

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    region: Mapped[str] = mapped_column(String(100), default="", server_default="")
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(back_populates="addresses")

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postal_code": self.postal_code,
            "region": self.region,
            "country": self.country,
            "phone": self.phone,
        }
