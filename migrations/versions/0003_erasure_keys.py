"""erasure keys: keyed hashes an erased person leaves, so imports refuse them again

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_keys",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('email', 'external_id')", name=op.f("ck_erasure_keys_kind_known")),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_erasure_keys")),
    )


def downgrade() -> None:
    op.drop_table("erasure_keys")
