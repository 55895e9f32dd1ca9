"""Urgency and priority: incidents.urgency (low|medium|high, `medium` for every existing incident)
and incidents.priority (P1..P4) derived from severity and urgency, with its list index.

Existing incidents get urgency `medium`, so their priority is the matrix's medium column
(app.incidents.priority): critical P1, high P2, medium P3, low P4. One set-based UPDATE, so a
million incidents take seconds, not a row at a time.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The matrix's `medium` column over the stored severity rank (1 low .. 4 critical), written out:
# a migration never imports the app (tests/test_migration_0007.py checks it against the matrix).
PRIORITY_AT_MEDIUM_URGENCY = "CASE severity WHEN 4 THEN 'P1' WHEN 3 THEN 'P2' WHEN 2 THEN 'P3' ELSE 'P4' END"


def upgrade():
    # Plain ALTER TABLE ADD COLUMN and CREATE INDEX: no rebuild of `incidents`, which on SQLite
    # would have to drop the table every event and outbox message points at.
    op.add_column('incidents', sa.Column('urgency', sa.String(length=20), nullable=False,
                                         server_default='medium'))
    # SQLite adds a NOT NULL column only with a default; every row is set below, and the service
    # writes the priority of every new incident itself.
    op.add_column('incidents', sa.Column('priority', sa.String(length=20), nullable=False, server_default='P4'))
    op.execute(f"UPDATE incidents SET priority = {PRIORITY_AT_MEDIUM_URGENCY}")
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('incidents', 'priority', server_default=None)
    op.create_index('ix_incidents_priority_created', 'incidents', ['priority', 'created_at', 'id'], unique=False)
    op.create_index('ix_incidents_urgency_created', 'incidents', ['urgency', 'created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_incidents_urgency_created', table_name='incidents')
    op.drop_index('ix_incidents_priority_created', table_name='incidents')
    op.drop_column('incidents', 'priority')
    op.drop_column('incidents', 'urgency')
