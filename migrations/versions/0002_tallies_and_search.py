"""Incident tallies (exact counts without scans) and the full-text search index.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE incidents_fts USING fts5(title, description, content='incidents', content_rowid='id')",
    """CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN
         INSERT INTO incidents_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
    """CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN
         INSERT INTO incidents_fts(incidents_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
       END""",
    """CREATE TRIGGER incidents_fts_update AFTER UPDATE OF title, description ON incidents BEGIN
         INSERT INTO incidents_fts(incidents_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
         INSERT INTO incidents_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
    "INSERT INTO incidents_fts(incidents_fts) VALUES ('rebuild')",
]
POSTGRES_SEARCH = (
    "CREATE INDEX ix_incidents_search ON incidents USING gin "
    "(to_tsvector('simple', regexp_replace(title || ' ' || description, '[^[:alnum:]]+', ' ', 'g')))"
)
FILL_TALLIES = """
INSERT INTO incident_tallies (scope, status, severity, category, n)
SELECT 'all', status, severity, category, count(*) FROM incidents GROUP BY status, severity, category
UNION ALL
SELECT 'tech:' || CAST(COALESCE(technician_id, 0) AS VARCHAR), status, severity, category, count(*)
FROM incidents GROUP BY COALESCE(technician_id, 0), status, severity, category
UNION ALL
SELECT 'reporter:' || CAST(reporter_id AS VARCHAR), status, severity, category, count(*)
FROM incidents GROUP BY reporter_id, status, severity, category
"""


def upgrade():
    op.create_table('incident_tallies',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('open', 'assigned', 'in_progress', 'resolved', 'closed', name='status', native_enum=False, length=20), nullable=False),
    sa.Column('severity', sa.SmallInteger(), nullable=False),
    sa.Column('category', sa.Enum('network', 'server', 'application', 'database', 'security', 'other', name='category', native_enum=False, length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'status', 'severity', 'category')
    )
    op.execute(FILL_TALLIES)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_SEARCH)
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_incidents_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER incidents_fts_{trigger}")
        op.execute("DROP TABLE incidents_fts")
    op.drop_table('incident_tallies')
