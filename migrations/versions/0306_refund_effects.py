"""What a refund does to its order, kept on the refund (``refunds.effects``), and
whether the order shows it yet (``refunds.applied``).

A refund is committed on its own before the payment provider is asked, and its effects
on the order (units refunded or cancelled, stock put back, the status) were only in the
request's transaction: a request that failed after the provider refunded left the money
returned and the order saying otherwise. Now the retry of that request, a request with
the same key, or ``mercato reconcile`` applies what is written here.

Existing refunds: applied (their requests committed, or they failed).

Revision ID: mercato_0306
Revises: mercato_0305
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "mercato_0306"
down_revision = "mercato_0305"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "refunds",
        sa.Column(
            "effects", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
    )
    op.add_column(
        "refunds",
        sa.Column("applied", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute("UPDATE refunds SET applied = true")
    # reconcile's scan: succeeded refunds not applied yet (few, usually none).
    op.create_index(
        "ix_refunds_not_applied",
        "refunds",
        ["id"],
        postgresql_where=sa.text("status = 'succeeded' AND NOT applied"),
    )


def downgrade() -> None:
    op.drop_index("ix_refunds_not_applied", table_name="refunds")
    op.drop_column("refunds", "applied")
    op.drop_column("refunds", "effects")
