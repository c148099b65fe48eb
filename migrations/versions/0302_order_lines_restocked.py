"""Order lines remember how many of their units went back to stock.

A refund names the lines it puts back in stock, and a cancellation puts back what is
left: counting per line is what keeps stock from coming back twice for one unit sold.
Existing lines start at 0 (nothing was recorded before).

Revision ID: mercato_0302
Revises: mercato_0301
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "mercato_0302"
down_revision = "mercato_0301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_lines",
        sa.Column("quantity_restocked", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        "restocked_within_quantity",
        "order_lines",
        "quantity_restocked BETWEEN 0 AND quantity",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_order_lines_restocked_within_quantity"), "order_lines", type_="check"
    )
    op.drop_column("order_lines", "quantity_restocked")
