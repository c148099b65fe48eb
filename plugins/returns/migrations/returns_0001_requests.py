"""Returns: return requests of orders, their lines and their history.

Revision ID: returns_0001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "returns_0001"
down_revision = None
branch_labels = ("returns",)
# The orders and refunds tables (the kernel's orders branch).
depends_on = "mercato_0300"

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "return_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("staff_message", sa.Text(), nullable=False),
        sa.Column("request_key", sa.String(64), nullable=True),
        sa.Column("refund_id", sa.BigInteger(), nullable=True),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'refused', 'received', 'refunded')",
            name=op.f("ck_return_requests_status"),
        ),
        sa.CheckConstraint(
            "amount_refunded IS NULL OR amount_refunded > 0",
            name=op.f("ck_return_requests_refund_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_return_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refunds.id"],
            name=op.f("fk_return_requests_refund_id_refunds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_requests")),
        sa.UniqueConstraint("order_id", "request_key", name=op.f("uq_return_requests_order_id")),
    )
    op.create_index(op.f("ix_return_requests_order_id"), "return_requests", ["order_id"])
    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("quantity_received", sa.Integer(), nullable=False),
        sa.Column("quantity_restocked", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_lines_quantity_positive")),
        sa.CheckConstraint(
            "quantity_received BETWEEN 0 AND quantity",
            name=op.f("ck_return_lines_received_within_quantity"),
        ),
        sa.CheckConstraint(
            "quantity_restocked BETWEEN 0 AND quantity_received",
            name=op.f("ck_return_lines_restocked_within_received"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["return_requests.id"],
            name=op.f("fk_return_lines_return_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
        sa.UniqueConstraint("return_id", "sku", name=op.f("uq_return_lines_return_id")),
    )
    op.create_index(op.f("ix_return_lines_return_id"), "return_lines", ["return_id"])
    op.create_table(
        "return_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["return_requests.id"],
            name=op.f("fk_return_events_return_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_events")),
    )
    op.create_index(op.f("ix_return_events_return_id"), "return_events", ["return_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_return_events_return_id"), table_name="return_events")
    op.drop_table("return_events")
    op.drop_index(op.f("ix_return_lines_return_id"), table_name="return_lines")
    op.drop_table("return_lines")
    op.drop_index(op.f("ix_return_requests_order_id"), table_name="return_requests")
    op.drop_table("return_requests")
