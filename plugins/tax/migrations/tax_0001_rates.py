"""Tax: rates by country, region and tax class.

Revision ID: tax_0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "tax_0001"
down_revision = None
branch_labels = ("tax",)
depends_on = "mercato_0001"


def upgrade() -> None:
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(3), nullable=False, server_default=""),
        sa.Column("tax_class", sa.String(32), nullable=False),
        sa.Column("rate", sa.Numeric(7, 6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.CheckConstraint("rate >= 0 AND rate <= 1", name=op.f("ck_tax_rates_rate_fraction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
        # Also the index of the pricing's one query (country = destination or home).
        sa.UniqueConstraint("country", "region", "tax_class", name=op.f("uq_tax_rates_country")),
    )


def downgrade() -> None:
    op.drop_table("tax_rates")
