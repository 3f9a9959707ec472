"""send windows: a candidate's time zone; each ledger row's not_before, send_by and zone, the
index the due claim reads (status, not_before), and each run's kind (plan or deliver)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: rows planned before this migration may leave at once, with no limit.
    op.add_column("candidates", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("sends", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sends", sa.Column("send_by", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sends", sa.Column("zone", sa.String(length=64), nullable=True))
    op.create_index("ix_sends_status_not_before", "sends", ["status", "not_before"])
    # Runs already recorded planned their period; deliver runs come with the hourly deliver.
    op.add_column("runs", sa.Column("kind", sa.String(length=16), server_default="plan", nullable=False))


def downgrade() -> None:
    op.drop_index("ix_sends_status_not_before", table_name="sends")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_column("zone")
        batch_op.drop_column("send_by")
        batch_op.drop_column("not_before")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("timezone")
