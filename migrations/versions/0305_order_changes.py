"""Order changes before shipping (issue 18): units taken off an order that is only
authorized, lines added after the sale, and the record of every change.

- ``order_lines.quantity_released``: units taken off before their money was taken (an
  authorized order, or a balance not paid yet): neither charged nor refunded; a unit is
  released, refunded or neither, once;
- ``order_lines.added``: a line added after the sale (it has no share of the order's
  discounts, which were computed for the lines bought);
- ``refunds.goodwill``: a refund of an amount alone, not of lines (the balance a change
  leaves never asks it back); refunds made before are counted as such, so that no
  existing order shows a balance;
- ``order_changes``: each change (lines removed or added), who made it, what it did to
  the amount owed, and the key of the request that asked for it, unique per order.

Existing orders: nothing released, no line added, no change recorded.

Revision ID: mercato_0305
Revises: mercato_0304
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "mercato_0305"
down_revision = "mercato_0304"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_lines",
        sa.Column("quantity_released", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "order_lines",
        sa.Column("added", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_check_constraint(
        "released_or_refunded_within_quantity",
        "order_lines",
        "quantity_released >= 0 AND quantity_released + quantity_refunded <= quantity",
    )
    op.add_column(
        "refunds",
        sa.Column("goodwill", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute("UPDATE refunds SET goodwill = true")
    op.create_table(
        "order_changes",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "order_id",
            sa.BigInteger(),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("lines", postgresql.JSONB(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refund_id", sa.BigInteger(), sa.ForeignKey("refunds.id"), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("request_key", sa.String(64)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("order_id", "request_key"),
    )
    op.create_index("ix_order_changes_order_id", "order_changes", ["order_id"])


def downgrade() -> None:
    op.drop_table("order_changes")
    op.drop_column("refunds", "goodwill")
    op.drop_constraint(
        op.f("ck_order_lines_released_or_refunded_within_quantity"), "order_lines", type_="check"
    )
    op.drop_column("order_lines", "added")
    op.drop_column("order_lines", "quantity_released")
