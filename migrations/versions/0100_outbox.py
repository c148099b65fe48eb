"""The kernel's outbox: messages and one delivery row per (message, plugin).

Revision ID: mercato_outbox_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "mercato_outbox_0001"
down_revision = None
branch_labels = ("mercato_outbox",)
depends_on = "mercato_0001"


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        op.f("ix_outbox_messages_undispatched"),
        "outbox_messages",
        ["id"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("plugin", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_deliveries_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("message_id", "plugin", name=op.f("uq_outbox_deliveries_message_id")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_outbox_deliveries_status")
        ),
    )
    op.create_index(
        op.f("ix_outbox_deliveries_message_id"), "outbox_deliveries", ["message_id"], unique=False
    )
    op.create_index(
        op.f("ix_outbox_deliveries_due"),
        "outbox_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("outbox_deliveries")
    op.drop_table("outbox_messages")
