"""Accounts: usernames unique case-insensitively (users.username_key), sign-in throttling per
(username, client address), two-factor sign-in (TOTP columns, recovery codes).

Existing usernames that collide once case-folded keep working: the oldest account keeps the
plain key, each later one gets `<key>~<id>` (still unique) and is reported in the log.

Revision ID: 0005
Revises: 0004
"""
import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _key(username: str) -> str:
    # The same rule as app.auth.usernames.username_key, written out: a migration never imports the app.
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade():
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('blocked_until', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index('ix_login_throttles_updated_at', ['updated_at'], unique=False)
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_codes_user_id', ['user_id'], unique=False)
    # Plain ALTER TABLE ADD/DROP COLUMN and CREATE INDEX: no rebuild of `users`, which on SQLite
    # would have to drop the table every incident and event points at.
    op.add_column('users', sa.Column('username_key', sa.String(length=80), nullable=False, server_default=''))
    op.add_column('users', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
    op.add_column('users', sa.Column('totp_last_step', sa.Integer(), nullable=True))

    connection = op.get_bind()
    seen: set[str] = set()
    for user_id, username in connection.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all():
        key = _key(username)
        if key in seen:
            log.warning("username %r (id %s) collides with an older account once case-folded; "
                        "it signs in by id-suffixed key %s~%s until an admin resolves it", username, user_id, key,
                        user_id)
            key = f"{key}~{user_id}"
        seen.add(key)
        connection.execute(sa.text("UPDATE users SET username_key = :key WHERE id = :id"), {"key": key, "id": user_id})

    op.create_index('ix_users_username_key', 'users', ['username_key'], unique=True)


def downgrade():
    op.drop_index('ix_users_username_key', table_name='users')
    for column in ('totp_last_step', 'totp_enabled_at', 'totp_secret', 'username_key'):
        op.drop_column('users', column)
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_codes_user_id')
    op.drop_table('recovery_codes')
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index('ix_login_throttles_updated_at')
    op.drop_table('login_throttles')
