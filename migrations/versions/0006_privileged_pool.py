"""privileged pool: candidates' owner recruiter; whether each send and decision was privileged;
the field and place a candidate chose on the preference page

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("owner_email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("owner_name", sa.String(length=200), nullable=True))
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(sa.Column("expertise", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("search_location", sa.String(length=200), nullable=True))
    # Before this revision the pool changed nothing: earlier sends count with "the rest".
    for table in ("sends", "decisions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("privileged", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("search_location")
        batch.drop_column("expertise")
    for table in ("decisions", "sends"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("privileged")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("owner_name")
        batch.drop_column("owner_email")
