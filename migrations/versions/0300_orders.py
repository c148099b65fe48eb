"""Orders: orders, lines, status history, payments, refunds, provider events.

orders.customer_id has no foreign key yet: the users table is created on the accounts
branch, and a revision that depends on both adds it.

Revision ID: mercato_0300
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "mercato_0300"
down_revision = None
branch_labels = ("mercato_orders",)
depends_on = "mercato_0001"

ORDER_STATUSES = (
    "awaiting_payment",
    "authorized",
    "paid",
    "fulfilled",
    "cancelled",
    "partially_refunded",
    "refunded",
)
PAYMENT_STATUSES = (
    "pending",
    "requires_action",
    "authorized",
    "captured",
    "voiding",
    "voided",
    "failed",
)


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _timestamps():
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    # Order numbers: a sequence never hands the same value twice, even across aborts.
    op.execute("CREATE SEQUENCE order_number_seq START WITH 1001")
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("checkout_id", sa.String(64), nullable=False),
        sa.Column("access_token", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("adjustments", JSONB(), nullable=False, server_default="[]"),
        sa.Column("shipping_address", JSONB(), nullable=False),
        sa.Column("billing_address", JSONB(), nullable=False),
        sa.Column("payment_method", sa.String(64), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(f"status IN ({_in(ORDER_STATUSES)})", name="status"),
        sa.CheckConstraint("total >= 0", name="total_not_negative"),
        sa.CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("checkout_id"),
        sa.UniqueConstraint("access_token"),
    )
    op.create_index("ix_orders_customer_id_created_at", "orders", ["customer_id", "created_at"])
    op.create_index("ix_orders_status_updated_at", "orders", ["status", "updated_at"])

    op.create_table(
        "order_lines",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "order_id",
            sa.BigInteger(),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.UniqueConstraint("order_id", "position"),
    )

    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "order_id",
            sa.BigInteger(),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("old_status", sa.String(24), nullable=True),
        sa.Column("new_status", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_order_status_changes_order_id", "order_status_changes", ["order_id"])

    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("checkout_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "order_id",
            sa.BigInteger(),
            sa.ForeignKey("orders.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("status", sa.String(24), nullable=False, server_default="pending"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("details_digest", sa.String(64), nullable=False),
        sa.Column("action", JSONB(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_event_at", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(f"status IN ({_in(PAYMENT_STATUSES)})", name="status"),
        sa.CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        sa.UniqueConstraint("checkout_id", "attempt"),
        sa.UniqueConstraint("provider", "reference"),
    )
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_index(
        "ix_payments_live",
        "payments",
        ["created_at"],
        postgresql_where=sa.text(
            "status IN ('pending', 'requires_action', 'authorized', 'voiding')"
        ),
    )

    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "order_id",
            sa.BigInteger(),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("payment_id", sa.BigInteger(), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])

    op.create_table(
        "payment_provider_events",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_provider_events")
    op.drop_table("refunds")
    op.drop_table("payments")
    op.drop_table("order_status_changes")
    op.drop_table("order_lines")
    op.drop_table("orders")
    op.execute("DROP SEQUENCE order_number_seq")
