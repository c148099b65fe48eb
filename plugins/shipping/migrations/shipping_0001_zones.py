"""Shipping: zones and their methods.

Revision ID: shipping_0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "shipping_0001"
down_revision = None
branch_labels = ("shipping",)
depends_on = "mercato_0001"

EMPTY_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.create_table(
        "shipping_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("countries", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("regions", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_zones")),
    )
    op.create_table(
        "shipping_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("rate_type", sa.String(16), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("tiers", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("free_over", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("estimate", sa.String(100), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint(
            "rate_type IN ('flat', 'weight', 'value')", name=op.f("ck_shipping_methods_rate_type")
        ),
        sa.CheckConstraint(
            "price IS NULL OR price >= 0", name=op.f("ck_shipping_methods_price_not_negative")
        ),
        sa.CheckConstraint(
            "free_over IS NULL OR free_over >= 0",
            name=op.f("ck_shipping_methods_free_over_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["shipping_zones.id"],
            name=op.f("fk_shipping_methods_zone_id_shipping_zones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_methods")),
        sa.UniqueConstraint("code", name=op.f("uq_shipping_methods_code")),
    )
    op.create_index(op.f("ix_shipping_methods_zone_id"), "shipping_methods", ["zone_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shipping_methods_zone_id"), table_name="shipping_methods")
    op.drop_table("shipping_methods")
    op.drop_table("shipping_zones")
