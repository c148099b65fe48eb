"""Promotions: the discount codes table.

Revision ID: promotions_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "promotions_0001"
down_revision = None
# A branch of its own, so `mercato migrate` upgrades it with every other head, and it
# starts after the kernel's base revision.
branch_labels = ("promotions",)
depends_on = "mercato_0001"


def upgrade() -> None:
    op.create_table(
        "promotions_codes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("percent", sa.Numeric(5, 2)),
        sa.Column("amount", sa.BigInteger),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("minimum_order", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("max_uses", sa.Integer),
        sa.Column("times_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_promotions_codes"),
        sa.UniqueConstraint("code", name="uq_promotions_codes_code"),
        # Short names: the shared naming convention makes them ck_promotions_codes_<name>.
        sa.CheckConstraint("kind IN ('percent', 'fixed')", name="kind"),
        sa.CheckConstraint(
            "(kind = 'percent' AND percent > 0 AND percent <= 100 AND amount IS NULL) OR "
            "(kind = 'fixed' AND amount > 0 AND percent IS NULL)",
            name="value",
        ),
        sa.CheckConstraint("minimum_order >= 0", name="minimum_order"),
        sa.CheckConstraint(
            "times_used >= 0 AND (max_uses IS NULL OR times_used <= max_uses)",
            name="uses",
        ),
    )


def downgrade() -> None:
    op.drop_table("promotions_codes")
