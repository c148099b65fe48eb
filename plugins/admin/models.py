"""The audit log: one row per staff action, written in the transaction of the action.

A row names who (the user's id, and their email and role as they were: the record
outlives a deleted or renamed account), when, what (``action``, a dotted verb such as
``order.refund``), which object (``object_type`` and ``object_id``, such as ``order`` /
``M-000042``), a sentence for people and the details as JSON. Written in the same
transaction as the change, so the log never shows an action that was rolled back.
Table ``admin_audit_log`` comes from the kernel revision ``mercato_0400`` (branch
``mercato_admin``), which shops made before the admin became a plugin already ran.
"""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato import Base, User


class AuditEntry(Base):
    __tablename__ = "admin_audit_log"
    __table_args__ = (
        # "What happened to order M-000042": the order page and the log's filter.
        Index("ix_admin_audit_log_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey(User.id, ondelete="SET NULL"), index=True
    )
    actor_email: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50), default="", server_default="")
    object_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    details: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    client_addr: Mapped[str | None] = mapped_column(String(64))
