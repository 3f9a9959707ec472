"""send items: what each sent message showed (openings and content), so none is shown twice

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "send_items",
        sa.Column("send_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", _ID, nullable=False),
        sa.CheckConstraint("kind IN ('job', 'content')", name=op.f("ck_send_items_kind_known")),
        sa.ForeignKeyConstraint(["send_id"], ["sends.id"], name=op.f("fk_send_items_send_id_sends")),
        sa.PrimaryKeyConstraint("send_id", "kind", "item_id", name=op.f("pk_send_items")),
    )


def downgrade() -> None:
    op.drop_table("send_items")
