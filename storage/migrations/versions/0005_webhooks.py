"""webhooks, their deliveries, inbound hooks and notifications

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('webhooks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('graph_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', JsonType, nullable=False),
    sa.Column('secret_name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['graph_id'], ['graphs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_webhooks_graph_id'), 'webhooks', ['graph_id'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('webhook_id', sa.String(length=32), nullable=True),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=2000), nullable=False),
    sa.Column('payload', JsonType, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deliveries_state_next', 'deliveries', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_deliveries_run_id'), 'deliveries', ['run_id'], unique=False)
    op.create_index(op.f('ix_deliveries_webhook_id'), 'deliveries', ['webhook_id'], unique=False)
    op.create_table('inbound_hooks',
    sa.Column('graph_id', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('secret_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['graph_id'], ['graphs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('graph_id'),
    sa.UniqueConstraint('token')
    )
    op.create_table('seen_signatures',
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signature')
    )
    op.create_index(op.f('ix_seen_signatures_seen_at'), 'seen_signatures', ['seen_at'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('graph_name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notifications_owner_created', 'notifications', ['owner_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_notifications_run_id'), 'notifications', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifications_run_id'), table_name='notifications')
    op.drop_index('ix_notifications_owner_created', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_seen_signatures_seen_at'), table_name='seen_signatures')
    op.drop_table('seen_signatures')
    op.drop_table('inbound_hooks')
    op.drop_index(op.f('ix_deliveries_webhook_id'), table_name='deliveries')
    op.drop_index(op.f('ix_deliveries_run_id'), table_name='deliveries')
    op.drop_index('ix_deliveries_state_next', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_webhooks_graph_id'), table_name='webhooks')
    op.drop_table('webhooks')
