"""incremental re-planning: runs.plan_basis (what a rerun builds on), candidates by updated_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("plan_basis", sa.JSON(), nullable=True))
    op.create_index("ix_candidates_updated_at", "candidates", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_candidates_updated_at", table_name="candidates")
    op.drop_column("runs", "plan_basis")
