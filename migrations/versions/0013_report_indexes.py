"""The computed path: the reports read indexes, not the incidents table.

Three indexes of incidents carry the columns the reports aggregate (app.incidents.reports), so a
summary, the daily report and the dashboard's service levels read index entries only:

- ix_incidents_created_at (created_at, id) + responded_at, response_due_at: the created
  incidents' response figures;
- ix_incidents_resolved_at (resolved_at) + created_at, resolve_spent_seconds,
  resolve_target_minutes: the resolved incidents' figures, and the backlog's part resolved later
  (with resolved_at alone, SQLite walked the whole table along another index for it: a second a
  summary at 1,000,000 incidents);
- ix_incidents_status_created (status, created_at, id) + severity, priority, category,
  technician_id: the open part of the backlog, in every grouping.

The lists keep their walks: each index starts with the same columns. On SQLite the table's
statistics are refreshed (a sampled ANALYZE of incidents) when the database has any, so the
planner weighs the new indexes as after `flask seed --bulk`.

Downgrading restores 0012's three indexes.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
from sqlalchemy import text

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

WIDER = {
    'ix_incidents_created_at': ['created_at', 'id', 'responded_at', 'response_due_at'],
    'ix_incidents_resolved_at': ['resolved_at', 'created_at', 'resolve_spent_seconds', 'resolve_target_minutes'],
    'ix_incidents_status_created': ['status', 'created_at', 'id', 'severity', 'priority', 'category',
                                    'technician_id'],
}
NARROWER = {
    'ix_incidents_created_at': ['created_at', 'id'],
    'ix_incidents_resolved_at': ['resolved_at'],
    'ix_incidents_status_created': ['status', 'created_at', 'id'],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    for name, columns in indexes.items():
        op.drop_index(name, table_name='incidents')
        op.create_index(name, 'incidents', columns)
    bind = op.get_bind()
    analyzed = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
    if bind.dialect.name == 'sqlite' and bind.execute(text(analyzed)).scalar():
        op.execute('PRAGMA analysis_limit = 1000')  # sampled, as `flask seed --bulk`: seconds at 1M
        op.execute('ANALYZE incidents')


def upgrade():
    _replace(WIDER)


def downgrade():
    _replace(NARROWER)
