"""What shipping and tax need of the goods: a product's tax class, a variant's weight.

The tax class (standard, reduced, zero) is the product's, since its variants are the
same kind of goods; the weight (grams per unit) is the variant's, since sizes weigh
differently. Existing rows start as standard and 0 g, which is what a shop had
before: every item taxed alike, nothing weighed.

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0003"
down_revision = "catalog_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "catalog_products",
        sa.Column("tax_class", sa.String(20), server_default="standard", nullable=False),
    )
    op.create_check_constraint(
        "tax_class_known", "catalog_products", "tax_class IN ('standard', 'reduced', 'zero')"
    )
    op.add_column(
        "catalog_variants",
        sa.Column("weight", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        "weight_in_range", "catalog_variants", "weight BETWEEN 0 AND 1000000"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_catalog_variants_weight_in_range"), "catalog_variants", type_="check"
    )
    op.drop_column("catalog_variants", "weight")
    op.drop_constraint(
        op.f("ck_catalog_products_tax_class_known"), "catalog_products", type_="check"
    )
    op.drop_column("catalog_products", "tax_class")
