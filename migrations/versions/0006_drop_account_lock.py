"""The account lock goes (users.failed_logins, users.locked_until): failed sign-ins are throttled
per (username, client address) in login_throttles instead, so no one can lock anyone else out.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): no rebuild of `users`, which on SQLite would
    # have to drop the table every incident and event points at.
    op.drop_column('users', 'locked_until')
    op.drop_column('users', 'failed_logins')


def downgrade():
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('users', sa.Column('locked_until', sa.DateTime(), nullable=True))
