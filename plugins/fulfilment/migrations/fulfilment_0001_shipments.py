"""Fulfilment: shipments and their lines.

Revision ID: fulfilment_0001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "fulfilment_0001"
down_revision = None
branch_labels = ("fulfilment",)
# Orders and their lines' quantity_shipped (the kernel's after-sale revision).
depends_on = "mercato_0304"


def upgrade() -> None:
    op.create_table(
        "fulfilment_shipments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("tracking_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("request_key", sa.String(64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_fulfilment_shipments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_shipments")),
        sa.UniqueConstraint(
            "order_id", "request_key", name=op.f("uq_fulfilment_shipments_order_id")
        ),
    )
    op.create_index(op.f("ix_fulfilment_shipments_order_id"), "fulfilment_shipments", ["order_id"])
    op.create_table(
        "fulfilment_shipment_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_fulfilment_shipment_lines_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["fulfilment_shipments.id"],
            name=op.f("fk_fulfilment_shipment_lines_shipment_id_fulfilment_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_shipment_lines")),
        sa.UniqueConstraint(
            "shipment_id", "sku", name=op.f("uq_fulfilment_shipment_lines_shipment_id")
        ),
    )
    op.create_index(
        op.f("ix_fulfilment_shipment_lines_shipment_id"),
        "fulfilment_shipment_lines",
        ["shipment_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_fulfilment_shipment_lines_shipment_id"), table_name="fulfilment_shipment_lines"
    )
    op.drop_table("fulfilment_shipment_lines")
    op.drop_index(op.f("ix_fulfilment_shipments_order_id"), table_name="fulfilment_shipments")
    op.drop_table("fulfilment_shipments")
