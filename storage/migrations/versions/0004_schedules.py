"""schedules, their fires (exactly once per tick) and watched folders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 12:15:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('schedules',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('graph_id', sa.String(length=32), nullable=False),
    sa.Column('graph_version_id', sa.String(length=32), nullable=True),
    sa.Column('inputs', JsonType, nullable=False),
    sa.Column('cron', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('misfire', sa.String(length=16), nullable=False),
    sa.Column('watch_dir', sa.String(length=1000), nullable=True),
    sa.Column('watch_input', sa.String(length=64), nullable=True),
    sa.Column('watch_state', JsonType, nullable=False),
    sa.Column('checked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_id', sa.String(length=32), nullable=True),
    sa.Column('last_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['graph_id'], ['graphs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['graph_version_id'], ['graph_versions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_schedules_graph_id'), 'schedules', ['graph_id'], unique=False)
    op.create_index(op.f('ix_schedules_owner_id'), 'schedules', ['owner_id'], unique=False)
    op.create_table('schedule_fires',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('schedule_id', sa.String(length=32), nullable=False),
    sa.Column('fire_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'fire_at', 'key', name='uq_schedule_fires_tick')
    )
    op.create_index('ix_schedule_fires_schedule_created', 'schedule_fires', ['schedule_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_schedule_fires_schedule_created', table_name='schedule_fires')
    op.drop_table('schedule_fires')
    op.drop_index(op.f('ix_schedules_owner_id'), table_name='schedules')
    op.drop_index(op.f('ix_schedules_graph_id'), table_name='schedules')
    op.drop_table('schedules')
