"""The order's life after payment: lines ship in parts, may be cancelled before they
ship, and a refund asked twice (a double click, a retried request) happens once.

- ``partially_fulfilled``: some lines shipped, others not yet;
- ``order_lines.quantity_shipped`` / ``quantity_cancelled``: what left the warehouse and
  what will never ship, each unit once;
- ``refunds.request_key``: the key of the request that asked for a refund, unique per
  order.

Existing orders: nothing shipped by line (a fulfilled order shipped whole: its lines
are marked shipped), nothing cancelled by line, no request keys.

Revision ID: mercato_0304
Revises: mercato_0303
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "mercato_0304"
down_revision = "mercato_0303"
branch_labels = None
depends_on = None

OLD_STATUSES = (
    "awaiting_payment",
    "authorized",
    "paid",
    "fulfilled",
    "cancelled",
    "partially_refunded",
    "refunded",
)
NEW_STATUSES = (*OLD_STATUSES, "partially_fulfilled")


def _status_check(statuses) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in statuses))


def upgrade() -> None:
    op.drop_constraint(op.f("ck_orders_status"), "orders", type_="check")
    op.create_check_constraint("status", "orders", _status_check(NEW_STATUSES))
    for column in ("quantity_shipped", "quantity_cancelled"):
        op.add_column(
            "order_lines",
            sa.Column(column, sa.Integer(), server_default=sa.text("0"), nullable=False),
        )
    op.execute(
        "UPDATE order_lines SET quantity_shipped = quantity FROM orders"
        " WHERE orders.id = order_lines.order_id AND orders.status = 'fulfilled'"
    )
    op.create_check_constraint(
        "shipped_or_cancelled_within_quantity",
        "order_lines",
        "quantity_shipped >= 0 AND quantity_cancelled >= 0"
        " AND quantity_shipped + quantity_cancelled <= quantity",
    )
    op.add_column("refunds", sa.Column("request_key", sa.String(64), nullable=True))
    op.create_unique_constraint(op.f("uq_refunds_order_id"), "refunds", ["order_id", "request_key"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_refunds_order_id"), "refunds", type_="unique")
    op.drop_column("refunds", "request_key")
    op.drop_constraint(
        op.f("ck_order_lines_shipped_or_cancelled_within_quantity"), "order_lines", type_="check"
    )
    op.drop_column("order_lines", "quantity_cancelled")
    op.drop_column("order_lines", "quantity_shipped")
    op.execute("UPDATE orders SET status = 'paid' WHERE status = 'partially_fulfilled'")
    op.drop_constraint(op.f("ck_orders_status"), "orders", type_="check")
    op.create_check_constraint("status", "orders", _status_check(OLD_STATUSES))
