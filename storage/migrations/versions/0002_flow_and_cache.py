"""for-each items, node result cache, run options

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('node_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('node_type', sa.String(length=100), nullable=False),
    sa.Column('outputs', JsonType, nullable=True),
    sa.Column('outputs_artifact', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_node_cache_used_at'), 'node_cache', ['used_at'], unique=False)
    with op.batch_alter_table('node_runs') as batch:
        batch.add_column(sa.Column('item', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('loop', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('cache_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reused', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('items_started', sa.Integer(), nullable=True))
        batch.create_index('ix_node_runs_loop_item', ['run_id', 'loop', 'item'], unique=False)
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('options', JsonType, nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('options')
    with op.batch_alter_table('node_runs') as batch:
        batch.drop_index('ix_node_runs_loop_item')
        batch.drop_column('items_started')
        batch.drop_column('reused')
        batch.drop_column('cache_key')
        batch.drop_column('loop')
        batch.drop_column('item')
    op.drop_index(op.f('ix_node_cache_used_at'), table_name='node_cache')
    op.drop_table('node_cache')
