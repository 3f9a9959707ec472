"""applications from the ATS; interactions looked up by send

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OUTCOMES = "'applied', 'screening', 'interview', 'offer', 'hired', 'rejected', 'withdrawn'"


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("candidate_id", Id, nullable=False),
        sa.Column("job_ref", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"outcome IN ({OUTCOMES})", name=op.f("ck_applications_outcome_known")),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"],
                                name=op.f("fk_applications_candidate_id_candidates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("candidate_id", "job_ref", name=op.f("uq_applications_candidate_id_job_ref")),
    )
    op.create_index("ix_applications_applied_at", "applications", ["applied_at"])
    op.create_index("ix_interactions_send_kind", "interactions", ["send_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_interactions_send_kind", table_name="interactions")
    op.drop_index("ix_applications_applied_at", table_name="applications")
    op.drop_table("applications")
