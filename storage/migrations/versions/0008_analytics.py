"""analytics: minutes of manual work a graph's run saves

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 15:25:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('graph_time_saved',
    sa.Column('graph_id', sa.String(length=32), nullable=False),
    sa.Column('minutes_per_run', sa.Double(), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['graph_id'], ['graphs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('graph_id')
    )


def downgrade() -> None:
    op.drop_table('graph_time_saved')
