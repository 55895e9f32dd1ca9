"""The queue: saved list views.

- saved_views: a user's named filters and sort for the incident list (app.incidents.saved_views),
  private to its owner unless an admin shares it with everyone.

Downgrading drops the table (the saved views are lost).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saved_views',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('sort', sa.String(length=30), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ux_saved_views_owner_name', 'saved_views', ['owner_id', 'name'], unique=True)
    op.create_index('ix_saved_views_shared', 'saved_views', ['shared', 'name'])


def downgrade():
    op.drop_index('ix_saved_views_shared', table_name='saved_views')
    op.drop_index('ux_saved_views_owner_name', table_name='saved_views')
    op.drop_table('saved_views')
