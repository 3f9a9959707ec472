"""feeds: jobs get status, city, country, remote policy, languages; content gets its feed id,
tags, an event's zone and place

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("city", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("remote", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=True))
        # Openings already stored were open unless their closes_at passed (the catalog checks it).
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="open",
                                      nullable=False))
        batch_op.create_check_constraint("status_known", "status IN ('open', 'closed')")
        batch_op.create_check_constraint("remote_known", "remote IN ('onsite', 'hybrid', 'remote')")
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("event_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("place", sa.String(length=300), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_content_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_content_external_id"), type_="unique")
        batch_op.drop_column("place")
        batch_op.drop_column("event_zone")
        batch_op.drop_column("tags")
        batch_op.drop_column("external_id")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint("remote_known", type_="check")
        batch_op.drop_constraint("status_known", type_="check")
        batch_op.drop_column("status")
        batch_op.drop_column("languages")
        batch_op.drop_column("remote")
        batch_op.drop_column("country")
        batch_op.drop_column("city")
