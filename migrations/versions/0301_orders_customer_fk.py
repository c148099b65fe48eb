"""Orders point at their customer's account.

The orders and accounts branches were written side by side; this revision joins them
once both exist. ON DELETE SET NULL: deleting an account keeps its orders (the shop's
books), as guest orders.

Revision ID: mercato_0301
Revises: mercato_0300
Create Date: 2026-11-25
"""

from alembic import op

revision = "mercato_0301"
down_revision = "mercato_0300"
branch_labels = None
depends_on = "mercato_0200"


def upgrade() -> None:
    op.create_foreign_key(
        "fk_orders_customer_id_users",
        "orders",
        "users",
        ["customer_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint("fk_orders_customer_id_users", "orders", type_="foreignkey")
