"""The kernel's branch: its first revision, which every plugin branch may depend on.

Revision ID: mercato_0001
Revises:
Create Date: 2026-11-25
"""

revision = "mercato_0001"
down_revision = None
branch_labels = ("mercato",)
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
