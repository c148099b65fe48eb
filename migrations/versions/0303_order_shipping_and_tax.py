"""Orders freeze their shipping and tax.

The chosen shipping method (code, name, price), every tax line (name, rate,
amount, whether the price included it, what it taxes), the VAT number a business gave,
and per order line the tax added on top of its price — what a refund of that line gives
back besides the price. A refund by line counts the units it refunded, and the shipping
is refunded once. Existing orders had none of it: zeros and empty lists.

Revision ID: mercato_0303
Revises: mercato_0302
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "mercato_0303"
down_revision = "mercato_0302"
branch_labels = None
depends_on = None

ZERO = sa.text("0")


def upgrade() -> None:
    op.add_column("orders", sa.Column("shipping_method", sa.String(64), nullable=True))
    op.add_column(
        "orders", sa.Column("shipping_name", sa.String(200), server_default="", nullable=False)
    )
    op.add_column(
        "orders", sa.Column("shipping_amount", sa.BigInteger(), server_default=ZERO, nullable=False)
    )
    op.add_column(
        "orders",
        sa.Column("shipping_tax_amount", sa.BigInteger(), server_default=ZERO, nullable=False),
    )
    op.add_column(
        "orders", sa.Column("tax_amount", sa.BigInteger(), server_default=ZERO, nullable=False)
    )
    op.add_column(
        "orders",
        sa.Column("tax_lines", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.add_column(
        "orders", sa.Column("vat_number", sa.String(32), server_default="", nullable=False)
    )
    op.add_column(
        "orders",
        sa.Column("shipping_refunded", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_check_constraint("shipping_not_negative", "orders", "shipping_amount >= 0")
    op.add_column(
        "order_lines",
        sa.Column("tax_amount", sa.BigInteger(), server_default=ZERO, nullable=False),
    )
    op.add_column(
        "order_lines",
        sa.Column("quantity_refunded", sa.Integer(), server_default=ZERO, nullable=False),
    )
    op.create_check_constraint(
        "refunded_within_quantity", "order_lines", "quantity_refunded BETWEEN 0 AND quantity"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_order_lines_refunded_within_quantity"), "order_lines", type_="check"
    )
    op.drop_column("order_lines", "quantity_refunded")
    op.drop_column("order_lines", "tax_amount")
    op.drop_constraint(op.f("ck_orders_shipping_not_negative"), "orders", type_="check")
    for column in (
        "shipping_refunded",
        "vat_number",
        "tax_lines",
        "tax_amount",
        "shipping_tax_amount",
        "shipping_amount",
        "shipping_name",
        "shipping_method",
    ):
        op.drop_column("orders", column)
