"""Cart: the PostgreSQL backup of every Redis cart.

Revision ID: cart_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "cart_0001"
down_revision = None
branch_labels = ("cart",)
depends_on = "mercato_0001"


def upgrade() -> None:
    op.create_table(
        "cart_backups",
        sa.Column("cart_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("lines", JSONB(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("cart_id", name=op.f("pk_cart_backups")),
    )
    # `mercato cart cleanup` deletes by age.
    op.create_index(op.f("ix_cart_backups_updated_at"), "cart_backups", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cart_backups_updated_at"), table_name="cart_backups")
    op.drop_table("cart_backups")
