"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 20:37:24.927747
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('candidates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('city', sa.String(length=200), nullable=True),
    sa.Column('search_location', sa.String(length=200), nullable=True),
    sa.Column('expertise', sa.String(length=200), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('active', 'passive', 'former')", name=op.f('ck_candidates_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidates')),
    sa.UniqueConstraint('external_id', name=op.f('uq_candidates_external_id'))
    )
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.create_index('ix_candidates_status_id', ['status', 'id'], unique=False)

    op.create_index('ix_candidates_email_lower', 'candidates', [sa.text('lower(email)')])

    op.create_table('content',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('article', 'news', 'event', 'tip', 'success_story')", name=op.f('ck_content_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content'))
    )
    with op.batch_alter_table('content', schema=None) as batch_op:
        batch_op.create_index('ix_content_published_at', ['published_at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('expertise', sa.String(length=200), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('external_id', name=op.f('uq_jobs_external_id'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_published_at', ['published_at'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('cadence', sa.String(length=32), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_cadence_period', ['cadence', 'period_key'], unique=False)

    op.create_table('suppressions',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('unsubscribe', 'hard_bounce', 'complaint', 'erasure')", name=op.f('ck_suppressions_reason_known')),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_suppressions'))
    )
    op.create_table('consents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('granted', 'withdrawn', 'denied')", name=op.f('ck_consents_state_known')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_consents_candidate_id_candidates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index('ix_consents_candidate_purpose_at', ['candidate_id', 'purpose', 'recorded_at'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cadence', sa.String(length=32), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_decisions_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_decisions_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_candidate', ['candidate_id', 'cadence', 'period_key'], unique=False)
        batch_op.create_index('ix_decisions_run_reason', ['run_id', 'reason'], unique=False)

    op.create_table('preferences',
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('privileged', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.CheckConstraint("frequency IN ('weekly', 'monthly', 'quarterly', 'none')", name=op.f('ck_preferences_frequency_known')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_preferences_candidate_id_candidates')),
    sa.PrimaryKeyConstraint('candidate_id', name=op.f('pk_preferences'))
    )
    op.create_table('sends',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cadence', sa.String(length=32), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('template', sa.String(length=200), nullable=True),
    sa.Column('template_version', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'in_doubt')", name=op.f('ck_sends_status_known')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_sends_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_sends_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sends')),
    sa.UniqueConstraint('candidate_id', 'cadence', 'period_key', name=op.f('uq_sends_candidate_id_cadence_period_key'))
    )
    with op.batch_alter_table('sends', schema=None) as batch_op:
        batch_op.create_index('ix_sends_cadence_period_status', ['cadence', 'period_key', 'status'], unique=False)
        batch_op.create_index('ix_sends_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_sends_run_status', ['run_id', 'status', 'candidate_id'], unique=False)

    op.create_table('interactions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('send_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('cadence', sa.String(length=32), nullable=True),
    sa.Column('period_key', sa.String(length=16), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('event_key', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_interactions_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['send_id'], ['sends.id'], name=op.f('fk_interactions_send_id_sends')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions')),
    sa.UniqueConstraint('event_key', name=op.f('uq_interactions_event_key'))
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_candidate_at', ['candidate_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_interactions_kind_at', ['kind', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_kind_at')
        batch_op.drop_index('ix_interactions_candidate_at')

    op.drop_table('interactions')
    with op.batch_alter_table('sends', schema=None) as batch_op:
        batch_op.drop_index('ix_sends_run_status')
        batch_op.drop_index('ix_sends_message_id')
        batch_op.drop_index('ix_sends_cadence_period_status')

    op.drop_table('sends')
    op.drop_table('preferences')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_run_reason')
        batch_op.drop_index('ix_decisions_candidate')

    op.drop_table('decisions')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index('ix_consents_candidate_purpose_at')

    op.drop_table('consents')
    op.drop_table('suppressions')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_cadence_period')

    op.drop_table('runs')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_published_at')

    op.drop_table('jobs')
    with op.batch_alter_table('content', schema=None) as batch_op:
        batch_op.drop_index('ix_content_published_at')

    op.drop_table('content')
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_candidates_status_id')
        batch_op.drop_index('ix_candidates_email_lower')

    op.drop_table('candidates')
