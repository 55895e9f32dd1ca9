"""Collaboration: watchers, internal notes, notification switches, attachments.

- incident_watchers: who hears about an incident. Every incident's reporter, and its technician
  when it has one, are added here, as the service adds them from now on.
- users: notify_comments / notify_status / notify_sla, all on.
- incident_events.internal: staff-only notes (none yet, so all false).
- attachments: files attached to incidents (the bytes live under instance/attachments/).

Downgrading deletes the internal notes: the code of 0008 would show them to reporters.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN with a default: no rebuild of `users` or `incident_events`.
    for column in ('notify_comments', 'notify_status', 'notify_sla'):
        op.add_column('users', sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('incident_events', sa.Column('internal', sa.Boolean(), nullable=False,
                                               server_default=sa.false()))
    op.create_table(
        'incident_watchers',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('incident_id', 'user_id'),
    )
    op.create_index('ix_incident_watchers_user', 'incident_watchers', ['user_id', 'incident_id'])
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.ForeignKeyConstraint(['event_id'], ['incident_events.id']),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_attachments_incident', 'attachments', ['incident_id', 'id'])
    op.create_index('ix_attachments_sha256', 'attachments', ['sha256'])
    # The watchers the service would have added: each reporter, each current technician.
    op.execute("INSERT INTO incident_watchers (incident_id, user_id, created_at) "
               "SELECT id, reporter_id, created_at FROM incidents")
    op.execute("INSERT INTO incident_watchers (incident_id, user_id, created_at) "
               "SELECT id, technician_id, COALESCE(assigned_at, created_at) FROM incidents "
               "WHERE technician_id IS NOT NULL AND technician_id <> reporter_id")


def downgrade():
    op.drop_index('ix_attachments_sha256', table_name='attachments')
    op.drop_index('ix_attachments_incident', table_name='attachments')
    op.drop_table('attachments')
    op.drop_index('ix_incident_watchers_user', table_name='incident_watchers')
    op.drop_table('incident_watchers')
    op.execute("DELETE FROM incident_events WHERE internal = " + ("true" if _postgres() else "1"))
    op.drop_column('incident_events', 'internal')
    for column in ('notify_comments', 'notify_status', 'notify_sla'):
        op.drop_column('users', column)


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'
